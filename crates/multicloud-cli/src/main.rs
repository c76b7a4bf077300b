//! `multicloud`: plan, deploy and tear down a stack described in YAML on AWS, Azure or both,
//! against the real clouds or the local stand-ins (`--local`). See `multicloud --help` and
//! the README's "Command line" section.

mod cli;
mod commands;
mod exit;
mod local;
mod outputs;
mod progress;
mod render;
mod session;
mod spec_file;
mod state_cmd;
mod state_store;
mod status;
mod sweep;
mod targets;

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::exit::Exit;

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Error.into();
        }
    };
    runtime
        .block_on(async {
            let cancel = CancellationToken::new();
            watch_ctrl_c(cancel.clone());
            commands::run(args, cancel).await
        })
        .into()
}

/// Logs to stderr at `warn` (`MULTICLOUD_LOG` to change; kube's start-up probe failures of
/// a local control plane are expected and silenced).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MULTICLOUD_LOG")
        .unwrap_or_else(|_| "warn,kube_client::client::builder=off".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// The first Ctrl-C cancels the run cleanly (running operations finish and are recorded);
/// a second one stops the process at once.
fn watch_ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\nstopping: operations in flight finish and are recorded (Ctrl-C again to stop at once)"
        );
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopped at once: operations in flight may be unrecorded");
            std::process::exit(Exit::INTERRUPTED);
        }
    });
}
