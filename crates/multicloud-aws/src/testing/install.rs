//! Finding the moto venv's python and installing moto into the venv when it is missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use super::process::last_lines;
use super::{LOG_TAIL_LINES, MotoError, NO_INSTALL_ENV, Options, VENV_ENV, io_error};

/// `scripts/install-moto.sh` of the repository this crate was built from.
pub(super) fn default_install_script() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("scripts")
        .join("install-moto.sh");
    std::fs::canonicalize(&script).unwrap_or(script)
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Makes sure `venv` can `import moto.server`, installing it if allowed. Returns the venv's
/// python.
pub(super) async fn ensure_moto(venv: &Path, options: &Options) -> Result<PathBuf, MotoError> {
    // Venvs known to work in this process; the lock also serialises installs.
    static READY_VENVS: tokio::sync::Mutex<Vec<PathBuf>> =
        tokio::sync::Mutex::const_new(Vec::new());

    let python = venv_python(venv);
    let mut ready = READY_VENVS.lock().await;
    if ready.iter().any(|v| v == venv) {
        return Ok(python);
    }
    if !moto_importable(&python).await {
        let script = &options.install_script;
        if !options.install {
            return Err(MotoError::NotInstalled {
                venv: venv.to_owned(),
                hint: format!(
                    "{NO_INSTALL_ENV}=1 forbids installing it; run `{}` (or \
                     `MULTICLOUD_MOTO_VENV=<venv> {}`), or point {VENV_ENV} at a venv with \
                     moto[server]",
                    script.display(),
                    script.display()
                ),
            });
        }
        if !script.is_file() {
            return Err(MotoError::NotInstalled {
                venv: venv.to_owned(),
                hint: format!(
                    "the install script {} does not exist; create the venv with \
                     `python3 -m venv <venv> && <venv>/bin/pip install 'moto[server]'` and \
                     point {VENV_ENV} at it",
                    script.display()
                ),
            });
        }
        tracing::info!(venv = %venv.display(), script = %script.display(), "installing moto");
        let output = Command::new("bash")
            .arg(script)
            .env(VENV_ENV, venv)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| io_error(format!("running bash {}", script.display()), e))?;
        if !output.status.success() {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            return Err(MotoError::InstallFailed {
                venv: venv.to_owned(),
                script: script.clone(),
                status: output.status.to_string(),
                output_tail: last_lines(&text, LOG_TAIL_LINES),
            });
        }
        if !moto_importable(&python).await {
            return Err(MotoError::NotInstalled {
                venv: venv.to_owned(),
                hint: format!(
                    "{} succeeded but `{} -c 'import moto.server'` still fails",
                    script.display(),
                    python.display()
                ),
            });
        }
    }
    ready.push(venv.to_owned());
    Ok(python)
}

async fn moto_importable(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import moto.server"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MotoServer;

    #[tokio::test]
    async fn missing_moto_without_install_is_a_typed_error_with_a_hint() {
        let options = Options {
            venv: Some(PathBuf::from("/nonexistent/multicloud-moto-venv")),
            install: false,
            install_script: default_install_script(),
            keep: false,
        };
        let error = MotoServer::start_with(options)
            .await
            .expect_err("no moto in a nonexistent venv");
        match &error {
            MotoError::NotInstalled { venv, hint } => {
                assert_eq!(venv, Path::new("/nonexistent/multicloud-moto-venv"));
                assert!(hint.contains("install-moto.sh"), "{hint}");
                assert!(hint.contains(NO_INSTALL_ENV), "{hint}");
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(
            error
                .to_string()
                .contains("/nonexistent/multicloud-moto-venv")
        );
    }

    #[test]
    fn install_script_is_found_in_the_repository() {
        assert!(default_install_script().is_file());
    }
}
