//! Cluster access: how the Kubernetes side of a stack reaches the stack's cluster.
//!
//! [`ClusterCredentials`] are an endpoint, a CA and a [`ClusterCredential`] (a bearer token
//! that expires, like an EKS token, or a client certificate, like an AKS local account).
//! [`ClusterAccess`] is the one place a run gets them from: an explicit override
//! ([`CredentialSource`], e.g. a kubeconfig for a local control plane in tests) or else the
//! provider's [`ClusterOps::credentials`] for the
//! stack's cluster. It caches them and fetches new ones when they are within
//! [`ClusterAccess::refresh_before`] of expiring, so a run longer than a token's life (EKS:
//! ~14 minutes) never uses an expired one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{ErrorKind, ProviderError};
use crate::outputs::Outputs;
use crate::secret::SecretString;

/// How a client authenticates to the API server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClusterCredential {
    /// A bearer token (EKS token, Entra token), possibly expiring.
    Bearer {
        /// The token.
        token: SecretString,
        /// When it expires, if it does.
        expires_at: Option<DateTime<Utc>>,
    },
    /// A client certificate (AKS local accounts, a local control plane's admin).
    ClientCertificate {
        /// PEM certificate (not secret).
        certificate_pem: String,
        /// PEM private key.
        key_pem: SecretString,
        /// When the certificate expires, if known.
        expires_at: Option<DateTime<Utc>>,
    },
}

/// Credentials to reach a cluster's API server.
#[derive(Debug, Clone)]
pub struct ClusterCredentials {
    /// API server URL.
    pub endpoint: String,
    /// Certificate authority bundle (base64 PEM, as the clouds return it).
    pub ca_data: String,
    /// How to authenticate.
    pub credential: ClusterCredential,
}

impl ClusterCredentials {
    /// Credentials with a bearer token.
    pub fn bearer(
        endpoint: impl Into<String>,
        ca_data: impl Into<String>,
        token: SecretString,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            ca_data: ca_data.into(),
            credential: ClusterCredential::Bearer { token, expires_at },
        }
    }

    /// When the credential expires, if it does.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        match &self.credential {
            ClusterCredential::Bearer { expires_at, .. }
            | ClusterCredential::ClientCertificate { expires_at, .. } => *expires_at,
        }
    }

    /// The bearer token, if the credential is one.
    pub fn token(&self) -> Option<&SecretString> {
        match &self.credential {
            ClusterCredential::Bearer { token, .. } => Some(token),
            ClusterCredential::ClientCertificate { .. } => None,
        }
    }

    /// Whether they are still good at `now` with `margin` to spare.
    pub fn fresh_at(&self, now: DateTime<Utc>, margin: Duration) -> bool {
        let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
        self.expires_at()
            .is_none_or(|exp| now.checked_add_signed(margin).is_some_and(|t| t < exp))
    }
}

/// Something that hands out cluster credentials on demand: an override of the provider's
/// (a kubeconfig, a test control plane).
#[async_trait]
pub trait CredentialSource: Send + Sync {
    /// Fresh credentials.
    async fn credentials(&self) -> Result<ClusterCredentials, ProviderError>;
}

/// A shared source is one, so one source can serve several stacks.
#[async_trait]
impl<C: CredentialSource + ?Sized> CredentialSource for Arc<C> {
    async fn credentials(&self) -> Result<ClusterCredentials, ProviderError> {
        (**self).credentials().await
    }
}

/// Fixed credentials (a local control plane's admin certificate, a long-lived token).
#[async_trait]
impl CredentialSource for ClusterCredentials {
    async fn credentials(&self) -> Result<ClusterCredentials, ProviderError> {
        Ok(self.clone())
    }
}

/// A run's access to the stack's cluster; see the module docs.
pub struct ClusterAccess {
    source: Option<Arc<dyn CredentialSource>>,
    cluster: std::sync::Mutex<Option<Outputs>>,
    cached: tokio::sync::Mutex<Option<ClusterCredentials>>,
    refresh_before: Duration,
    fetches: AtomicU64,
}

impl std::fmt::Debug for ClusterAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterAccess")
            .field("override", &self.source.is_some())
            .field("refresh_before", &self.refresh_before)
            .field("fetches", &self.fetches())
            .finish_non_exhaustive()
    }
}

