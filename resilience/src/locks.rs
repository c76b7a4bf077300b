//! Locks: two `multicloud up` of the same stack at once (exactly one proceeds, the other
//! exits 5 naming the holder), then `up` while `down` runs (exit 5); the state intact
//! afterwards (a no-op plan after the `up`, nothing found by the sweeper after the `down`).
//! The second race runs on the example spec, whose `down` lasts long enough on the paced
//! stand-ins for an `up` started once its lock file exists to meet it.

use std::path::Path;
use std::time::Duration;

use crate::checks::{plan_changes, swept};
use crate::cli::{Error, Mc, Outcome};
use crate::report::{Report, tail};

/// The exit code of a run refused by the state lock.
const LOCKED: i32 = 5;

/// Runs the `up` race on `spec`, the `up`-while-`down` race on `long` (a stack that is down).
pub async fn run(mc: &Mc, spec: &Path, long: &Path, report: &mut Report) -> Result<(), Error> {
    let scenario = format!("locks ({})", mc.cloud);
    let (ups_ok, codes) = two_ups(mc, spec, &scenario, report).await?;
    let (down_ok, code, left) = up_during_down(mc, long, &scenario, report).await?;
    let figures = format!(
        "up+up: exits {:?}/{:?}; up during down: exit {code:?}; leftovers {left}",
        codes.0, codes.1
    );
    report.row(scenario, 6, ups_ok && down_ok, figures);
    Ok(())
}

/// Two `up` at once, then a no-op plan and a clean `down`: whether all held, and the exits.
async fn two_ups(
    mc: &Mc,
    spec: &Path,
    scenario: &str,
    report: &mut Report,
) -> Result<(bool, (Option<i32>, Option<i32>)), Error> {
    let mut ok = true;
    let first = mc.spawn(spec, &["up"])?;
    let second = mc.spawn(spec, &["up"])?;
    let (a, b) = tokio::join!(first.finish(None), second.finish(None));
    let (a, b) = (a?, b?);
    let race = match (a.code, b.code) {
        (Some(0), Some(LOCKED)) => names_holder(&b, &a),
        (Some(LOCKED), Some(0)) => names_holder(&a, &b),
        _ => Err(format!(
            "exits {:?} and {:?}: {} | {}",
            a.code,
            b.code,
            tail(&a.stderr, 200),
            tail(&b.stderr, 200)
        )),
    };
    if let Err(e) = race {
        ok = false;
        report.defect(scenario, "two `multicloud up` at once", e);
    }
    match plan_changes(mc, spec).await {
        Ok(changes) if changes.is_empty() => {}
        other => {
            ok = false;
            report.defect(scenario, "plan after the two ups", format!("{other:?}"));
        }
    }
    let cleaned = mc.run(spec, &["down"]).await?;
    if !cleaned.ok() || !swept(mc, spec).await.map_err(Error::from)?.is_empty() {
        ok = false;
        report.defect(
            scenario,
            "down after the two ups",
            tail(&cleaned.stderr, 300),
        );
    }
    Ok((ok, (a.code, b.code)))
}

/// `up` of `long`, then its `down` with an `up` started once the lock is held: whether all
/// held, the raced `up`'s exit, and what the sweeper found afterwards.
async fn up_during_down(
    mc: &Mc,
    long: &Path,
    scenario: &str,
    report: &mut Report,
) -> Result<(bool, Option<i32>, usize), Error> {
    let mut ok = true;
    let long_up = mc.run(long, &["up"]).await?;
    if !long_up.ok() {
        report.defect(
            scenario,
            "up of the example spec",
            tail(&long_up.stderr, 300),
        );
    }
    let down = mc.spawn(long, &["down"])?;
    wait_for_lock(&mc.state).await;
    let up = mc.run(long, &["up"]).await?;
    let down = down.finish(None).await?;
    let refused = if up.code == Some(LOCKED) {
        names_holder(&up, &down)
    } else {
        Err(format!(
            "up exited {:?} (down {:?} after {:.1}s): {}",
            up.code,
            down.code,
            down.elapsed.as_secs_f64(),
            tail(&up.stderr, 300)
        ))
    };
    if let Err(e) = refused {
        ok = false;
        report.defect(scenario, "`multicloud up` while `down` runs", e);
    }
    if !down.ok() {
        ok = false;
        report.defect(scenario, "the `down` raced", tail(&down.stderr, 300));
    }
    let left = swept(mc, long).await.map_err(Error::from)?;
    if !left.is_empty() {
        ok = false;
        report.defect(scenario, "sweep after the raced down", format!("{left:?}"));
    }
    Ok((ok, up.code, left.len()))
}

/// Whether the refused run's error names the holder (its process id).
fn names_holder(refused: &Outcome, holder: &Outcome) -> Result<(), String> {
    let pid = format!("pid {}", holder.pid);
    if refused.stderr.contains("locked") && refused.stderr.contains(&pid) {
        Ok(())
    } else {
        Err(format!(
            "the refusal does not name {pid}: {}",
            tail(&refused.stderr, 300)
        ))
    }
}

/// Waits (up to 20 s) until a lock file exists in the state directory `dir`.
async fn wait_for_lock(dir: &Path) {
    for _ in 0..2000 {
        if has_lock(dir) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn has_lock(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let path = e.path();
        if path.is_dir() {
            has_lock(&path)
        } else {
            path.extension().is_some_and(|x| x == "lock")
        }
    })
}
