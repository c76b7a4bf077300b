//! The transport that keeps the real URLs (`https://management.azure.com/...`,
//! `https://<vault>.vault.azure.net/...`) and sends every request to the emulator at
//! `http://127.0.0.1:PORT` instead, the original host in [`HOST_HEADER`]. The official
//! bearer-token policy and Key Vault's challenge check see the real https URL and run
//! unchanged (shape 1 of `shared/AZURE-SDK-NOTES.md`).

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::http::{AsyncRawResponse, HttpClient, Request};

/// The header carrying the original host to the emulator.
pub const HOST_HEADER: &str = "x-emulator-host";

/// An [`HttpClient`] that redirects every request to the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorTransport {
    port: u16,
    inner: Arc<dyn HttpClient>,
}

impl EmulatorTransport {
    /// Sends to `http://127.0.0.1:<port>` through azure_core's default (reqwest) client.
    pub fn new(port: u16) -> Self {
        Self {
            port,
            inner: azure_core::http::new_http_client(None),
        }
    }
}

#[async_trait]
impl HttpClient for EmulatorTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let mut local = request.clone();
        let host = request.url().host_str().unwrap_or_default().to_string();
        let url = local.url_mut();
        let moved = url
            .set_scheme("http")
            .and_then(|()| url.set_host(Some("127.0.0.1")).map_err(|_| ()))
            .and_then(|()| url.set_port(Some(self.port)));
        if moved.is_err() {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Other,
                format!("cannot redirect {} to the emulator", request.url()),
            ));
        }
        local.insert_header(HOST_HEADER, host);
        self.inner.execute_request(&local).await
    }
}
