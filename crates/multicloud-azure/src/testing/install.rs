//! Finding `azurite-blob`, installing it with `install-azurite.sh` (embedded in
//! `multicloud-testing`) when missing.

use std::path::PathBuf;

use multicloud_testing::AZURITE_INSTALL;
#[cfg(test)]
use multicloud_testing::Switches;

use super::{AzuriteError, BLOB_BIN_ENV, NO_INSTALL_ENV, Options};

/// The `azurite-blob` to run: the one named by the environment, else the one the install
/// script reports (installing it if it is missing and installing is allowed).
pub(super) async fn ensure_azurite(options: &Options) -> Result<PathBuf, AzuriteError> {
    if let Some(bin) = &options.bin {
        return if bin.is_file() {
            Ok(bin.clone())
        } else {
            Err(AzuriteError::NotInstalled {
                hint: format!("{BLOB_BIN_ENV}={} does not exist", bin.display()),
            })
        };
    }
    if !options.switches.install {
        let script = AZURITE_INSTALL
            .write()
            .unwrap_or_else(|_| AZURITE_INSTALL.path());
        return Err(AzuriteError::NotInstalled {
            hint: format!(
                "{NO_INSTALL_ENV}=1 forbids running {}; run it yourself, or point \
                 {BLOB_BIN_ENV} at an azurite-blob executable",
                script.display()
            ),
        });
    }
    let bin = AZURITE_INSTALL.run_once(&[]).await?;
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(AzuriteError::NotInstalled {
            hint: format!(
                "{} printed {}, not a file",
                AZURITE_INSTALL.name(),
                bin.display()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_azurite_without_install_is_a_typed_error_with_a_hint() {
        let options = Options {
            bin: None,
            switches: Switches {
                install: false,
                keep: false,
            },
        };
        match ensure_azurite(&options).await {
            Err(AzuriteError::NotInstalled { hint }) => {
                assert!(hint.contains("install-azurite.sh"), "{hint}");
                assert!(hint.contains(NO_INSTALL_ENV), "{hint}");
            }
            other => panic!("expected NotInstalled, got {other:?}"),
        }
        let options = Options {
            bin: Some(PathBuf::from("/nonexistent/azurite-blob")),
            ..options
        };
        match ensure_azurite(&options).await {
            Err(AzuriteError::NotInstalled { hint }) => {
                assert!(hint.contains("/nonexistent/azurite-blob"), "{hint}");
            }
            other => panic!("expected NotInstalled, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_install_script_runs_from_the_cache_dir() {
        let options = Options {
            bin: None,
            switches: Switches {
                install: true,
                keep: false,
            },
        };
        let bin = ensure_azurite(&options).await.expect("installed");
        assert!(bin.ends_with("azurite-blob"), "{bin:?}");
        assert!(AZURITE_INSTALL.path().is_file());
    }
}
