//! The install step: install scripts embedded in this crate (`scripts/install-*.sh`, which
//! the repository's `scripts/` links to), written to the cache directory and run there, so
//! that a project depending on the `testing` features can install the stand-ins too.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::process::unique_suffix;
use crate::{CACHE_ENV, Error, LOG_TAIL_LINES, cache_dir, last_lines};

/// A script embedded in this crate. The install scripts are idempotent, report progress on
/// stderr, and print on stdout one line saying where the installed thing is (a venv, an
/// executable, a directory); [`MOTO_SERVER`] is a server the moto harness runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Script {
    name: &'static str,
    text: &'static str,
}

/// Installs moto into a venv (`MULTICLOUD_MOTO_VENV`); prints the venv.
pub const MOTO_INSTALL: Script = Script {
    name: "install-moto.sh",
    text: include_str!("../scripts/install-moto.sh"),
};

/// Installs Azurite with npm into the cache; prints the `azurite-blob` executable.
pub const AZURITE_INSTALL: Script = Script {
    name: "install-azurite.sh",
    text: include_str!("../scripts/install-azurite.sh"),
};

/// Builds the Kubernetes control plane's binaries into the cache; prints their directory.
pub const K8S_INSTALL: Script = Script {
    name: "install-k8s.sh",
    text: include_str!("../scripts/install-k8s.sh"),
};

/// moto's server with the AWS behaviour moto 5.2.5 lacks (ElastiCache deletions that
/// complete, `DeleteCacheSubnetGroup`, and with `MULTICLOUD_MOTO_PACE_MS` creations that take
/// time), run with the moto venv's python and moto_server's arguments.
pub const MOTO_SERVER: Script = Script {
    name: "moto-server.py",
    text: include_str!("../scripts/moto-server.py"),
};

/// Successful runs of this process, by script and environment; the lock serialises runs.
static RUNS: tokio::sync::Mutex<Option<HashMap<String, PathBuf>>> =
    tokio::sync::Mutex::const_new(None);

impl Script {
    /// The script's file name (`install-moto.sh`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The script's text.
    pub fn text(&self) -> &'static str {
        self.text
    }

    /// Where [`write`](Self::write) puts it: `<cache>/scripts/<name>`.
    pub fn path(&self) -> PathBuf {
        cache_dir().join("scripts").join(self.name)
    }

    /// Writes the script to [`path`](Self::path) (unless it is there already, unchanged),
    /// executable, and returns that path.
    pub fn write(&self) -> Result<PathBuf, Error> {
        let path = self.path();
        if std::fs::read(&path).is_ok_and(|old| old == self.text.as_bytes()) {
            return Ok(path);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        // Written aside and renamed, so a concurrent test process never runs half a script.
        let tmp = dir.join(format!(".{}.{}.tmp", self.name, unique_suffix()));
        std::fs::write(&tmp, self.text)
            .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
        make_executable(&tmp)?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            Error::io(
                format!("renaming {} to {}", tmp.display(), path.display()),
                e,
            )
        })?;
        Ok(path)
    }

    /// Writes and runs the script with `env` (and `MULTICLOUD_CACHE`), at most once per
    /// test process for the same `env`, and returns the last line it printed: where the
    /// installed thing is.
    pub async fn run_once(&self, env: &[(&str, OsString)]) -> Result<PathBuf, Error> {
        let key = format!("{}{env:?}", self.name);
        let mut runs = RUNS.lock().await;
        if let Some(found) = runs.as_ref().and_then(|runs| runs.get(&key)) {
            return Ok(found.clone());
        }
        let found = self.run(env).await?;
        runs.get_or_insert_with(HashMap::new)
            .insert(key, found.clone());
        Ok(found)
    }

    /// Writes and runs the script (see [`run_once`](Self::run_once)).
    async fn run(&self, env: &[(&str, OsString)]) -> Result<PathBuf, Error> {
        let script = self.write()?;
        tracing::info!(script = %script.display(), "making sure a stand-in is installed");
        let output = Command::new("bash")
            .arg(&script)
            .env(CACHE_ENV, cache_dir())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| Error::io(format!("running bash {}", script.display()), e))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let failed = |status: String| {
            let mut text = stdout.clone().into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            Error::InstallFailed {
                script: script.clone(),
                status,
                output_tail: last_lines(&text, LOG_TAIL_LINES),
            }
        };
        if !output.status.success() {
            return Err(failed(output.status.to_string()));
        }
        match stdout.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
            Some(line) if Path::new(line).exists() => Ok(PathBuf::from(line)),
            _ => Err(failed("it succeeded but printed no existing path".into())),
        }
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io(format!("making {} executable", path.display()), e))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<(), Error> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's `scripts/install-*.sh` are the embedded scripts (links to them).
    #[test]
    fn the_repository_scripts_are_the_embedded_ones() {
        // The directory at run time (cargo sets it): a binary built in another checkout
        // sharing the target directory carries that checkout's compile-time path.
        let manifest = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let root = Path::new(&manifest).join("../../scripts");
        for script in [MOTO_INSTALL, AZURITE_INSTALL, K8S_INSTALL] {
            let text = std::fs::read_to_string(root.join(script.name())).expect("script");
            assert_eq!(text, script.text(), "{}", script.name());
            assert!(script.text().starts_with("#!/usr/bin/env bash\n"));
        }
    }

    #[test]
    fn scripts_are_written_to_the_cache_once_and_executable() {
        let path = MOTO_INSTALL.write().expect("written");
        assert_eq!(path, cache_dir().join("scripts/install-moto.sh"));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            MOTO_INSTALL.text()
        );
        let again = MOTO_INSTALL.write().expect("written again");
        assert_eq!(again, path);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111, "{mode:o}");
        }
    }

    #[tokio::test]
    async fn an_install_run_reports_the_installed_path_once() {
        // The Azurite script is a fast no-op once the pinned version is in the cache
        // (installed by scripts/test.sh); it prints the executable.
        let bin = AZURITE_INSTALL.run_once(&[]).await.expect("installed");
        assert!(bin.ends_with("azurite-blob") && bin.is_file(), "{bin:?}");
        let again = AZURITE_INSTALL.run_once(&[]).await.expect("remembered");
        assert_eq!(again, bin);
    }
}
