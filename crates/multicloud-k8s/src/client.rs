//! From [`ClusterCredentials`] to a `kube::Client`: a kubeconfig document (what users get to
//! point `kubectl` at the same cluster) and a client built from it, with kube's own retries
//! off (the engine's `RetryPolicy` is the one retry layer); [`KubeClientExt`] gives a
//! stack's or an ephemeral environment's client in one call.

use std::sync::Mutex;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use multicloud_core::provider::{ClusterCredential, ClusterCredentials, OpContext};
use multicloud_core::secret::SecretString;
use multicloud_core::{EphemeralEnv, ErrorKind, ProviderError, Stack};

/// The name of the cluster, user and context in the kubeconfigs this crate writes.
pub const KUBECONFIG_CONTEXT: &str = multicloud_core::kubeconfig::CONTEXT;

/// A kubeconfig (YAML) for `creds` ([`multicloud_core::kubeconfig::Kubeconfig`], the same
/// document `Stack::kubeconfig` gives). It holds the credential itself (token or client key),
/// so it is returned as a secret.
pub fn kubeconfig_yaml(creds: &ClusterCredentials) -> Result<SecretString, ProviderError> {
    Ok(multicloud_core::kubeconfig::Kubeconfig::new(creds.clone()).to_yaml())
}

/// The credentials of a kubeconfig's current context (its cluster's server and CA data, its
/// user's token or client certificate data), to point a stack at any cluster:
/// `Stack::cluster_access(credentials_from_kubeconfig(&text)?)`. Exec plugins and file
/// references are not followed: the kubeconfig must carry the data inline.
pub fn credentials_from_kubeconfig(yaml: &str) -> Result<ClusterCredentials, ProviderError> {
    let bad = |m: &str| ProviderError::new(ErrorKind::InvalidInput, format!("kubeconfig: {m}"));
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(yaml).map_err(|e| bad(&format!("not YAML ({e})")))?;
    let current = doc["current-context"]
        .as_str()
        .ok_or_else(|| bad("no current-context"))?;
    let named = |list: &str, name: &str| {
        doc[list]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["name"] == name))
            .cloned()
            .ok_or_else(|| bad(&format!("no {list} entry `{name}`")))
    };
    let context = named("contexts", current)?;
    let cluster_name = context["context"]["cluster"].as_str().unwrap_or_default();
    let cluster = named("clusters", cluster_name)?;
    let user_name = context["context"]["user"].as_str().unwrap_or_default();
    let user = named("users", user_name)?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let endpoint = text(&cluster["cluster"]["server"]).ok_or_else(|| bad("no server"))?;
    let ca_data = text(&cluster["cluster"]["certificate-authority-data"]).unwrap_or_default();
    let u = &user["user"];
    if let Some(token) = text(&u["token"]) {
        return Ok(ClusterCredentials::bearer(
            endpoint,
            ca_data,
            SecretString::new(token),
            None,
        ));
    }
    let decode = |field: &str| {
        let data = text(&u[field]).ok_or_else(|| bad(&format!("user has no token nor {field}")))?;
        let bytes = STANDARD
            .decode(data.trim())
            .map_err(|e| bad(&format!("{field} is not base64 ({e})")))?;
        String::from_utf8(bytes).map_err(|_| bad(&format!("{field} is not PEM text")))
    };
    Ok(ClusterCredentials {
        endpoint,
        ca_data,
        credential: ClusterCredential::ClientCertificate {
            certificate_pem: decode("client-certificate-data")?,
            key_pem: SecretString::new(decode("client-key-data")?),
            expires_at: None,
        },
    })
}

/// A `kube::Client` for `creds`, with kube's built-in retries off.
pub async fn client_for(creds: &ClusterCredentials) -> Result<Client, ProviderError> {
    let yaml = kubeconfig_yaml(creds)?;
    let kubeconfig = Kubeconfig::from_yaml(yaml.expose()).map_err(|e| invalid_credentials(&e))?;
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| invalid_credentials(&e))?;
    config.default_retry = false;
    Client::try_from(config).map_err(|e| {
        ProviderError::new(
            ErrorKind::InvalidInput,
            format!(
                "cannot build a Kubernetes client for {}: {e}",
                creds.endpoint
            ),
        )
        .with_source(e)
    })
}

fn invalid_credentials(e: &dyn std::fmt::Display) -> ProviderError {
    ProviderError::new(
        ErrorKind::InvalidInput,
        format!("the cluster credentials do not make a usable kubeconfig: {e}"),
    )
}

/// A `kube::Client` of a stack's cluster: `env.kube_client().await?` on an
/// [`EphemeralEnv`] or a [`Stack`], from its [`kubeconfig`](Stack::kubeconfig) (a fresh
/// credential each call: an EKS token lasts 15 minutes, so a long test asks again), with
/// kube's own retries off.
///
/// ```no_run
/// # async fn test(env: multicloud_core::EphemeralEnv) -> Result<(), Box<dyn std::error::Error>> {
/// use k8s_openapi::api::apps::v1::Deployment;
/// use multicloud_k8s::KubeClientExt;
///
/// let kube: kube::Client = env.kube_client().await?;
/// let web = kube::Api::<Deployment>::namespaced(kube, "shop").get("api").await?;
/// # Ok(()) }
/// ```
#[async_trait]
pub trait KubeClientExt {
    /// A client of the stack's cluster, built from a kubeconfig with a fresh credential.
    async fn kube_client(&self) -> Result<Client, multicloud_core::Error>;
}

