//! Our own serde models of the ARM shapes the engine and every resource share (the
//! `azure_mgmt_*` crates are not used). Each resource module adds its own `properties`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// ARM's error body: `{"error": {"code", "message", "details"}}` (the `error` of an
/// operation resource has the same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorDetail,
}

/// One ARM error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The error code (`InvalidParameter`).
    pub code: String,
    /// The message.
    #[serde(default)]
    pub message: String,
    /// Inner errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

/// The operation status resource returned by an `Azure-AsyncOperation` URL
/// (`v1.0/async-api-reference.md`): only `status` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatus {
    /// Operation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Operation name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `InProgress`, `Succeeded`, `Failed`, `Canceled` or a provider-specific value.
    pub status: String,
    /// RFC 3339 start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// RFC 3339 end time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_complete: Option<f64>,
    /// Present when `Failed` or `Canceled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// Whether an operation `status` or a `provisioningState` is terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminal {
    /// `Succeeded` (or no provisioningState at all).
    Succeeded,
    /// `Failed`.
    Failed,
    /// `Canceled` (also spelled `Cancelled` by a few services).
    Canceled,
}

impl Terminal {
    /// The terminal state `state` names, or `None` while running; case-insensitive.
    pub fn of(state: &str) -> Option<Self> {
        match state.to_ascii_lowercase().as_str() {
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "canceled" | "cancelled" => Some(Self::Canceled),
            _ => None,
        }
    }
}

/// Any ARM resource, with its properties left as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenericResource {
    /// Full ARM id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `Microsoft.X/type`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// The resource's properties.
    #[serde(default)]
    pub properties: Value,
}

impl GenericResource {
    /// `properties.provisioningState`, if present.
    pub fn provisioning_state(&self) -> Option<&str> {
        provisioning_state(&self.properties)
    }
}

/// `provisioningState` of a resource body or of its `properties`.
pub fn provisioning_state(v: &Value) -> Option<&str> {
    v.get("properties")
        .and_then(|p| p.get("provisioningState"))
        .or_else(|| v.get("provisioningState"))
        .and_then(Value::as_str)
}

/// A resource group (`Microsoft.Resources/2025-04-01/CreateResourceGroup.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceGroup {
    /// Full id (`/subscriptions/{sub}/resourceGroups/{name}`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Location.
    pub location: String,
    /// Tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<ResourceGroupProperties>,
}

/// Resource group properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupProperties {
    /// Provisioning state.
    pub provisioning_state: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_and_provisioning_state() {
        assert_eq!(Terminal::of("Succeeded"), Some(Terminal::Succeeded));
        assert_eq!(Terminal::of("failed"), Some(Terminal::Failed));
        assert_eq!(Terminal::of("Cancelled"), Some(Terminal::Canceled));
        assert_eq!(Terminal::of("InProgress"), None);
        assert_eq!(Terminal::of("Deleting"), None);
        let v = serde_json::json!({"properties": {"provisioningState": "Creating"}});
        assert_eq!(provisioning_state(&v), Some("Creating"));
        let status: OperationStatus = serde_json::from_value(serde_json::json!({
            "status": "Failed", "error": {"code": "InvalidParameter", "message": "m"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            status.error.map(|e| e.code),
            Some("InvalidParameter".to_string())
        );
    }
}
