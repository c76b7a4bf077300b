//! The ARM client: an `azure_core` 1.1 [`Pipeline`] with the official bearer-token policy for
//! the cloud's ARM scope, our own serde models ([`models`]), every api-version pinned in
//! [`api_versions`], and one long-running-operation engine ([`lro`]).
//!
//! ## One retry layer
//! The pipeline never retries ([`RetryOptions::none`]): every retry and wait goes through
//! multicloud-core's [`RetryPolicy`](multicloud_core::retry::RetryPolicy) and
//! [`Poller`](multicloud_core::retry::Poller). Errors come back as [`ArmError`]s, classified
//! for them by [`crate::error`] (429 and 5xx with their `Retry-After`, 409 conflicts).
//!
//! ```no_run
//! use multicloud_azure::arm::{ArmClient, api_versions};
//!
//! # async fn run() -> Result<(), multicloud_azure::error::ArmError> {
//! // Credentials from the AZURE_* environment variables (or `az login`).
//! let arm = ArmClient::builder().build()?;
//! let rg = arm
//!     .get("/subscriptions/0000/resourcegroups/shop-rg", api_versions::RESOURCES)
//!     .await?;
//! println!("{} ({} API calls)", rg.status, arm.calls().total());
//! # Ok(()) }
//! ```

pub mod api_versions;
pub mod calls;
pub mod cloud;
pub mod credentials;
pub mod lro;
pub mod models;

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::{HeaderName, Headers, RETRY_AFTER};
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    ClientOptions, Context, HttpClient, Method, Pipeline, PipelineSendOptions, Request,
    RetryOptions, Transport, Url,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use serde::de::DeserializeOwned;

pub use calls::{ApiCalls, CallCounter};
pub use cloud::AzureCloud;
pub use credentials::CredentialSource;

use crate::error::ArmError;

/// `Azure-AsyncOperation`.
pub const AZURE_ASYNC_OPERATION: HeaderName = HeaderName::from_static("azure-asyncoperation");
/// `Location`.
pub const LOCATION: HeaderName = HeaderName::from_static("location");
/// `x-ms-error-code`.
pub const X_MS_ERROR_CODE: HeaderName = HeaderName::from_static("x-ms-error-code");
/// `retry-after-ms`.
const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");
/// `x-ms-retry-after-ms`.
const X_MS_RETRY_AFTER_MS: HeaderName = HeaderName::from_static("x-ms-retry-after-ms");

/// One ARM response, read in full: the status, the headers the LRO engine and the error
/// classification need, and the body.
#[derive(Debug, Clone)]
pub struct ArmResponse {
    /// HTTP status.
    pub status: u16,
    /// `Azure-AsyncOperation`, verbatim.
    pub azure_async_operation: Option<String>,
    /// `Location`, verbatim.
    pub location: Option<String>,
    /// `Retry-After` (integer seconds) or `retry-after-ms`.
    pub retry_after: Option<Duration>,
    /// `x-ms-error-code`.
    pub error_code: Option<String>,
    /// The body (empty for 202/204 without one).
    pub body: Vec<u8>,
}

impl ArmResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ArmError> {
        serde_json::from_slice(&self.body).map_err(|e| ArmError::Decode {
            message: format!("HTTP {} body: {e}", self.status),
        })
    }

    /// The body as JSON, `None` when empty or not JSON.
    pub fn json_value(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// `Ok(self)` for a 2xx, else the [`ArmError::Service`] it carries.
    pub fn error_for_status(self) -> Result<Self, ArmError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(ArmError::from_response(
                self.status,
                &self.body,
                self.error_code.as_deref(),
                self.retry_after,
            ))
        }
    }
}