#[async_trait]
impl KubeClientExt for Stack {
    async fn kube_client(&self) -> Result<Client, multicloud_core::Error> {
        let kubeconfig = self.kubeconfig().await?;
        Ok(client_for(kubeconfig.credentials()).await?)
    }
}

#[async_trait]
impl KubeClientExt for EphemeralEnv {
    async fn kube_client(&self) -> Result<Client, multicloud_core::Error> {
        let kubeconfig = self.kubeconfig().await?;
        Ok(client_for(kubeconfig.credentials()).await?)
    }
}

/// One client per set of credentials: operations of a run share it (and its connections)
/// until the credentials change (a renewed token).
#[derive(Default)]
pub(crate) struct ClientCache {
    current: Mutex<Option<(String, Client)>>,
}

impl ClientCache {
    /// The cached client for `creds`, or a new one.
    pub(crate) async fn get(&self, creds: &ClusterCredentials) -> Result<Client, ProviderError> {
        let key = cache_key(creds);
        if let Some((k, c)) = self.lock().as_ref()
            && Some(k) == key.as_ref()
        {
            return Ok(c.clone());
        }
        let client = client_for(creds).await?;
        if let Some(key) = key {
            *self.lock() = Some((key, client.clone()));
        }
        Ok(client)
    }

    /// The client for the run's cluster credentials (fresh ones, from the run's access).
    pub(crate) async fn for_run(&self, ctx: &OpContext<'_>) -> Result<Client, ProviderError> {
        let creds = ctx.cluster_credentials().await?;
        self.get(&creds).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, Client)>> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Identifies credentials without holding them: endpoint plus a fingerprint of the secret.
fn cache_key(creds: &ClusterCredentials) -> Option<String> {
    let secret = match &creds.credential {
        ClusterCredential::Bearer { token, .. } => token.fingerprint(),
        ClusterCredential::ClientCertificate { key_pem, .. } => key_pem.fingerprint(),
        _ => return None,
    };
    Some(format!("{} {secret}", creds.endpoint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_kubeconfig_parses_and_names_one_context() {
        let creds = ClusterCredentials::bearer(
            "https://127.0.0.1:6443",
            STANDARD.encode("-----BEGIN CERTIFICATE-----\n"),
            SecretString::new("k8s-aws-v1.token"),
            None,
        );
        let yaml = kubeconfig_yaml(&creds).expect("a kubeconfig");
        let parsed = Kubeconfig::from_yaml(yaml.expose()).expect("valid kubeconfig");
        assert_eq!(parsed.current_context.as_deref(), Some(KUBECONFIG_CONTEXT));
        let user = parsed.auth_infos[0].auth_info.as_ref().expect("user");
        assert!(user.token.is_some());
        assert_eq!(
            parsed.clusters[0]
                .cluster
                .as_ref()
                .and_then(|c| c.server.as_deref()),
            Some("https://127.0.0.1:6443")
        );
    }

    #[test]
    fn a_kubeconfig_round_trips_into_the_same_credentials() {
        let bearer = ClusterCredentials::bearer(
            "https://127.0.0.1:6443",
            "Q0E=",
            SecretString::new("tok"),
            None,
        );
        let back = credentials_from_kubeconfig(kubeconfig_yaml(&bearer).expect("yaml").expose())
            .expect("parses");
        assert_eq!(
            (back.endpoint.as_str(), back.ca_data.as_str()),
            ("https://127.0.0.1:6443", "Q0E=")
        );
        assert_eq!(back.token().map(SecretString::expose), Some("tok"));

        let cert = ClusterCredentials {
            endpoint: "https://10.0.0.1".into(),
            ca_data: String::new(),
            credential: ClusterCredential::ClientCertificate {
                certificate_pem: "-----BEGIN CERTIFICATE-----\n".into(),
                key_pem: SecretString::new("-----BEGIN PRIVATE KEY-----\n"),
                expires_at: None,
            },
        };
        let back = credentials_from_kubeconfig(kubeconfig_yaml(&cert).expect("yaml").expose())
            .expect("parses");
        let ClusterCredential::ClientCertificate {
            certificate_pem,
            key_pem,
            ..
        } = back.credential
        else {
            panic!("a client certificate")
        };
        assert_eq!(certificate_pem, "-----BEGIN CERTIFICATE-----\n");
        assert_eq!(key_pem.expose(), "-----BEGIN PRIVATE KEY-----\n");
        let err = credentials_from_kubeconfig("apiVersion: v1\nkind: Config\n").expect_err("empty");
        assert!(
            err.message().contains("current-context"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn the_cache_key_changes_with_the_token_but_never_shows_it() {
        let a = ClusterCredentials::bearer("https://h", "", SecretString::new("one"), None);
        let b = ClusterCredentials::bearer("https://h", "", SecretString::new("two"), None);
        assert_ne!(cache_key(&a), cache_key(&b));
        assert!(!cache_key(&a).expect("key").contains("one"));
    }
}
