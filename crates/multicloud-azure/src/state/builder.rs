//! [`BlobStateStoreBuilder`]: where the Blob state store lives and how it authenticates.

use std::fmt;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, RetryOptions, Url};
use azure_storage_blob::{BlobContainerClient, BlobServiceClient, BlobServiceClientOptions};
use multicloud_core::retry::RetryPolicy;
use multicloud_core::secret::SecretString;

use multicloud_core::state::object::ObjectStateStore;

use super::shared_key::{InvalidAccountKey, SharedKeyPolicy};
use super::{BlobObjects, BlobStateStore};

/// The storage service version the store speaks by default: the newest Azurite 3.35
/// accepts (`azure_storage_blob` 1.1 defaults to a newer one, which Azurite refuses).
pub const DEFAULT_SERVICE_VERSION: &str = "2025-11-05";

/// How the store authenticates.
#[derive(Clone)]
enum Auth {
    /// No authentication chosen yet.
    None,
    /// An Entra token (production).
    Token(Arc<dyn TokenCredential>),
    /// An account key (Azurite, key-based accounts).
    SharedKey { account: String, key: SecretString },
}

/// Builds a [`BlobStateStore`]; made by [`BlobStateStore::builder`].
#[derive(Clone)]
pub struct BlobStateStoreBuilder {
    account_url: String,
    container: String,
    prefix: String,
    auth: Auth,
    retry: RetryPolicy,
    version: String,
    client_options: ClientOptions,
}