/// The server-suggested delay of `headers`: `retry-after-ms` / `x-ms-retry-after-ms`, else
/// `Retry-After` in integer seconds (ARM does not send HTTP dates).
pub fn retry_after(headers: &Headers) -> Option<Duration> {
    let num = |h: &HeaderName| {
        headers
            .get_optional_str(h)
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    num(&RETRY_AFTER_MS)
        .or_else(|| num(&X_MS_RETRY_AFTER_MS))
        .map(Duration::from_millis)
        .or_else(|| num(&RETRY_AFTER).map(Duration::from_secs))
}

/// Builds an [`ArmClient`].
#[derive(Debug, Default)]
pub struct ArmClientBuilder {
    cloud: Option<AzureCloud>,
    credential: Option<CredentialSource>,
    transport: Option<Arc<dyn HttpClient>>,
}

impl ArmClientBuilder {
    /// The cloud (default: Azure public).
    #[must_use]
    pub fn cloud(mut self, cloud: AzureCloud) -> Self {
        self.cloud = Some(cloud);
        self
    }
    /// Where tokens come from (default: [`CredentialSource::from_env`]).
    #[must_use]
    pub fn credential(mut self, source: CredentialSource) -> Self {
        self.credential = Some(source);
        self
    }
    /// A credential object built elsewhere.
    #[must_use]
    pub fn token_credential(self, credential: Arc<dyn TokenCredential>) -> Self {
        self.credential(CredentialSource::Custom(credential))
    }
    /// The HTTP transport (default: azure_core's reqwest client). The emulator's transport
    /// keeps the real URLs and sends them to a local server.
    #[must_use]
    pub fn transport(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.transport = Some(http);
        self
    }
    /// Builds the client.
    pub fn build(self) -> Result<ArmClient, ArmError> {
        let cloud = self.cloud.unwrap_or_default();
        let source = self.credential.unwrap_or_else(CredentialSource::from_env);
        let credential = source.build(&cloud)?;
        let endpoint = Url::parse(&cloud.resource_manager).map_err(|e| ArmError::Decode {
            message: format!("ARM endpoint `{}`: {e}", cloud.resource_manager),
        })?;
        let calls = ApiCalls::default();
        let auth: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(
            credential.clone(),
            [cloud.arm_scope.clone()],
        ));
        let counter: Arc<dyn Policy> = Arc::new(CallCounter(calls.clone()));
        let options = client_options(self.transport.clone(), Vec::new());
        let pipeline = Pipeline::new(
            Some(env!("CARGO_PKG_NAME")),
            Some(env!("CARGO_PKG_VERSION")),
            options,
            Vec::new(),
            vec![auth, counter],
            None,
        );
        Ok(ArmClient {
            pipeline,
            endpoint,
            cloud,
            credential,
            transport: self.transport,
            calls,
        })
    }
}

/// Client options with the pipeline's retries off and `per_try` policies installed.
fn client_options(
    transport: Option<Arc<dyn HttpClient>>,
    per_try: Vec<Arc<dyn Policy>>,
) -> ClientOptions {
    ClientOptions {
        retry: RetryOptions::none(),
        transport: transport.map(Transport::new),
        per_try_policies: per_try,
        ..Default::default()
    }
}

/// The ARM client (cheap to clone: the pipeline and counter are shared).
#[derive(Debug, Clone)]
pub struct ArmClient {
    pipeline: Pipeline,
    endpoint: Url,
    cloud: AzureCloud,
    credential: Arc<dyn TokenCredential>,
    transport: Option<Arc<dyn HttpClient>>,
    calls: ApiCalls,
}

/// The most pages [`ArmClient::list`] reads of one list.
pub const MAX_LIST_PAGES: usize = 1000;

impl ArmClient {
    /// A builder.
    pub fn builder() -> ArmClientBuilder {
        ArmClientBuilder::default()
    }

    /// The API-call counter of this client and the Key Vault clients built from it.
    pub fn calls(&self) -> &ApiCalls {
        &self.calls
    }

    /// The cloud.
    pub fn cloud(&self) -> &AzureCloud {
        &self.cloud
    }

    /// `<endpoint><path>?api-version=<version>` (`path` starts with `/`).
    pub fn url(&self, path: &str, api_version: &str) -> Result<Url, ArmError> {
        let mut url = self.endpoint.join(path).map_err(|e| ArmError::Decode {
            message: format!("ARM path `{path}`: {e}"),
        })?;
        url.query_pairs_mut()
            .append_pair("api-version", api_version);
        Ok(url)
    }

