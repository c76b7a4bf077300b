//! `--state`: where state lives, a local directory, an S3 prefix or an Azure Blob container.

use std::path::PathBuf;
use std::sync::Arc;

use multicloud_azure::BlobStateStore;
use multicloud_azure::arm::{AzureCloud, CredentialSource};
use multicloud_core::SecretString;
use multicloud_core::state::{LocalStateStore, StateStore};
use url::Url;

use crate::exit::CliError;

/// A parsed `--state` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory.
    Dir(PathBuf),
    /// `s3://bucket/prefix`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (may be empty).
        prefix: String,
    },
    /// An Azure Blob container: `https://<account>.blob.core.windows.net/<container>/<prefix>`,
    /// or an emulator's `http://127.0.0.1:<port>/<account>/<container>/<prefix>`.
    Blob {
        /// The account URL (`https://<account>.blob.core.windows.net`).
        account_url: String,
        /// The account name.
        account: String,
        /// The container.
        container: String,
        /// The blob prefix (may be empty).
        prefix: String,
    },
}

impl Location {
    /// Parses a `--state` value: `s3://…`, `http(s)://…` (a Blob container) or a directory.
    pub fn parse(value: &str) -> Result<Self, CliError> {
        if let Some(rest) = value.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(CliError::Usage(format!("--state {value}: no bucket")));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if value.starts_with("https://") || value.starts_with("http://") {
            return blob(value);
        }
        Ok(Self::Dir(PathBuf::from(value)))
    }

    /// Whether this is a local directory.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::Dir(_))
    }

    /// Opens the store. S3 uses the AWS default chain (`AWS_ENDPOINT_URL` included); Blob
    /// the key in `AZURE_STORAGE_KEY`, else an Entra token from the `AZURE_*` variables or
    /// the developer tools.
    pub async fn open(&self) -> Result<Arc<dyn StateStore>, CliError> {
        match self {
            Self::Dir(dir) => Ok(Arc::new(LocalStateStore::new(dir))),
            Self::S3 { bucket, prefix } => {
                let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                // An S3-compatible endpoint (moto, MinIO) wants path-style addressing.
                let custom = std::env::var_os("AWS_ENDPOINT_URL").is_some();
                let s3 = aws_sdk_s3::config::Builder::from(&config)
                    .force_path_style(custom)
                    .build();
                let client = aws_sdk_s3::Client::from_conf(s3);
                Ok(Arc::new(multicloud_aws::S3StateStore::new(
                    client, bucket, prefix,
                )))
            }
            Self::Blob {
                account_url,
                account,
                container,
                prefix,
            } => open_blob(account_url, account, container, prefix),
        }
    }
}

/// A Blob container URL: the account is the host's first label, or (on an emulator at an
/// IP address or `localhost`) the path's first segment.
fn blob(value: &str) -> Result<Location, CliError> {
    let bad = |why: &str| CliError::Usage(format!("--state {value}: {why}"));
    let url = Url::parse(value).map_err(|e| bad(&e.to_string()))?;
    let host = url.host_str().ok_or_else(|| bad("no host"))?.to_owned();
    let mut segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let emulator = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok();
    let origin = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    let (account, account_url) = if emulator {
        if segments.is_empty() {
            return Err(bad("no account in the path"));
        }
        let account = segments.remove(0).to_owned();
        let url = format!("{origin}/{account}");
        (account, url)
    } else {
        let account = host.split('.').next().unwrap_or_default().to_owned();
        (account, origin)
    };
    if segments.is_empty() {
        return Err(bad("no container in the path"));
    }
    let container = segments.remove(0).to_owned();
    Ok(Location::Blob {
        account_url,
        account,
        container,
        prefix: segments.join("/"),
    })
}

fn open_blob(
    account_url: &str,
    account: &str,
    container: &str,
    prefix: &str,
) -> Result<Arc<dyn StateStore>, CliError> {
    let builder = BlobStateStore::builder(account_url, container).prefix(prefix);
    let key = std::env::var("AZURE_STORAGE_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let builder = match key {
        Some(key) => builder.shared_key(account, SecretString::new(key)),
        None => {
            let credential = CredentialSource::from_env()
                .build(&AzureCloud::public())
                .map_err(|e| CliError::setup("Azure credentials for the state store", e))?;
            builder.token_credential(credential)
        }
    };
    let store = builder
        .build()
        .map_err(|e| CliError::setup("the Blob state store", e))?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_locations_parse() {
        assert_eq!(
            Location::parse(".multicloud").expect("dir"),
            Location::Dir(".multicloud".into())
        );
        assert_eq!(
            Location::parse("s3://team-state/stacks/").expect("s3"),
            Location::S3 {
                bucket: "team-state".into(),
                prefix: "stacks".into()
            }
        );
        assert_eq!(
            Location::parse("https://acme.blob.core.windows.net/state/ci").expect("blob"),
            Location::Blob {
                account_url: "https://acme.blob.core.windows.net".into(),
                account: "acme".into(),
                container: "state".into(),
                prefix: "ci".into(),
            }
        );
        assert_eq!(
            Location::parse("http://127.0.0.1:10000/devstoreaccount1/state").expect("azurite"),
            Location::Blob {
                account_url: "http://127.0.0.1:10000/devstoreaccount1".into(),
                account: "devstoreaccount1".into(),
                container: "state".into(),
                prefix: String::new(),
            }
        );
        assert!(Location::parse("s3://").is_err());
        assert!(Location::parse("https://acme.blob.core.windows.net/").is_err());
    }
}
