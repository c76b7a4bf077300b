//! The lifecycle every ARM resource shares, written once: [`ArmResource`] says where a kind
//! lives, what its PUT body is and what outputs its body gives; [`Arm`] turns that into the
//! core's [`ResourceOps`]:
//!
//! - `observe`: one GET; absent on 404; the owner judged from the resource's tags;
//! - `create`: a GET (a resource of ours is adopted, a foreign one refused with
//!   [`ErrorKind::ForeignResource`]) then the one PUT, its long-running operation tracked
//!   and recorded in the outputs;
//! - `ready` / `gone`: one step of the LRO engine per check ([`LroTracker::poll`]), the
//!   engine's poller doing the waiting with ARM's `Retry-After`;
//! - `update`: the same PUT (ARM's create-or-update), where ARM allows it;
//! - `delete`: the one DELETE; already gone is success.

use async_trait::async_trait;
use azure_core::http::{Method, Url};
use multicloud_core::observation::{Drift, JsonCompare, json_drift};
use multicloud_core::provider::{
    Observation, Observed, OpContext, Outputs, Owner, Readiness, ResourceOps,
};
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::Value;

use crate::arm::lro::{self, LroHandle, LroMethod, Started};
use crate::context::AzureContext;
use crate::error::{Op, classify};

/// One kind of ARM resource.
#[async_trait]
pub trait ArmResource: Send + Sync {
    /// `Microsoft.X/type`, for messages.
    fn provider_type(&self) -> &'static str;
    /// The pinned api-version of its provider.
    fn api_version(&self) -> &'static str;
    /// Its ARM id (the URL path), from the config and the dependencies' outputs.
    fn path(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<String, ProviderError>;
    /// The PUT body, tags included.
    async fn body(&self, az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError>;
    /// The outputs its (GET or final PUT) body gives.
    fn outputs(&self, ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError>;
    /// Outputs only a further read gives (the cluster's CA from its kubeconfig), added once
    /// the resource is ready (default: none).
    async fn finish(
        &self,
        _az: &AzureContext,
        _ctx: &OpContext<'_>,
        _outputs: &Outputs,
    ) -> Result<Outputs, ProviderError> {
        Ok(Outputs::new())
    }
    /// Whether ARM updates it in place with another PUT (default); otherwise a changed
    /// config replaces it.
    fn updatable(&self) -> bool {
        true
    }
    /// Who owns it, from its body (default: its tags).
    fn owner(&self, ctx: &OpContext<'_>, body: &Value) -> Owner {
        owner_by_tags(ctx, body)
    }
    /// Settings of its PUT body (JSON pointers, `/properties/adminUserEnabled`) that must
    /// hold on the live resource: one changed out of band is the observation's drift, field
    /// by field, and the next `up` puts the body back (default: none). Only settings the
    /// stack decides (its sizes, versions, ranges, and what matters for security or for the
    /// stack's wiring), not ones a policy or the service would own, are listed.
    fn drift_checked(&self) -> &'static [&'static str] {
        &[]
    }
    /// The body the [`drift_checked`](ArmResource::drift_checked) settings are read from
    /// (default: the PUT [`body`](ArmResource::body); a kind whose body carries a secret read
    /// from the cloud gives it without).
    async fn drift_body(
        &self,
        az: &AzureContext,
        ctx: &OpContext<'_>,
    ) -> Result<Value, ProviderError> {
        self.body(az, ctx).await
    }
}

/// Declares a kind's [`ArmResource`] type `$name` (a unit struct) of ARM type `$type` at
/// api-version `$version`, with the kind's own methods (`body`, `outputs`…); with
/// `named in the group of $cfg`, its ARM id is the resource's name in the resource group
/// of its config `$cfg`, else the methods give its `path` too.
macro_rules! arm_kind {
    (
        $(#[$doc:meta])*
        $name:ident: $type:expr, $version:expr $(, named in the group of $cfg:ty)?;
        $($methods:tt)*
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        #[async_trait::async_trait]
        impl crate::arm_ops::ArmResource for $name {
            fn provider_type(&self) -> &'static str {
                $type
            }
            fn api_version(&self) -> &'static str {
                $version
            }
            $(
                fn path(
                    &self,
                    az: &crate::context::AzureContext,
                    ctx: &multicloud_core::provider::OpContext<'_>,
                ) -> Result<String, multicloud_core::ProviderError> {
                    let c: $cfg = ctx.config()?;
                    Ok(az.resource_path(&c.resource_group, $type, &ctx.resource.name))
                }
            )?
            $($methods)*
        }
    };
}
pub(crate) use arm_kind;

/// How the `live` body differs from the `checked` settings of the `desired` one, field by
/// field ([`json_drift`]): what the desired body sets must hold (named array items, such as a
/// vnet's subnets, matched by name); strings compare case-insensitively (ARM normalizes the
/// casing of enum values and ids); a setting the service does not return is not drift.
pub fn drift(checked: &[&str], desired: &Value, live: &Value) -> Option<Drift> {
    json_drift(checked, desired, live, JsonCompare { ignore_case: true })
}

/// The owner of `body` judged from its `tags`.
pub fn owner_by_tags(ctx: &OpContext<'_>, body: &Value) -> Owner {
    let tags = body.get("tags").and_then(Value::as_object);
    ctx.stack.ownership.judge(
        tags.into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v))),
    )
}