    /// Sends one request to `url` exactly as given and reads the whole response, whatever
    /// its status (the LRO engine and the callers judge it).
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<ArmResponse, ArmError> {
        let mut request = Request::new(url, method);
        request.insert_header("accept", "application/json");
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| ArmError::Decode {
                message: format!("request body: {e}"),
            })?;
            request.insert_header("content-type", "application/json");
            request.set_body(bytes);
        }
        send_whole(&self.pipeline, &mut request).await
    }

    /// `GET <path>?api-version=..`: the 2xx response, or its error.
    pub async fn get(&self, path: &str, api_version: &str) -> Result<ArmResponse, ArmError> {
        let url = self.url(path, api_version)?;
        self.send(Method::Get, url, None).await?.error_for_status()
    }

    /// `POST <path>/<action>?api-version=..` without a body (`listKeys`, `listCredentials`,
    /// `listClusterUserCredential`): the JSON of the 2xx response, or its error.
    pub async fn post_action(
        &self,
        path: &str,
        action: &str,
        api_version: &str,
    ) -> Result<serde_json::Value, ArmError> {
        let url = self.url(&format!("{path}/{action}"), api_version)?;
        self.send(Method::Post, url, None)
            .await?
            .error_for_status()?
            .json()
    }

    /// Every item of an ARM list (`{"value": [...], "nextLink": ...}`), following `nextLink`
    /// page after page as ARM serves it. A `nextLink` is followed only on this client's
    /// endpoint (its origin), so the token is never sent elsewhere, and at most
    /// [`MAX_LIST_PAGES`] pages are read.
    pub async fn list(
        &self,
        path: &str,
        api_version: &str,
    ) -> Result<Vec<serde_json::Value>, ArmError> {
        let mut url = self.url(path, api_version)?;
        let mut items = Vec::new();
        for _ in 0..MAX_LIST_PAGES {
            let page: serde_json::Value = self
                .send(Method::Get, url, None)
                .await?
                .error_for_status()?
                .json()?;
            if let Some(values) = page.get("value").and_then(serde_json::Value::as_array) {
                items.extend(values.iter().cloned());
            }
            match page.get("nextLink").and_then(serde_json::Value::as_str) {
                Some(next) if !next.is_empty() => url = self.next_link(next)?,
                _ => return Ok(items),
            }
        }
        Err(ArmError::Decode {
            message: format!("LIST {path}: more than {MAX_LIST_PAGES} pages"),
        })
    }

    /// A list's `nextLink`, if it is on this client's endpoint.
    fn next_link(&self, next: &str) -> Result<Url, ArmError> {
        let url = Url::parse(next).map_err(|e| ArmError::Decode {
            message: format!("nextLink `{next}`: {e}"),
        })?;
        if url.origin() != self.endpoint.origin() {
            return Err(ArmError::Decode {
                message: format!("nextLink `{next}` leaves the ARM endpoint"),
            });
        }
        Ok(url)
    }

    /// `GET` of a resource as `T`; `Ok(None)` on 404.
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        path: &str,
        api_version: &str,
    ) -> Result<Option<T>, ArmError> {
        let url = self.url(path, api_version)?;
        let response = self.send(Method::Get, url, None).await?;
        if response.status == 404 {
            return Ok(None);
        }
        response.error_for_status()?.json().map(Some)
    }

    /// An Entra token for the cloud's ARM scope (what ACR's token exchange takes).
    pub async fn token(&self) -> Result<multicloud_core::secret::SecretString, ArmError> {
        self.token_for(&self.cloud.arm_scope).await
    }

    /// An Entra token for `scope` (`<app id>/.default`).
    pub async fn token_for(
        &self,
        scope: &str,
    ) -> Result<multicloud_core::secret::SecretString, ArmError> {
        let token = self
            .credential
            .get_token(&[scope], None)
            .await
            .map_err(|e| ArmError::Credential {
                message: e.to_string(),
            })?;
        Ok(multicloud_core::secret::SecretString::new(
            token.token.secret(),
        ))
    }

    /// `POST` of a form (`application/x-www-form-urlencoded`) to `url` without the bearer
    /// policy (ACR's token exchange carries its token in the form), through the same
    /// transport and call counter.
    pub async fn post_form(&self, url: Url, form: String) -> Result<ArmResponse, ArmError> {
        let counter: Arc<dyn Policy> = Arc::new(CallCounter(self.calls.clone()));
        let pipeline = Pipeline::new(
            Some(env!("CARGO_PKG_NAME")),
            Some(env!("CARGO_PKG_VERSION")),
            client_options(self.transport.clone(), Vec::new()),
            Vec::new(),
            vec![counter],
            None,
        );
        let mut request = Request::new(url, Method::Post);
        request.insert_header("content-type", "application/x-www-form-urlencoded");
        request.insert_header("accept", "application/json");
        request.set_body(form.into_bytes());
        send_whole(&pipeline, &mut request).await
    }

    /// A Key Vault secrets client for the vault at `vault_url`
    /// (`https://<name>.vault.azure.net/`), with this client's credential, transport and
    /// call counter, and its own retries off (the core retries).
    pub fn secret_client(&self, vault_url: &str) -> Result<SecretClient, ArmError> {
        let counter: Arc<dyn Policy> = Arc::new(CallCounter(self.calls.clone()));
        let options = SecretClientOptions {
            client_options: client_options(self.transport.clone(), vec![counter]),
            ..Default::default()
        };
        SecretClient::new(vault_url, self.credential.clone(), Some(options)).map_err(|e| {
            ArmError::Decode {
                message: format!("Key Vault client for `{vault_url}`: {e}"),
            }
        })
    }
}

/// Sends `request` through `pipeline` whatever the answer's status (no status check) and
/// reads the whole response: status, the LRO headers, the error code and the body.
async fn send_whole(pipeline: &Pipeline, request: &mut Request) -> Result<ArmResponse, ArmError> {
    let options = PipelineSendOptions {
        skip_checks: true,
        ..Default::default()
    };
    let response = pipeline
        .send(&Context::new(), request, Some(options))
        .await
        .map_err(transport_error)?;
    let (status, headers, body) = response.deconstruct();
    Ok(ArmResponse {
        status: u16::from(status),
        azure_async_operation: headers.get_optional_string(&AZURE_ASYNC_OPERATION),
        location: headers.get_optional_string(&LOCATION),
        retry_after: retry_after(&headers),
        error_code: headers.get_optional_string(&X_MS_ERROR_CODE),
        body: body.to_vec(),
    })
}

/// An error from the pipeline itself (no response): a credential that gave no token, or a
/// request that could not be sent.
fn transport_error(e: azure_core::Error) -> ArmError {
    match e.kind() {
        azure_core::error::ErrorKind::Credential => ArmError::Credential {
            message: e.to_string(),
        },
        _ => ArmError::Transport {
            message: e.to_string(),
        },
    }
}
