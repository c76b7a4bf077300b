//! What the emulator tests share: a raw ARM caller through the emulator transport (real
//! `https://management.azure.com` URLs, a bearer token for ARM's audience) or any
//! `HttpClient` (the binary's tests), and the answer as the tests judge it.

#![allow(dead_code)]

use std::sync::Arc;

use azure_core::http::{HttpClient, Method, Request, Url};
use multicloud_azure_emulator::{ARM_ENDPOINT, ARM_SCOPE, Emulator};
use serde_json::Value;

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