impl fmt::Debug for BlobStateStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            Auth::None => "none".to_owned(),
            Auth::Token(_) => "token credential".to_owned(),
            Auth::SharedKey { account, .. } => format!("shared key of {account}"),
        };
        f.debug_struct("BlobStateStoreBuilder")
            .field("account_url", &self.account_url)
            .field("container", &self.container)
            .field("prefix", &self.prefix)
            .field("auth", &auth)
            .field("retry", &self.retry)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Why a [`BlobStateStore`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Neither a token credential nor a shared key was given.
    #[error("no authentication for {account_url}: call token_credential(..) or shared_key(..)")]
    NoAuthentication {
        /// The account URL.
        account_url: String,
    },
    /// The account URL does not parse or cannot be a base.
    #[error("invalid storage account URL {account_url:?}: {message}")]
    InvalidUrl {
        /// The URL given.
        account_url: String,
        /// What is wrong.
        message: String,
    },
    /// The account key is not valid base64.
    #[error(transparent)]
    InvalidKey(#[from] InvalidAccountKey),
    /// The SDK refused the configuration (a token credential over http, for instance).
    #[error("cannot make a Blob client for {account_url}: {source}")]
    Client {
        /// The account URL.
        account_url: String,
        /// The SDK's error.
        #[source]
        source: azure_core::Error,
    },
}

impl BlobStateStoreBuilder {
    pub(super) fn new(account_url: String, container: String) -> Self {
        Self {
            account_url,
            container,
            prefix: String::new(),
            auth: Auth::None,
            retry: RetryPolicy::default(),
            version: DEFAULT_SERVICE_VERSION.to_owned(),
            client_options: ClientOptions::default(),
        }
    }

    /// Authenticates with an Entra token from `credential` (for instance
    /// `azure_identity::DeveloperToolsCredential` or a managed identity); needs an https
    /// account URL.
    #[must_use]
    pub fn token_credential(mut self, credential: Arc<dyn TokenCredential>) -> Self {
        self.auth = Auth::Token(credential);
        self
    }

    /// Authenticates with the key `key` (base64) of storage account `account`, signing each
    /// request (`SharedKeyPolicy`).
    #[must_use]
    pub fn shared_key(mut self, account: impl Into<String>, key: SecretString) -> Self {
        self.auth = Auth::SharedKey {
            account: account.into(),
            key,
        };
        self
    }

    /// Puts the stacks' blobs under `prefix` (leading and trailing `/` are ignored).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_matches('/').to_owned();
        self
    }

    /// Retries requests that fail with a retryable error with `retry` instead of the
    /// engine's default policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The storage service version to speak (default [`DEFAULT_SERVICE_VERSION`]).
    #[must_use]
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// SDK client options (transport, policies, telemetry). Their retry options are
    /// replaced by none: the store retries by itself.
    #[must_use]
    pub fn client_options(mut self, options: ClientOptions) -> Self {
        self.client_options = options;
        self
    }

    /// The store.
    pub fn build(self) -> Result<BlobStateStore, BuildError> {
        let objects = BlobObjects {
            container: Arc::new(self.container_client()?),
            container_name: self.container,
            retry: self.retry,
        };
        Ok(BlobStateStore {
            store: ObjectStateStore::new(objects, self.prefix),
        })
    }

    /// A client of the store's container with the store's authentication, service version
    /// and (absent) SDK retries, for what the store does not do (creating the container,
    /// reading a blob raw).
    pub fn container_client(&self) -> Result<BlobContainerClient, BuildError> {
        let url = self.service_url()?;
        let mut client_options = self.client_options.clone();
        client_options.retry = RetryOptions::none();
        let credential = match &self.auth {
            Auth::None => {
                return Err(BuildError::NoAuthentication {
                    account_url: self.account_url.clone(),
                });
            }
            Auth::Token(credential) => Some(credential.clone()),
            Auth::SharedKey { account, key } => {
                let policy = SharedKeyPolicy::new(account.clone(), key.clone())?;
                client_options.per_try_policies.push(Arc::new(policy));
                None
            }
        };
        let options = BlobServiceClientOptions {
            client_options,
            version: self.version.clone(),
        };
        let service = BlobServiceClient::new(url, credential, Some(options)).map_err(|source| {
            BuildError::Client {
                account_url: self.account_url.clone(),
                source,
            }
        })?;
        Ok(service.blob_container_client(&self.container))
    }

    /// The account URL without a trailing `/` (a `//` in the path is refused by Azurite).
    fn service_url(&self) -> Result<Url, BuildError> {
        let invalid = |message: String| BuildError::InvalidUrl {
            account_url: self.account_url.clone(),
            message,
        };
        let mut url = Url::parse(&self.account_url).map_err(|e| invalid(e.to_string()))?;
        if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("not an http(s) base URL".to_owned()));
        }
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use multicloud_core::state::StateKey;

    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn azurite() -> BlobStateStoreBuilder {
        BlobStateStore::builder("http://127.0.0.1:10000/devstoreaccount1/", "state")
            .shared_key("devstoreaccount1", SecretString::new(KEY))
    }

    #[test]
    fn blob_names_follow_the_layout() {
        let store = azurite().prefix("/teams/platform/").build().expect("store");
        assert_eq!(store.prefix(), "teams/platform");
        let key = StateKey::new("app", "dev");
        assert_eq!(
            store.state_blob(&key).expect("name"),
            "teams/platform/app/dev/state.json"
        );
        assert_eq!(
            store.lock_blob(&key).expect("name"),
            "teams/platform/app/dev/lock.json"
        );
        assert_eq!(
            store.store.key_of("teams/platform/app/dev/lock.json"),
            Some(key.clone())
        );
        assert_eq!(
            store.store.key_of("teams/platform/app/dev/other.json"),
            None
        );
        assert_eq!(store.store.key_of("elsewhere/app/dev/state.json"), None);
        let bare = azurite().build().expect("store");
        assert_eq!(bare.state_blob(&key).expect("name"), "app/dev/state.json");
        assert_eq!(bare.store.key_of("app/dev/state.json"), Some(key));
        // The trailing slash of the account URL is dropped.
        assert_eq!(
            store.store.objects().container.url().as_str(),
            "http://127.0.0.1:10000/devstoreaccount1/state"
        );
    }

    #[test]
    fn missing_or_bad_authentication_is_refused() {
        let none = BlobStateStore::builder("https://acct.blob.core.windows.net", "state").build();
        assert!(matches!(none, Err(BuildError::NoAuthentication { .. })));
        let bad_key = BlobStateStore::builder("https://acct.blob.core.windows.net", "state")
            .shared_key("acct", SecretString::new("%%%"))
            .build();
        assert!(matches!(bad_key, Err(BuildError::InvalidKey(_))));
        let bad_url = azurite();
        let bad_url = BlobStateStoreBuilder {
            account_url: "not a url".into(),
            ..bad_url
        }
        .build();
        assert!(matches!(bad_url, Err(BuildError::InvalidUrl { .. })));
    }

    /// A credential handing out a fixed token.
    #[derive(Debug)]
    struct FixedToken;

    #[async_trait::async_trait]
    impl TokenCredential for FixedToken {
        async fn get_token(
            &self,
            scopes: &[&str],
            _: Option<azure_core::credentials::TokenRequestOptions<'_>>,
        ) -> azure_core::Result<azure_core::credentials::AccessToken> {
            assert_eq!(scopes, ["https://storage.azure.com/.default"]);
            Ok(azure_core::credentials::AccessToken::new(
                "entra-token",
                azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
            ))
        }
    }

    /// A transport that records each request's headers and answers 404 BlobNotFound.
    #[derive(Debug, Default)]
    struct Recorder(std::sync::Mutex<Vec<(String, std::collections::HashMap<String, String>)>>);

    #[async_trait::async_trait]
    impl azure_core::http::HttpClient for Recorder {
        async fn execute_request(
            &self,
            request: &azure_core::http::Request,
        ) -> azure_core::Result<azure_core::http::AsyncRawResponse> {
            let headers = request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                .collect();
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((request.url().to_string(), headers));
            let mut answer = azure_core::http::headers::Headers::new();
            answer.insert("x-ms-error-code", "BlobNotFound");
            Ok(azure_core::http::AsyncRawResponse::from_bytes(
                azure_core::http::StatusCode::NotFound,
                answer,
                Vec::new(),
            ))
        }
    }

    #[tokio::test]
    async fn an_entra_token_is_sent_as_a_bearer_over_https_only() {
        use multicloud_core::state::StateStore;
        let recorder = Arc::new(Recorder::default());
        let options = ClientOptions {
            transport: Some(azure_core::http::Transport::new(recorder.clone())),
            ..Default::default()
        };
        let store = BlobStateStore::builder("https://acct.blob.core.windows.net", "state")
            .token_credential(Arc::new(FixedToken))
            .client_options(options)
            .build()
            .expect("store");
        let key = StateKey::new("app", "dev");
        assert_eq!(store.load(&key).await.expect("no state"), None);
        let sent = recorder.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(sent.len(), 1, "one request: {sent:?}");
        let (url, headers) = &sent[0];
        assert_eq!(
            url,
            "https://acct.blob.core.windows.net/state/app%2Fdev%2Fstate.json"
        );
        assert_eq!(
            headers.get("authorization").map(String::as_str),
            Some("Bearer entra-token")
        );
        assert_eq!(
            headers.get("x-ms-version").map(String::as_str),
            Some(DEFAULT_SERVICE_VERSION)
        );

        let over_http = BlobStateStore::builder("http://127.0.0.1:1/devstoreaccount1", "state")
            .token_credential(Arc::new(FixedToken))
            .build();
        assert!(matches!(over_http, Err(BuildError::Client { .. })));
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let builder = azurite();
        let printed = format!("{builder:?}");
        assert!(!printed.contains(KEY), "{printed}");
        assert!(
            printed.contains("shared key of devstoreaccount1"),
            "{printed}"
        );
    }
}
