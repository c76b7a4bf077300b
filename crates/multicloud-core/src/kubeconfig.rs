//! A kubeconfig for a stack's cluster: [`Kubeconfig`], the document `kubectl` and every
//! Kubernetes client read, built from [`ClusterCredentials`] (the endpoint and CA the cluster
//! records, and a bearer token or client certificate), what
//! [`Stack::kubeconfig`](crate::Stack::kubeconfig) returns.
//!
//! The credential is inline (no exec plugin, no file references), so the document is a
//! secret: [`Kubeconfig::to_yaml`] returns a [`SecretString`] and
//! [`Kubeconfig::write`] creates the file with mode `0600`. A token expires
//! ([`Kubeconfig::expires_at`]; an EKS token after 15 minutes): ask for a new kubeconfig
//! before then.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::access::{ClusterCredential, ClusterCredentials};
use crate::secret::SecretString;

/// The name of the cluster, user and context in the kubeconfigs multicloud writes.
pub const CONTEXT: &str = "multicloud";

/// A kubeconfig with one cluster, one user and one context ([`CONTEXT`]), the current one.
/// `Debug` shows no secret.
///
/// ```
/// use multicloud_core::kubeconfig::Kubeconfig;
/// use multicloud_core::provider::ClusterCredentials;
/// use multicloud_core::SecretString;
///
/// let creds = ClusterCredentials::bearer("https://127.0.0.1:6443", "Q0E=", SecretString::new("t0ken"), None);
/// let kubeconfig = Kubeconfig::new(creds);
/// let yaml = kubeconfig.to_yaml();
/// assert!(yaml.expose().contains("server: https://127.0.0.1:6443"));
/// assert!(!format!("{kubeconfig:?}").contains("t0ken"));
/// ```
#[derive(Debug, Clone)]
pub struct Kubeconfig {
    credentials: ClusterCredentials,
}

impl Kubeconfig {
    /// The kubeconfig of `credentials`.
    pub fn new(credentials: ClusterCredentials) -> Self {
        Self { credentials }
    }

    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.credentials.endpoint
    }

    /// The certificate authority bundle (base64 PEM).
    pub fn ca_data(&self) -> &str {
        &self.credentials.ca_data
    }

    /// When its credential expires, if it does (an EKS token: 15 minutes after it was
    /// made). Ask for a new one before then.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.credentials.expires_at()
    }

    /// The credentials it is made of.
    pub fn credentials(&self) -> &ClusterCredentials {
        &self.credentials
    }

    /// The document as YAML (block style, as `kubectl config view` writes it); it holds the
    /// token or client key.
    pub fn to_yaml(&self) -> SecretString {
        let creds = &self.credentials;
        let user = match &creds.credential {
            ClusterCredential::Bearer { token, .. } => json!({ "token": token.expose() }),
            ClusterCredential::ClientCertificate {
                certificate_pem,
                key_pem,
                ..
            } => json!({
                "client-certificate-data": STANDARD.encode(certificate_pem),
                "client-key-data": STANDARD.encode(key_pem.expose()),
            }),
        };
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": CONTEXT, "cluster": {
                "server": creds.endpoint,
                "certificate-authority-data": creds.ca_data,
            }}],
            "users": [{ "name": CONTEXT, "user": user }],
            "contexts": [{ "name": CONTEXT, "context": {
                "cluster": CONTEXT, "user": CONTEXT,
            }}],
            "current-context": CONTEXT,
        });
        // JSON is YAML, so the compact form is a valid fallback.
        let yaml = serde_yaml_ng::to_string(&doc).unwrap_or_else(|_| doc.to_string());
        SecretString::new(yaml)
    }

    /// Writes [`Kubeconfig::to_yaml`] to `path` with mode `0600` (an existing file is
    /// truncated and its mode set to `0600` before the credential goes in).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write as _;
        let mut file = open_private(path)?;
        file.write_all(self.to_yaml().expose().as_bytes())?;
        file.sync_all()
    }
}

/// `path` opened for writing, created or truncated, readable by its owner only.
#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// `path` opened for writing, created or truncated.
#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_certificate_kubeconfig_carries_base64_pem_and_no_token() {
        let creds = ClusterCredentials {
            endpoint: "https://10.0.0.1".into(),
            ca_data: "Q0E=".into(),
            credential: ClusterCredential::ClientCertificate {
                certificate_pem: "-----BEGIN CERTIFICATE-----\n".into(),
                key_pem: SecretString::new("-----BEGIN PRIVATE KEY-----\n"),
                expires_at: None,
            },
        };
        let k = Kubeconfig::new(creds);
        let doc: serde_json::Value = serde_yaml_ng::from_str(k.to_yaml().expose()).expect("YAML");
        let user = &doc["users"][0]["user"];
        assert!(user.get("token").is_none());
        let key = user["client-key-data"].as_str().expect("key data");
        assert_eq!(
            STANDARD.decode(key).expect("base64"),
            b"-----BEGIN PRIVATE KEY-----\n"
        );
        assert_eq!(doc["current-context"], CONTEXT);
        assert!(!format!("{k:?}").contains("PRIVATE KEY"));
    }

    #[cfg(unix)]
    #[test]
    fn it_is_written_readable_by_its_owner_only_even_over_a_wider_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, "old, much longer content than the new one ......").expect("old");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("644");
        let creds = ClusterCredentials::bearer("https://k", "Q0E=", SecretString::new("tok"), None);
        let k = Kubeconfig::new(creds);
        k.write(&path).expect("written");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            k.to_yaml().expose()
        );
    }
}