/// The resource's tags as an ARM `tags` object.
pub fn tags(ctx: &OpContext<'_>) -> Value {
    serde_json::to_value(&ctx.resource.tags).unwrap_or(Value::Null)
}

/// A string at `pointer` (`/properties/vaultUri`) of `body`, or an error naming it.
pub fn field<'a>(body: &'a Value, pointer: &str, what: &str) -> Result<&'a str, ProviderError> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Other,
                format!("{what}: the response has no `{pointer}`"),
            )
        })
}

/// An [`ArmResource`] as the core's [`ResourceOps`].
pub struct Arm<R> {
    az: std::sync::Arc<AzureContext>,
    kind: R,
}

impl<R> std::fmt::Debug for Arm<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arm").finish_non_exhaustive()
    }
}

impl<R: ArmResource> Arm<R> {
    /// `kind` on the shared context.
    pub fn new(az: std::sync::Arc<AzureContext>, kind: R) -> Self {
        Self { az, kind }
    }

    /// The shared context.
    pub fn context(&self) -> &std::sync::Arc<AzureContext> {
        &self.az
    }

    fn url(&self, ctx: &OpContext<'_>) -> Result<Url, ProviderError> {
        let path = self.kind.path(&self.az, ctx)?;
        self.az
            .arm
            .url(&path, self.kind.api_version())
            .map_err(|e| classify(e, Op::Read, self.kind.provider_type()))
    }

    /// The delete URL: the recorded id when there is one (it outlives the dependencies).
    fn delete_url(&self, ctx: &OpContext<'_>) -> Result<Url, ProviderError> {
        match ctx.recorded_str("id").filter(|id| id.starts_with('/')) {
            Some(id) => self
                .az
                .arm
                .url(id, self.kind.api_version())
                .map_err(|e| classify(e, Op::Delete, self.kind.provider_type())),
            None => self.url(ctx),
        }
    }

    fn what(&self, verb: &str, ctx: &OpContext<'_>) -> String {
        format!("{verb} {} {}", self.kind.provider_type(), ctx.resource.name)
    }

    async fn get(&self, url: &Url, ctx: &OpContext<'_>) -> Result<Option<Value>, ProviderError> {
        let response = self
            .az
            .arm
            .send(Method::Get, url.clone(), None)
            .await
            .map_err(|e| classify(e, Op::Read, &self.what("GET", ctx)))?;
        if response.status == 404 {
            return Ok(None);
        }
        let response = response
            .error_for_status()
            .map_err(|e| classify(e, Op::Read, &self.what("GET", ctx)))?;
        Ok(Some(response.json_value().unwrap_or(Value::Null)))
    }

    /// Outputs of `body`, or just its id while it is still being created.
    fn outputs_or_id(&self, ctx: &OpContext<'_>, body: &Value) -> Outputs {
        self.kind.outputs(ctx, body).unwrap_or_else(|_| {
            let mut o = Outputs::new();
            if let Some(id) = body.get("id") {
                o.as_map_mut().insert("id".into(), id.clone());
            }
            o
        })
    }

    async fn put(&self, ctx: &OpContext<'_>, op: Op) -> Result<Outputs, ProviderError> {
        let url = self.url(ctx)?;
        let body = self.kind.body(&self.az, ctx).await?;
        let started = lro::start(&self.az.arm, LroMethod::Put, url.clone(), Some(&body))
            .await
            .map_err(|e| classify(e, op, &self.what("PUT", ctx)))?;
        let handle = self.az.tracker.track(url.as_str(), &started);
        let mut outputs = match &started {
            Started::Done(Some(b)) => self.outputs_or_id(ctx, b),
            _ => Outputs::new(),
        };
        if let Some(h) = handle {
            h.record_in(&mut outputs);
        }
        Ok(outputs)
    }
}

