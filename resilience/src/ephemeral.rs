//! Concurrent ephemeral environments: `n` [`EphemeralEnv`]s of the small stack up at once
//! on one stand-in, then down at once; the sweeper finds nothing of any of them. Wall time
//! and this process's peak memory (VmHWM) are printed.

use std::time::Instant;

use multicloud_core::EphemeralEnv;

use crate::checks::secs;
use crate::cli::Error;
use crate::inproc::{StandIn, peak_mib, small_spec};
use crate::report::Report;

/// The stack name of the environments.
const STACK: &str = "eph";

/// Runs `n` environments at once on a fresh stand-in of `cloud`.
pub async fn run(cloud: &str, n: usize, report: &mut Report) -> Result<(), Error> {
    let scenario = format!("ephemeral x{n} ({cloud})");
    let stand_in = StandIn::start(cloud).await?;
    let side = stand_in.side(stand_in.addr().port()).await?;
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let ups = (0..n).map(|i| {
        let spec = small_spec(STACK, &format!("ci-{i}"), stand_in.region());
        let side = &side;
        let dir = dir.path();
        async move {
            let mut builder = EphemeralEnv::builder(spec?, side.provider.clone())
                .state(multicloud_core::prelude::LocalStateStore::new(dir))
                .keep(false);
            if let Some(options) = &side.options {
                builder = builder.options(options.clone());
            }
            Ok::<_, Error>(builder.up().await?)
        }
    });
    let results = futures::future::join_all(ups).await;
    let up_time = started.elapsed();
    let mut failed = 0;
    let mut envs = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(env) => envs.push(env),
            Err(e) => {
                failed += 1;
                report.defect(&scenario, format!("EphemeralEnv::up ci-{i}"), e.to_string());
            }
        }
    }
    let downs = envs.into_iter().map(|env| async move {
        let name = env.environment().to_owned();
        (name, env.down().await)
    });
    let started_down = Instant::now();
    for (name, result) in futures::future::join_all(downs).await {
        if let Err(e) = result {
            failed += 1;
            report.defect(
                &scenario,
                format!("EphemeralEnv::down {name}"),
                e.to_string(),
            );
        }
    }
    let down_time = started_down.elapsed();
    let left = side.leftovers(STACK).await?;
    if !left.is_empty() {
        report.defect(&scenario, "sweep after every down", format!("{left:?}"));
    }
    let figures = format!(
        "{} up, {failed} failed, {} leaks; up {} down {}; peak RSS {:.0} MiB",
        n - failed.min(n),
        left.len(),
        secs(up_time),
        secs(down_time),
        peak_mib().unwrap_or(f64::NAN)
    );
    report.row(scenario, n * 2, failed == 0 && left.is_empty(), figures);
    Ok(())
}
