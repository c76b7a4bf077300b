//! `multicloud-azure-emulator --port N`: the ARM + Key Vault emulator as a process, for
//! programs in other processes and languages. Prints its base URL
//! (`http://127.0.0.1:N`) on the first line of stdout and serves until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use multicloud_azure_emulator::{Emulator, EmulatorConfig};
use std::io::Write;

const USAGE: &str = "usage: multicloud-azure-emulator [--port N] [--page-size N]
  --port N       listen on 127.0.0.1:N (default 0: a free port)
  --page-size N  items per page of list operations without $top (default 1000)";

/// The command line: the port and page size.
fn parse(args: &[String]) -> Result<(u16, Option<usize>), String> {
    let (mut port, mut page_size) = (0, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            "--port" => {
                let v = value("--port")?;
                port = v.parse().map_err(|_| format!("invalid port `{v}`"))?;
            }
            "--page-size" => {
                let v = value("--page-size")?;
                page_size = Some(
                    v.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("invalid page size `{v}`"))?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok((port, page_size))
}

/// Until Ctrl-C or (on Unix) SIGTERM.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port, page_size) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("multicloud-azure-emulator: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
    };
    let mut config = EmulatorConfig::default();
    if let Some(n) = page_size {
        config.page_size = n;
    }
    let emu = match Emulator::start_on(SocketAddr::from(([127, 0, 0, 1], port)), config).await {
        Ok(emu) => emu,
        Err(e) => {
            eprintln!("multicloud-azure-emulator: cannot listen on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", emu.base_url()).is_err() || out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    drop(out);
    eprintln!(
        "multicloud-azure-emulator: serving ARM on {} (subscription {}); Ctrl-C or SIGTERM stops it",
        emu.base_url(),
        emu.subscription()
    );
    shutdown().await;
    drop(emu);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_are_the_port_and_page_size() {
        assert_eq!(parse(&args(&[])), Ok((0, None)));
        assert_eq!(
            parse(&args(&["--port", "8123", "--page-size", "2"])),
            Ok((8123, Some(2)))
        );
        assert!(parse(&args(&["--port"])).is_err());
        assert!(parse(&args(&["--port", "x"])).is_err());
        assert!(parse(&args(&["--page-size", "0"])).is_err());
        assert!(parse(&args(&["--bogus"])).is_err());
    }
}
