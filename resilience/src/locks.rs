//! Locks: two `multicloud up` of the same stack at once (exactly one proceeds, the other
//! exits 5 naming the holder), then `up` while `down` runs (exit 5); the state intact
//! afterwards (a no-op plan after the `up`, nothing found by the sweeper after the `down`).

use std::path::Path;
use std::time::Duration;

use crate::checks::{plan_changes, swept};
use crate::cli::{Error, Mc, Outcome};
use crate::report::{Report, tail};

/// The exit code of a run refused by the state lock.
const LOCKED: i32 = 5;

/// Runs both races on the stack of `spec`.
pub async fn run(mc: &Mc, spec: &Path, report: &mut Report) -> Result<(), Error> {
    let scenario = format!("locks ({})", mc.cloud);
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
        report.defect(&scenario, "two `multicloud up` at once", e);
    }
    match plan_changes(mc, spec).await {
        Ok(0) => {}
        other => {
            ok = false;
            report.defect(&scenario, "plan after the two ups", format!("{other:?}"));
        }
    }
    let down = mc.spawn(spec, &["down"])?;
    // `down` takes the lock before its first read: let it start.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let up = mc.run(spec, &["up"]).await?;
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
        report.defect(&scenario, "`multicloud up` while `down` runs", e);
    }
    if !down.ok() {
        ok = false;
        report.defect(&scenario, "the `down` raced", tail(&down.stderr, 300));
    }
    let left = swept(mc, spec).await.map_err(Error::from)?;
    if !left.is_empty() {
        ok = false;
        report.defect(&scenario, "sweep after the raced down", format!("{left:?}"));
    }
    let figures = format!(
        "up+up: exits {:?}/{:?}; up during down: exit {:?}; leftovers {}",
        a.code,
        b.code,
        up.code,
        left.len()
    );
    report.row(scenario, 4, ok, figures);
    Ok(())
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
