//! Secrets: a run with `MULTICLOUD_LOG=trace` and `--json` (`up`, `plan`, `outputs`,
//! `state show`, `down`: stdout and stderr), the state files, and the Debug output of the
//! stack's outputs, plan, spec and secret values read in process, scanned for every
//! generated secret value and the database password (read with `outputs --show-secrets`,
//! the one output left out of the scan): 0 occurrences is the target.

use std::path::Path;
use std::sync::Arc;

use multicloud_core::prelude::*;

use crate::cli::{Error, Mc};
use crate::report::{Report, tail};

/// Runs the scan on the session of `mc` (whose `session` is the session file).
pub async fn run(
    mc: &Mc,
    session: &serde_json::Value,
    spec: &Path,
    report: &mut Report,
) -> Result<(), Error> {
    let scenario = format!("secrets ({})", mc.cloud);
    let mut corpus: Vec<(String, String)> = Vec::new();
    for args in [&["up"][..], &["plan"], &["outputs"], &["state", "show"]] {
        let out = mc.run(spec, args).await?;
        if !out.ok() {
            report.defect(
                &scenario,
                format!("multicloud {}", args.join(" ")),
                tail(&out.stderr, 300),
            );
        }
        corpus.push((format!("{} stdout", args.join(" ")), out.stdout));
        corpus.push((format!("{} stderr", args.join(" ")), out.stderr));
    }
    let shown = mc.run(spec, &["outputs", "--show-secrets"]).await?;
    let needles = needles(&shown.stdout, mc.cloud);
    corpus.extend(state_files(&mc.state)?);
    corpus.extend(debug_output(mc.cloud, session, spec, &mc.state).await?);
    let down = mc.run(spec, &["down"]).await?;
    if !down.ok() {
        report.defect(&scenario, "multicloud down", tail(&down.stderr, 300));
    }
    let down_ok = down.ok();
    corpus.push(("down stdout".into(), down.stdout));
    corpus.push(("down stderr".into(), down.stderr));
    corpus.extend(state_files(&mc.state)?);
    let mut found = 0;
    for (name, needle) in &needles {
        for (place, text) in &corpus {
            let n = text.matches(needle.as_str()).count();
            if n > 0 {
                found += n;
                report.defect(
                    &scenario,
                    format!("{name} in {place}"),
                    format!("{n} occurrence(s)"),
                );
            }
        }
    }
    let bytes: usize = corpus.iter().map(|(_, t)| t.len()).sum();
    let ok = found == 0 && needles.len() >= 2 && down_ok;
    if needles.len() < 2 {
        report.defect(
            &scenario,
            "outputs --show-secrets",
            format!("secrets read: {needles:?}"),
        );
    }
    let figures = format!(
        "{} values scanned in {} texts ({bytes} bytes): {found} occurrences",
        needles.len(),
        corpus.len()
    );
    report.row(scenario, 7, ok, figures);
    Ok(())
}

/// The secret values of `outputs --show-secrets --json` of `cloud`, and the passwords of
/// its connection URLs.
fn needles(stdout: &str, cloud: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(outputs) = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|l| l.get(cloud).cloned())
    else {
        return out;
    };
    if let Some(values) = outputs.get("secret_values").and_then(|v| v.as_object()) {
        for (name, value) in values {
            if let Some(v) = value.as_str().filter(|v| v.len() >= 6) {
                out.push((format!("secret {name}"), v.to_owned()));
            }
        }
    }
    if let Some(urls) = outputs.get("connections").and_then(|v| v.as_object()) {
        for (name, url) in urls {
            if let Some(password) = url.as_str().and_then(password_of).filter(|p| p.len() >= 6) {
                out.push((format!("password of {name}"), password));
            }
        }
    }
    out
}

/// The password of `scheme://user:password@host...`.
fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.rsplit_once('@')?.0;
    Some(userinfo.split_once(':')?.1.to_owned())
}

/// Every file under the state directory (the session's stand-ins' file included).
fn state_files(dir: &Path) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                out.push((format!("state file {}", path.display()), text));
            }
        }
    }
    Ok(out)
}

/// The Debug output of what a program holds: the spec, the outputs, the plan, the database
/// URL and each secret's value, on the session's stand-in with the CLI's state.
async fn debug_output(
    cloud: &str,
    session: &serde_json::Value,
    spec: &Path,
    state: &Path,
) -> Result<Vec<(String, String)>, Error> {
    let spec = StackSpec::from_yaml(&std::fs::read_to_string(spec)?)?;
    let side = session
        .get(cloud)
        .ok_or("no stand-in of the cloud in the session")?;
    let mut stack = if cloud == "aws" {
        let endpoint = side
            .get("endpoint")
            .and_then(|v| v.as_str())
            .ok_or("no endpoint")?;
        let sdk = multicloud_aws::testing::sdk_config_at(endpoint, "us-east-1").await;
        Stack::new(
            spec.clone(),
            Arc::new(multicloud_aws::AwsProvider::from_sdk_config(&sdk)),
        )
    } else {
        let s = |k: &str| {
            side.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let port = side.get("port").and_then(|v| v.as_u64()).ok_or("no port")?;
        let provider = multicloud_azure::AzureProvider::emulator_at(
            u16::try_from(port)?,
            s("subscription"),
            s("tenant"),
        )
        .build()?;
        Stack::new(spec.clone(), Arc::new(provider))
            .options(multicloud_azure::emulator::engine_options())
    };
    stack = stack.state(LocalStateStore::new(state));
    let outputs = stack.outputs().await;
    let mut texts = vec![
        ("Debug of the spec".into(), format!("{spec:?} {spec:#?}")),
        (
            "Debug of the outputs".into(),
            format!("{outputs:?} {outputs:#?}"),
        ),
        (
            "Debug of the plan".into(),
            format!("{:?}", stack.plan().await),
        ),
        (
            "Debug of the database URL".into(),
            format!("{:?}", stack.database_url().await),
        ),
    ];
    if let Ok(outputs) = outputs {
        for secret in outputs.secrets.values() {
            let value = stack.provider().secrets().get_secret(&secret.name).await;
            texts.push((
                format!("Debug of secret {}", secret.name),
                format!("{value:?}"),
            ));
        }
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secret_values_are_the_needles() {
        let stdout = r#"{"aws":{"secret_values":{"token":"abcdefgh123"},"connections":{"database_url":"postgresql://app:s3cr3t-pw@db:5432/app","cache_url":"redis://cache:6379"}}}"#;
        let n = needles(stdout, "aws");
        assert_eq!(
            n,
            vec![
                ("secret token".to_owned(), "abcdefgh123".to_owned()),
                (
                    "password of database_url".to_owned(),
                    "s3cr3t-pw".to_owned()
                ),
            ]
        );
        assert!(needles(stdout, "azure").is_empty());
    }
}