#[async_trait]
impl<R: ArmResource> ResourceOps for Arm<R> {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let url = self.url(ctx)?;
        let Some(body) = self.get(&url, ctx).await? else {
            return Ok(Observation::Absent);
        };
        let owner = self.kind.owner(ctx, &body);
        let checked = self.kind.drift_checked();
        let drift = if checked.is_empty() || owner != Owner::Us || ctx.resource.read_only {
            None
        } else {
            drift(checked, &self.kind.drift_body(&self.az, ctx).await?, &body)
        };
        Ok(Observation::Present(Observed {
            provider_id: body.get("id").and_then(Value::as_str).map(str::to_string),
            owner,
            outputs: self.outputs_or_id(ctx, &body),
            drift,
            expires_at: None,
            unhealthy: failed(&body),
        }))
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let url = self.url(ctx)?;
        if let Some(body) = self.get(&url, ctx).await? {
            return match self.kind.owner(ctx, &body) {
                // A resource of ours whose provisioning failed is put again (ARM's way to
                // retry it), never adopted as it is.
                Owner::Us if failed(&body).is_some() => self.put(ctx, Op::Create).await,
                Owner::Us => Ok(self.outputs_or_id(ctx, &body)),
                owner => Err(foreign(ctx, &owner)),
            };
        }
        self.put(ctx, Op::Create).await
    }

    fn supports_update(&self) -> bool {
        self.kind.updatable()
    }

    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.put(ctx, Op::Update).await
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let url = self.url(ctx)?;
        let fallback = ctx
            .recorded
            .and_then(LroHandle::from_outputs)
            .unwrap_or_else(|| LroHandle::resource(LroMethod::Put, url.as_str()));
        let step = self
            .az
            .tracker
            .poll(&self.az.arm, url.as_str(), fallback)
            .await
            .map_err(|e| classify(e, Op::Read, &self.what("PUT", ctx)))?;
        let readiness = step.into_readiness(|body| {
            let mut outputs = LroHandle::cleared();
            if let Some(b) = body.filter(|b| b.get("id").is_some()) {
                outputs.merge(self.kind.outputs(ctx, &b)?);
            }
            Ok(outputs)
        })?;
        match readiness {
            Readiness::Ready(mut outputs) => {
                let mut all = ctx.recorded.cloned().unwrap_or_default();
                all.merge(outputs.clone());
                outputs.merge(self.kind.finish(&self.az, ctx, &all).await?);
                Ok(Readiness::Ready(outputs))
            }
            pending => Ok(pending),
        }
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let url = self.delete_url(ctx)?;
        match lro::start(&self.az.arm, LroMethod::Delete, url.clone(), None).await {
            Ok(started) => {
                self.az.tracker.track(url.as_str(), &started);
                Ok(())
            }
            Err(e) if e.kind(Op::Delete) == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(classify(e, Op::Delete, &self.what("DELETE", ctx))),
        }
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let url = self.delete_url(ctx)?;
        let fallback = LroHandle::resource(LroMethod::Delete, url.as_str());
        match self
            .az
            .tracker
            .poll(&self.az.arm, url.as_str(), fallback)
            .await
        {
            Ok(step) => step.into_readiness(|_| Ok(Outputs::new())),
            Err(e) if e.kind(Op::Read) == ErrorKind::NotFound => Ok(Readiness::ready()),
            Err(e) => Err(classify(e, Op::Delete, &self.what("DELETE", ctx))),
        }
    }
}

/// `provisioningState Failed` when the resource's last provisioning failed (ARM keeps the
/// resource; a PUT of the desired body retries it).
pub fn failed(body: &Value) -> Option<String> {
    let state = body.pointer("/properties/provisioningState")?.as_str()?;
    state
        .eq_ignore_ascii_case("failed")
        .then(|| format!("provisioningState {state}"))
}

/// The error for a resource under our name that is not ours.
pub fn foreign(ctx: &OpContext<'_>, owner: &Owner) -> ProviderError {
    let whose = match owner {
        Owner::OtherStack { stack, environment } => format!("stack {stack}/{environment}"),
        _ => "no multicloud stack (no ownership tags)".to_string(),
    };
    ProviderError::new(
        ErrorKind::ForeignResource,
        format!(
            "{} `{}` exists and belongs to {whose}; refusing to take it over",
            ctx.resource.kind, ctx.resource.name
        ),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::drift;

    #[test]
    fn only_a_checked_setting_that_changed_is_drift() {
        let checked = [
            "/properties/adminUserEnabled",
            "/properties/publicNetworkAccess",
        ];
        let desired =
            json!({"properties": {"adminUserEnabled": false, "publicNetworkAccess": "Enabled"}});
        let same = json!({"properties": {"adminUserEnabled": false, "publicNetworkAccess": "enabled", "loginServer": "x"}});
        assert_eq!(
            drift(&checked, &desired, &same),
            None,
            "enum casing is not drift"
        );
        let changed =
            json!({"properties": {"adminUserEnabled": true, "publicNetworkAccess": "Enabled"}});
        assert_eq!(
            drift(&checked, &desired, &changed).map(|d| d.to_string()),
            Some("properties.adminUserEnabled: false -> true".to_string())
        );
        let unreported = json!({"properties": {}});
        assert_eq!(
            drift(&checked, &desired, &unreported),
            None,
            "not returned is not drift"
        );
        assert_eq!(drift(&[], &desired, &changed), None, "nothing checked");
    }
}