impl ClusterAccess {
    /// Access through `source` when given, else through the provider; credentials are
    /// renewed when they have less than `refresh_before` left.
    pub fn new(source: Option<Arc<dyn CredentialSource>>, refresh_before: Duration) -> Self {
        Self {
            source,
            cluster: std::sync::Mutex::new(None),
            cached: tokio::sync::Mutex::new(None),
            refresh_before,
            fetches: AtomicU64::new(0),
        }
    }

    /// The margin before expiry at which credentials are renewed.
    pub fn refresh_before(&self) -> Duration {
        self.refresh_before
    }

    /// Tells it the outputs of the stack's cluster (the engine does, from state and when
    /// the cluster is created, adopted or observed).
    pub fn set_cluster(&self, outputs: &Outputs) {
        if let Ok(mut c) = self.cluster.lock() {
            *c = Some(outputs.clone());
        }
    }

    /// How many times credentials were fetched (not served from the cache).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Credentials with at least `refresh_before` left: cached ones, or new ones from the
    /// override or from the provider's `cluster_ops` for the stack's cluster.
    pub async fn credentials(
        &self,
        cluster_ops: &dyn ClusterOps,
    ) -> Result<ClusterCredentials, ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.fresh_at(Utc::now(), self.refresh_before)
        {
            return Ok(c.clone());
        }
        let fresh = match &self.source {
            Some(source) => source.credentials().await?,
            None => {
                let cluster = self.cluster.lock().ok().and_then(|c| c.clone());
                let cluster = cluster.ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::InvalidInput,
                        "no cluster: the stack has no cluster outputs yet and no cluster access override",
                    )
                })?;
                cluster_ops.credentials(&cluster).await?
            }
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        *cached = Some(fresh.clone());
        Ok(fresh)
    }
}

/// The Kubernetes control plane's credentials: a capability of its own, implemented by the
/// type of the provider that can mint them (not by the kinds' ops).
#[async_trait]
pub trait ClusterOps: Send + Sync {
    /// Credentials for the cluster whose recorded outputs are `cluster` (endpoint, CA and a
    /// bearer token or client certificate). Token generation happens in-process (no CLI);
    /// [`ClusterAccess`] caches them and asks again before they expire.
    async fn credentials(&self, cluster: &Outputs) -> Result<ClusterCredentials, ProviderError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_certificate_override_is_served_and_cached() {
        let cloud = crate::testing::InMemoryProvider::new(crate::testing::MemoryCloud::new(
            crate::testing::Latencies::zero(),
        ));
        let cert = ClusterCredentials {
            endpoint: "https://127.0.0.1:6443".into(),
            ca_data: "Y2E=".into(),
            credential: ClusterCredential::ClientCertificate {
                certificate_pem: "-----BEGIN CERTIFICATE-----".into(),
                key_pem: SecretString::new("-----BEGIN PRIVATE KEY-----"),
                expires_at: None,
            },
        };
        let access = ClusterAccess::new(Some(Arc::new(cert)), Duration::from_secs(60));
        for _ in 0..3 {
            let got = access
                .credentials(crate::provider::CloudProvider::cluster(&cloud))
                .await
                .expect("served");
            assert!(got.token().is_none(), "a certificate, not a token");
            assert!(matches!(
                got.credential,
                ClusterCredential::ClientCertificate { .. }
            ));
            assert_eq!(got.endpoint, "https://127.0.0.1:6443");
        }
        assert_eq!(
            access.fetches(),
            1,
            "a credential without expiry is fetched once"
        );
        assert_eq!(cloud.tokens_issued(), 0, "the override, not the provider");
    }

    #[test]
    fn freshness_keeps_a_margin_before_expiry() {
        let now = Utc::now();
        let c = ClusterCredentials::bearer(
            "https://k",
            "ca",
            SecretString::new("t"),
            Some(now + chrono::Duration::seconds(90)),
        );
        assert!(c.fresh_at(now, Duration::from_secs(60)));
        assert!(!c.fresh_at(now, Duration::from_secs(120)));
        let forever = ClusterCredentials::bearer("https://k", "ca", SecretString::new("t"), None);
        assert!(forever.fresh_at(now, Duration::from_secs(3600)));
    }
}
