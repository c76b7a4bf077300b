//! Kill points: SIGKILL of the `multicloud` process at seeded delays during `up` and during
//! `down`, each followed by the same command again until it succeeds; then a no-op plan
//! after `up`, the sweeper's count equal to a clean run's (no duplicates), and nothing
//! found after `down` (no leaks). A re-run refused with exit 5 (locked) means a manual
//! `state unlock` would have been needed: counted, and the lock broken so that the run
//! goes on.

use std::path::Path;
use std::time::Duration;

use crate::checks::{ApiServer, Seeded, plan_changes, secs, swept};
use crate::cli::{Error, Mc};
use crate::report::{Report, tail};

/// Re-runs of one command after a kill before giving up.
const MAX_RERUNS: usize = 4;

/// What a scenario counted.
#[derive(Debug, Default)]
struct Counts {
    landed: [usize; 2],
    reruns_failed: usize,
    unlocks: usize,
    duplicates: usize,
    leaks: usize,
    not_noop: usize,
    rerun_time: [Duration; 2],
}

/// Runs `points` kill points during `up` and as many during `down` of `spec`; with `api`,
/// the app's objects left on the control plane after each `down` count as leaks too.
pub async fn run(
    mc: &Mc,
    spec: &Path,
    label: &str,
    points: usize,
    seed: u64,
    api: Option<&ApiServer>,
    report: &mut Report,
) -> Result<(), Error> {
    let scenario = format!("kill points ({}, {label})", mc.cloud);
    let Some((t_up, t_down, baseline)) = baseline(mc, spec, &scenario, api, report).await? else {
        report.row(scenario, 2, false, "the clean up/down failed".into());
        return Ok(());
    };
    let mut rng = Seeded::new(seed);
    let mut counts = Counts::default();
    for point in 0..points {
        let at = format!("seed {seed} point {point}");
        let delay = rng.delay_within(t_up);
        kill_and_converge(mc, spec, "up", delay, &at, &scenario, &mut counts, report).await?;
        let after = format!("killed at {} ({at})", secs(delay));
        check_up(mc, spec, &scenario, &after, baseline, &mut counts, report).await?;
        let delay = rng.delay_within(t_down);
        kill_and_converge(mc, spec, "down", delay, &at, &scenario, &mut counts, report).await?;
        let mut left = swept(mc, spec).await.map_err(Error::from)?;
        if let Some(api) = api {
            left.extend(api.objects().await.map_err(Error::from)?);
        }
        if !left.is_empty() {
            counts.leaks += left.len();
            report.defect(
                &scenario,
                format!("sweep after down killed at {} ({at})", secs(delay)),
                format!("left behind: {left:?}"),
            );
        }
    }
    let ok =
        counts.reruns_failed + counts.unlocks + counts.duplicates + counts.leaks + counts.not_noop
            == 0;
    let mean = |i: usize| secs(counts.rerun_time[i] / u32::try_from(points.max(1)).unwrap_or(1));
    let figures = format!(
        "{points}+{points} kills (landed {}/{}), re-runs failed {}, unlocks {}, dups {}, leaks {}{}, \
         plans not no-op {}; clean up {} down {}; mean re-run up {} down {}; {baseline} resources",
        counts.landed[0],
        counts.landed[1],
        counts.reruns_failed,
        counts.unlocks,
        counts.duplicates,
        counts.leaks,
        if api.is_some() {
            " (cloud + API server)"
        } else {
            ""
        },
        counts.not_noop,
        secs(t_up),
        secs(t_down),
        mean(0),
        mean(1),
    );
    report.row(scenario, 2 + points * 4, ok, figures);
    Ok(())
}

/// After a converged `up`: a no-op plan, and the sweeper's count of a clean `up`.
async fn check_up(
    mc: &Mc,
    spec: &Path,
    scenario: &str,
    after: &str,
    baseline: usize,
    counts: &mut Counts,
    report: &mut Report,
) -> Result<(), Error> {
    match plan_changes(mc, spec).await {
        Ok(changes) if changes.is_empty() => {}
        Ok(changes) => {
            counts.not_noop += 1;
            report.defect(
                scenario,
                format!("plan after up {after}"),
                changes.join("; "),
            );
        }
        Err(e) => report.defect(scenario, format!("plan after up {after}"), e),
    }
    let found = swept(mc, spec).await.map_err(Error::from)?;
    if found.len() != baseline {
        counts.duplicates += found.len().saturating_sub(baseline);
        report.defect(
            scenario,
            format!("sweep after up {after}"),
            format!(
                "{} resources, a clean up has {baseline}: {found:?}",
                found.len()
            ),
        );
    }
    Ok(())
}

/// A clean `up` and `down`: their durations and the sweeper's count after `up`.
async fn baseline(
    mc: &Mc,
    spec: &Path,
    scenario: &str,
    api: Option<&ApiServer>,
    report: &mut Report,
) -> Result<Option<(Duration, Duration, usize)>, Error> {
    let up = mc.run(spec, &["up"]).await?;
    if !up.ok() {
        report.defect(scenario, "clean up", tail(&up.stderr, 400));
        return Ok(None);
    }
    match plan_changes(mc, spec).await {
        Ok(changes) if changes.is_empty() => {}
        other => report.defect(scenario, "plan after a clean up", format!("{other:?}")),
    }
    let count = swept(mc, spec).await.map_err(Error::from)?.len();
    if let Some(api) = api {
        let objects = api.objects().await.map_err(Error::from)?;
        if objects.is_empty() {
            report.defect(
                scenario,
                "the API server after a clean up",
                "no object of the stack: the leak check would see nothing",
            );
            return Ok(None);
        }
    }
    let down = mc.run(spec, &["down"]).await?;
    if !down.ok() {
        report.defect(scenario, "clean down", tail(&down.stderr, 400));
        return Ok(None);
    }
    let left = swept(mc, spec).await.map_err(Error::from)?;
    if !left.is_empty() {
        report.defect(scenario, "sweep after a clean down", format!("{left:?}"));
        return Ok(None);
    }
    Ok(Some((up.elapsed, down.elapsed, count)))
}

/// `command` killed after `delay`, then run again until it succeeds.
#[allow(clippy::too_many_arguments)]
async fn kill_and_converge(
    mc: &Mc,
    spec: &Path,
    command: &str,
    delay: Duration,
    at: &str,
    scenario: &str,
    counts: &mut Counts,
    report: &mut Report,
) -> Result<(), Error> {
    let i = usize::from(command == "down");
    let killed = mc.run_killed(spec, &[command], delay).await?;
    if killed.killed {
        counts.landed[i] += 1;
    } else if !killed.ok() {
        report.defect(
            scenario,
            format!("multicloud {command} before its kill ({at})"),
            format!("exit {:?}: {}", killed.code, tail(&killed.stderr, 400)),
        );
    }
    for attempt in 1..=MAX_RERUNS {
        let rerun = mc.run(spec, &[command]).await?;
        counts.rerun_time[i] += rerun.elapsed;
        if rerun.ok() {
            return Ok(());
        }
        let what = format!(
            "multicloud {command} re-run {attempt} after SIGKILL at {} ({at})",
            secs(delay)
        );
        counts.reruns_failed += 1;
        report.defect(
            scenario,
            what,
            format!("exit {:?}: {}", rerun.code, tail(&rerun.stderr, 400)),
        );
        if rerun.code == Some(5) {
            counts.unlocks += 1;
            mc.run(spec, &["state", "unlock"]).await?;
        }
    }
    Err(format!("{scenario}: {command} did not converge after {MAX_RERUNS} re-runs ({at})").into())
}
