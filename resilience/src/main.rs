//! `resilience`: the figures of issue 18 §2 on the local stand-ins (moto for AWS, the ARM +
//! Key Vault emulator for Azure, a local Kubernetes control plane for the app), printed as
//! one table (`scenario | runs | result | figures`). Run by `scripts/resilience.sh`.
//!
//! ```text
//! resilience [--reduced] [--seed N] [--cloud aws|azure|both] [--only kill,locks,ephemeral,faults,secrets]
//! ```
//!
//! `--reduced` is CI's short run; the default is the full run. The exit code is 1 when a
//! correctness target is missed (a failed run, a leak, a duplicate, a manual unlock, a
//! secret found), 2 on bad arguments; timings are printed, never asserted.

mod checks;
mod cli;
mod ephemeral;
mod faults;
mod inproc;
mod kill;
mod locks;
mod report;
mod secrets;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cli::{Error, Mc, Session};
use report::Report;

/// What to run.
#[derive(Debug, Clone)]
struct Config {
    reduced: bool,
    seed: u64,
    clouds: Vec<&'static str>,
    only: Option<Vec<String>>,
}

impl Config {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut config = Self {
            reduced: false,
            seed: 18,
            clouds: vec!["aws", "azure"],
            only: None,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--reduced" => config.reduced = true,
                "--seed" => config.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
                "--cloud" => {
                    config.clouds = match value()?.as_str() {
                        "aws" => vec!["aws"],
                        "azure" => vec!["azure"],
                        "both" => vec!["aws", "azure"],
                        other => return Err(format!("--cloud {other}: aws, azure or both")),
                    }
                }
                "--only" => config.only = Some(value()?.split(',').map(str::to_owned).collect()),
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(config)
    }

    fn wants(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|s| s == scenario))
    }

    /// Kill points per command: on the small spec, and on the example spec with its app.
    fn kill_points(&self) -> (usize, usize) {
        if self.reduced { (3, 1) } else { (50, 50) }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let config = match Config::parse(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("resilience: {e}");
            return ExitCode::from(2);
        }
    };
    let mut report = Report::default();
    let logs = std::env::temp_dir().join(format!("resilience-{}", std::process::id()));
    if let Err(e) = run_all(&config, &logs, &mut report).await {
        report.defect("suite", "setting up", e.to_string());
        report.row("suite", 0, false, format!("stopped: {e}"));
    }
    println!("\n{}", report.render());
    println!("command logs: {}", logs.display());
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run_all(config: &Config, logs: &Path, report: &mut Report) -> Result<(), Error> {
    std::fs::create_dir_all(logs)?;
    let bin = cli::binary()?;
    for &cloud in &config.clouds {
        if ["kill", "locks", "secrets"].iter().any(|s| config.wants(s)) {
            let result = cli_scenarios(config, &bin, cloud, logs, report).await;
            failed_scenario(report, &format!("command line ({cloud})"), result);
        }
        if config.wants("ephemeral") {
            let n = if config.reduced { 5 } else { 20 };
            let result = ephemeral::run(cloud, n, report).await;
            failed_scenario(report, &format!("ephemeral ({cloud})"), result);
        }
        if config.wants("faults") {
            let rates: &[f64] = if config.reduced {
                &[0.10]
            } else {
                &[0.10, 0.30]
            };
            let result = faults::run(cloud, rates, config.seed, report).await;
            failed_scenario(report, &format!("faults ({cloud})"), result);
        }
    }
    Ok(())
}

/// A scenario that could not go on: a failed row with why.
fn failed_scenario(report: &mut Report, scenario: &str, result: Result<(), Error>) {
    if let Err(e) = result {
        report.defect(scenario, "the scenario stopped", e.to_string());
        report.row(
            scenario,
            0,
            false,
            format!("stopped: {}", report::tail(&e.to_string(), 120)),
        );
    }
}

/// The scenarios that drive the command line, on one `multicloud local --apps` session.
async fn cli_scenarios(
    config: &Config,
    bin: &Path,
    cloud: &'static str,
    logs: &Path,
    report: &mut Report,
) -> Result<(), Error> {
    let session = Session::start(bin, cloud, true).await?;
    let specs: PathBuf = session.state.path().join("specs");
    std::fs::create_dir_all(&specs)?;
    let mc = Mc::new(bin, session.state.path(), cloud, logs);
    let result = async {
        let (small_points, app_points) = config.kill_points();
        if config.wants("kill") {
            let small = checks::small_spec(&specs, "kill")?;
            let seed = config.seed;
            kill::run(&mc, &small, "small spec", small_points, seed, None, report).await?;
            let app = checks::app_spec()?;
            let api = api_server(&session.file()?, cloud, &app)?;
            let label = "example + app";
            kill::run(&mc, &app, label, app_points, seed, api.as_ref(), report).await?;
        }
        if config.wants("locks") {
            let small = checks::small_spec(&specs, "locks")?;
            locks::run(&mc, &small, &checks::app_spec()?, report).await?;
        }
        if config.wants("secrets") {
            let mut traced = Mc::new(bin, session.state.path(), cloud, logs);
            traced.set_env("MULTICLOUD_LOG", "trace");
            let spec = checks::small_spec(&specs, "secrets")?;
            secrets::run(&traced, &session.file()?, &spec, report).await?;
        }
        Ok::<_, Error>(())
    }
    .await;
    session.stop().await?;
    result
}

/// The objects of `spec`'s apps on `cloud`'s control plane, where the session file says
/// (AWS's: its kubeconfig; the emulator's AKS hands out its own, which the file does not
/// name: `None`).
fn api_server(
    session: &serde_json::Value,
    cloud: &str,
    spec: &Path,
) -> Result<Option<checks::ApiServer>, Error> {
    let Some(kubeconfig) = session
        .get(cloud)
        .and_then(|side| side.get("kubeconfig"))
        .and_then(|k| k.as_str())
    else {
        return Ok(None);
    };
    let spec = multicloud_core::StackSpec::from_yaml(&std::fs::read_to_string(spec)?)?;
    Ok(Some(checks::ApiServer {
        kubeconfig: PathBuf::from(kubeconfig),
        selector: format!(
            "multicloud.dev/stack={},multicloud.dev/env={}",
            spec.name, spec.environment
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_and_bad_ones_are_refused() {
        let args = |a: &[&str]| Config::parse(a.iter().map(|s| (*s).to_owned()));
        let config = args(&["--reduced", "--cloud", "azure", "--only", "kill,locks"]).expect("ok");
        assert!(config.reduced && config.clouds == ["azure"]);
        assert!(config.wants("kill") && !config.wants("faults"));
        assert_eq!(config.kill_points(), (3, 1));
        assert_eq!(args(&[]).expect("ok").kill_points(), (50, 50));
        assert!(args(&["--cloud", "gcp"]).is_err() && args(&["--seed"]).is_err());
    }
}
