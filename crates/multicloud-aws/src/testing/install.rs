//! Finding the moto venv's python and installing moto into the venv when it is missing
//! (with `install-moto.sh`, embedded in `multicloud-testing`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use multicloud_testing::MOTO_INSTALL;
#[cfg(test)]
use multicloud_testing::Switches;
use tokio::process::Command;

use super::{MotoError, NO_INSTALL_ENV, Options, VENV_ENV};

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Makes sure the venv can `import moto.server`, installing it if allowed. Returns the
/// venv's python.
pub(super) async fn ensure_moto(options: &Options) -> Result<PathBuf, MotoError> {
    // Venvs known to work in this process; the lock also serialises the checks.
    static READY_VENVS: tokio::sync::Mutex<Vec<PathBuf>> =
        tokio::sync::Mutex::const_new(Vec::new());

    let venv = &options.venv;
    let python = venv_python(venv);
    let mut ready = READY_VENVS.lock().await;
    if ready.contains(venv) || moto_importable(&python).await {
        ready.push(venv.clone());
        return Ok(python);
    }
    if !options.switches.install {
        let script = MOTO_INSTALL.write().unwrap_or_else(|_| MOTO_INSTALL.path());
        return Err(MotoError::NotInstalled {
            venv: venv.clone(),
            hint: format!(
                "{NO_INSTALL_ENV}=1 forbids installing it; run `{}` (or \
                 `{VENV_ENV}=<venv> {}`), or point {VENV_ENV} at a venv with moto[server]",
                script.display(),
                script.display()
            ),
        });
    }
    let env = [(VENV_ENV, venv.clone().into_os_string())];
    MOTO_INSTALL.run_once(&env).await.map_err(|e| match e {
        multicloud_testing::Error::InstallFailed {
            script,
            status,
            output_tail,
        } => MotoError::InstallFailed {
            venv: venv.clone(),
            script,
            status,
            output_tail,
        },
        other => other.into(),
    })?;
    if !moto_importable(&python).await {
        return Err(MotoError::NotInstalled {
            venv: venv.clone(),
            hint: format!(
                "{} succeeded but `{} -c 'import moto.server'` still fails",
                MOTO_INSTALL.path().display(),
                python.display()
            ),
        });
    }
    ready.push(venv.clone());
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
            venv: PathBuf::from("/nonexistent/multicloud-moto-venv"),
            switches: Switches {
                install: false,
                keep: false,
            },
            pace: None,
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

    #[tokio::test]
    async fn the_install_script_comes_from_the_cache_dir() {
        let options = Options {
            venv: PathBuf::from("/nonexistent/multicloud-moto-venv"),
            switches: Switches {
                install: false,
                keep: false,
            },
            pace: None,
        };
        let Err(MotoError::NotInstalled { hint, .. }) = ensure_moto(&options).await else {
            panic!("no moto in a nonexistent venv");
        };
        let script = MOTO_INSTALL.path();
        assert!(hint.contains(&script.display().to_string()), "{hint}");
        assert!(script.is_file(), "written for the user to run");
    }
}
