//! `multicloud local`: the stand-ins kept running until Ctrl-C, so that commands with
//! `--local` and the same `--state` directory work on one cloud in turn (`up`, then
//! `outputs`, `down`, `sweep`). Where they listen is written to
//! `<state>/local-session.json` (a name the state store never reads as a stack's).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::cli::Cloud;
use crate::exit::{CliError, Exit};
use crate::local::{self, Running};
use crate::progress::print_line;

/// The session file: where a `multicloud local` process's stand-ins listen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionFile {
    /// The process keeping them (the file of one that is gone is stale).
    pub pid: u32,
    /// moto, if the session runs AWS.
    pub aws: Option<AwsSide>,
    /// The emulator, if the session runs Azure.
    pub azure: Option<AzureSide>,
}

/// moto, and the control plane for AWS's apps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AwsSide {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The control plane's kubeconfig, if the session runs one for AWS.
    pub kubeconfig: Option<PathBuf>,
}

/// The emulator (whose AKS clusters hand out the session's control plane, if any).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AzureSide {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The subscription it pretends to be.
    pub subscription: String,
    /// The tenant it pretends to be.
    pub tenant: String,
    /// Whether its clusters hand out a control plane.
    pub apps: bool,
}

/// `<state>/local-session.json`.
pub fn path(state: &Path) -> PathBuf {
    state.join("local-session.json")
}

/// The running session of `state`, if any (a file whose process is gone is ignored).
pub fn read(state: &Path) -> Result<Option<SessionFile>, CliError> {
    let file = path(state);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::setup(&format!("reading {}", file.display()), e)),
    };
    let session: SessionFile = serde_json::from_str(&text)
        .map_err(|e| CliError::setup(&format!("reading {}", file.display()), e))?;
    if Path::new(&format!("/proc/{}", session.pid)).exists() {
        Ok(Some(session))
    } else {
        tracing::warn!(file = %file.display(), pid = session.pid, "ignoring the file of a local session whose process is gone");
        Ok(None)
    }
}

/// Runs a session for `clouds` (with a control plane per cloud if `apps`) until `cancel`.
pub async fn serve(
    state: &Path,
    clouds: &[Cloud],
    apps: bool,
    json: bool,
    cancel: CancellationToken,
) -> Result<Exit, CliError> {
    if let Some(running) = read(state)? {
        return Err(CliError::Usage(format!(
            "a local session already runs for {} (pid {})",
            state.display(),
            running.pid
        )));
    }
    let (running, session) = tokio::select! {
        started = start(clouds, apps) => started?,
        () = cancel.cancelled() => return Err(CliError::Cancelled),
    };
    let file = path(state);
    write(&file, &session)?;
    announce(state, &session, json);
    cancel.cancelled().await;
    if let Err(e) = std::fs::remove_file(&file) {
        tracing::warn!(file = %file.display(), error = %e, "could not remove the session file");
    }
    running.stop();
    print_line(if json {
        r#"{"event":"local_stopped"}"#
    } else {
        "local stand-ins stopped"
    });
    Ok(Exit::Ok)
}

/// Starts the stand-ins of `clouds` at once.
async fn start(clouds: &[Cloud], apps: bool) -> Result<(Running, SessionFile), CliError> {
    let aws = clouds.contains(&Cloud::Aws);
    let azure = clouds.contains(&Cloud::Azure);
    let (moto, emulator, aws_plane, azure_plane) = tokio::join!(
        async {
            if aws {
                local::start_moto().await.map(Some)
            } else {
                Ok(None)
            }
        },
        async {
            if azure {
                local::start_emulator().await.map(Some)
            } else {
                Ok(None)
            }
        },
        local::plane(apps && aws),
        local::plane(apps && azure),
    );
    let (moto, emulator, aws_plane, azure_plane) = (moto?, emulator?, aws_plane?, azure_plane?);
    if let (Some(emulator), Some(plane)) = (&emulator, &azure_plane) {
        let access = multicloud_azure::emulator::cluster_access(&plane.bearer_credentials());
        emulator.set_cluster_access(access);
    }
    let session = SessionFile {
        pid: std::process::id(),
        aws: moto.as_ref().map(|m| AwsSide {
            endpoint: m.endpoint(),
            kubeconfig: aws_plane
                .as_ref()
                .map(|p| p.kubeconfig_path().to_path_buf()),
        }),
        azure: emulator.as_ref().map(|e| AzureSide {
            port: e.port(),
            subscription: e.subscription(),
            tenant: e.tenant(),
            apps: azure_plane.is_some(),
        }),
    };
    let running = Running {
        moto,
        emulator,
        planes: aws_plane.into_iter().chain(azure_plane).collect(),
    };
    Ok((running, session))
}

fn write(file: &Path, session: &SessionFile) -> Result<(), CliError> {
    let failed =
        |e: &dyn std::fmt::Display| CliError::setup(&format!("writing {}", file.display()), e);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
    }
    let text = serde_json::to_string_pretty(session).map_err(|e| failed(&e))?;
    std::fs::write(file, text).map_err(|e| failed(&e))
}

fn announce(state: &Path, session: &SessionFile, json: bool) {
    if json {
        let line = serde_json::json!({"event": "local_ready", "session": session});
        print_line(&line.to_string());
        return;
    }
    if let Some(aws) = &session.aws {
        print_line(&format!("aws:   moto on {}", aws.endpoint));
    }
    if let Some(azure) = &session.azure {
        print_line(&format!(
            "azure: ARM + Key Vault emulator on 127.0.0.1:{}",
            azure.port
        ));
    }
    print_line(&format!(
        "local stand-ins running: use --local --state {} in other commands; Ctrl-C stops them",
        state.display()
    ));
}
