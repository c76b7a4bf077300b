//! Finding `azurite-blob`, installing it with `scripts/install-azurite.sh` when missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use super::{
    AzuriteError, BLOB_BIN_ENV, LOG_TAIL_LINES, NO_INSTALL_ENV, Options, io_error, last_lines,
};

/// `scripts/install-azurite.sh` of the repository this crate was built from.
pub(super) fn default_install_script() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("scripts")
        .join("install-azurite.sh");
    std::fs::canonicalize(&script).unwrap_or(script)
}

/// The `azurite-blob` to run: the one named by the environment, else the one the install
/// script reports (installing it if it is missing and installing is allowed).
pub(super) async fn ensure_azurite(options: &Options) -> Result<PathBuf, AzuriteError> {
    // The install script's answer, once per process; the lock also serialises installs.
    static INSTALLED: tokio::sync::Mutex<Option<PathBuf>> = tokio::sync::Mutex::const_new(None);

    if let Some(bin) = &options.bin {
        return if bin.is_file() {
            Ok(bin.clone())
        } else {
            Err(AzuriteError::NotInstalled {
                hint: format!("{BLOB_BIN_ENV}={} does not exist", bin.display()),
            })
        };
    }
    let mut installed = INSTALLED.lock().await;
    if let Some(bin) = installed.as_ref() {
        return Ok(bin.clone());
    }
    let script = &options.install_script;
    if !options.install {
        return Err(AzuriteError::NotInstalled {
            hint: format!(
                "{NO_INSTALL_ENV}=1 forbids running {}; run it yourself, or point \
                 {BLOB_BIN_ENV} at an azurite-blob executable",
                script.display()
            ),
        });
    }
    if !script.is_file() {
        return Err(AzuriteError::NotInstalled {
            hint: format!(
                "the install script {} does not exist; `npm install azurite@3.35.0` and point \
                 {BLOB_BIN_ENV} at node_modules/.bin/azurite-blob",
                script.display()
            ),
        });
    }
    let bin = run_install_script(script).await?;
    *installed = Some(bin.clone());
    Ok(bin)
}

/// Runs the install script (fast when Azurite is cached); the path it prints.
async fn run_install_script(script: &Path) -> Result<PathBuf, AzuriteError> {
    tracing::info!(script = %script.display(), "making sure Azurite is installed");
    let output = Command::new("bash")
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| io_error(format!("running bash {}", script.display()), e))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let failed = |status: String| {
        let mut text = stdout.clone().into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        AzuriteError::InstallFailed {
            script: script.to_owned(),
            status,
            output_tail: last_lines(&text, LOG_TAIL_LINES),
        }
    };
    if !output.status.success() {
        return Err(failed(output.status.to_string()));
    }
    let bin = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .map(|line| PathBuf::from(line.trim()));
    match bin {
        Some(bin) if bin.is_file() => Ok(bin),
        _ => Err(failed(
            "it succeeded but printed no azurite-blob path".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_azurite_without_install_is_a_typed_error_with_a_hint() {
        let options = Options {
            bin: None,
            install: false,
            install_script: default_install_script(),
            keep: false,
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

    #[test]
    fn install_script_is_found_in_the_repository() {
        assert!(default_install_script().is_file());
    }
}
