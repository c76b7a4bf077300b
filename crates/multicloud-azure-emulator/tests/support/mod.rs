//! What the emulator tests share: a raw ARM caller through the emulator transport (real
//! `https://management.azure.com` URLs, a bearer token for ARM's audience) or any
//! `HttpClient` (the binary's tests), the answer as the tests judge it, and an emulator
//! with a vault (also used, through `#[path]`, by multicloud-azure's Key Vault tests).

#![allow(dead_code)]

/// The example files (loaded once, here, for every test that uses `support`).
#[path = "../examples/mod.rs"]
pub mod examples;

use std::sync::Arc;

use azure_core::http::{HttpClient, Method, Request, Url};
use multicloud_azure_emulator::{ARM_ENDPOINT, ARM_SCOPE, Emulator, EmulatorConfig};
use serde_json::{Value, json};

/// An answer of the emulator, whatever its status.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// `x-ms-error-code`, if any.
    pub error_code: Option<String>,
    /// `Location`, if any.
    pub location: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`None` when empty or not JSON).
    pub fn json_value(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
    /// The body as JSON, `Null` otherwise.
    pub fn json(&self) -> Value {
        self.json_value().unwrap_or_default()
    }
}

/// Sends `method url` with an ARM bearer token (if `token`) and a JSON `body` through
/// `client`; panics only on a transport error.
pub async fn send(
    client: &dyn HttpClient,
    method: Method,
    url: &str,
    body: Option<&Value>,
    token: bool,
) -> Answer {
    let url = Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut request = Request::new(url, method);
    if token {
        request.insert_header("authorization", format!("Bearer fake:{ARM_SCOPE}"));
    }
    if let Some(b) = body {
        request.insert_header("content-type", "application/json");
        request.set_body(b.to_string());
    }
    let response = client
        .execute_request(&request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = u16::from(response.status());
    let header = |name: &'static str| response.headers().get_optional_string(&name.into());
    let (error_code, location) = (header("x-ms-error-code"), header("location"));
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .to_vec();
    Answer {
        status,
        error_code,
        location,
        body,
    }
}

/// The ARM side of an emulator, through its transport.
pub struct Arm {
    transport: Arc<dyn HttpClient>,
    /// `/subscriptions/<the emulator's subscription>`.
    pub sub: String,
}

impl Arm {
    /// A caller of `emu`.
    pub fn new(emu: &Emulator) -> Self {
        Self {
            transport: emu.transport(),
            sub: format!("/subscriptions/{}", emu.subscription()),
        }
    }

    /// Sends `method` to `path` (which may carry a query) at `version`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        version: &str,
        body: Option<Value>,
    ) -> Answer {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{ARM_ENDPOINT}{path}{sep}api-version={version}");
        send(self.transport.as_ref(), method, &url, body.as_ref(), true).await
    }

    /// `GET` of an absolute URL (a `nextLink`) as given.
    pub async fn get_url(&self, url: &str) -> Answer {
        send(self.transport.as_ref(), Method::Get, url, None, true).await
    }
}

/// Sends one request through `arm` exactly as given and returns the answer whatever its
/// status: the emulator tests judge it.
pub async fn call(
    arm: &Arm,
    method: Method,
    path: &str,
    version: &str,
    body: Option<Value>,
) -> Answer {
    arm.call(method, path, version, body).await
}

/// An emulator with resource group `rg` and vault `name` in it (created with the body of
/// `createVault.json`), a caller and the vault's id.
pub async fn with_vault(name: &str) -> (Emulator, Arm, String) {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let arm = Arm::new(&emu);
    let sub = &arm.sub;
    let rg = json!({"location": "westus"});
    let made = call(
        &arm,
        Method::Put,
        &format!("{sub}/resourcegroups/rg"),
        "2025-04-01",
        Some(rg),
    )
    .await;
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    let vault = format!("{sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/{name}");
    let create = examples::example("Microsoft.KeyVault/2026-02-01/createVault.json");
    let body = Some(create["parameters"]["parameters"].clone());
    let r = call(&arm, Method::Put, &vault, "2026-02-01", body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    (emu, arm, vault)
}
