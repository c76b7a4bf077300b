//! `sweep`: what carries the stack's ownership tags (or every expired stack's, with
//! `--expired`), found by each cloud's sweeper and deleted unless `--dry-run`.

use multicloud_core::ephemeral::{ReapReport, reap_expired};
use multicloud_core::sweep::{SweepFilter, SweepReport, SweptResource};

use crate::cli::{Cloud, SweepArgs};
use crate::commands::{Context, each, settle};
use crate::exit::{CliError, Exit};
use crate::progress::print_line;
use crate::targets::Target;

/// What one cloud's sweep did.
enum Swept {
    /// A sweep of the stack (or of what expired, dry).
    Sweep(SweepReport),
    /// A reap of what expired: resources and state records.
    Reap(ReapReport),
}

/// Sweeps every cloud of the run at once; resources that could not be deleted make the exit
/// [`Exit::Failed`].
pub async fn run(cx: &Context, args: &SweepArgs) -> Result<Exit, CliError> {
    let results = each(&cx.session.targets, |t| sweep(cx, t, args)).await;
    let mut failed = 0;
    let exit = settle(results, cx.json, |cloud, swept| {
        let report = match &swept {
            Swept::Sweep(report) => report,
            Swept::Reap(reap) => &reap.sweep,
        };
        print_report(cloud, report, cx.json);
        if let Swept::Reap(reap) = &swept {
            print_states(cloud, reap, cx.json);
            failed += reap.states_kept.len();
        }
        failed += report.failed.len();
    });
    if failed > 0 {
        return Ok(exit.worst(crate::commands::fail(None, &CliError::SweepFailed(failed))));
    }
    Ok(exit)
}

async fn sweep(cx: &Context, t: &Target, args: &SweepArgs) -> Result<Swept, CliError> {
    let spec = t.stack.spec();
    let sweeper = t.sweeper.as_ref();
    if args.expired && !args.dry_run {
        let reap = reap_expired(t.cloud.name(), sweeper, cx.store.as_ref()).await?;
        return Ok(Swept::Reap(reap));
    }
    let filter = if args.expired {
        SweepFilter::expired(chrono::Utc::now())
    } else if args.every_environment {
        SweepFilter::every_environment_of(&spec.name)
    } else {
        SweepFilter::stack(&spec.name, &spec.environment)
    };
    let report = sweeper
        .sweep(&filter, args.dry_run)
        .await
        .map_err(multicloud_core::Error::from)?;
    Ok(Swept::Sweep(report))
}

fn print_report(cloud: Cloud, report: &SweepReport, json: bool) {
    let status = if report.dry_run { "found" } else { "deleted" };
    let listed = if report.dry_run {
        &report.found
    } else {
        &report.deleted
    };
    for r in listed {
        print_resource(cloud, status, r, None, json);
    }
    for f in &report.failed {
        print_resource(
            cloud,
            "failed",
            &f.resource,
            Some(&f.error.to_string()),
            json,
        );
    }
    if !json {
        print_line(&format!(
            "{cloud}: sweep found {} resource(s){}",
            report.found.len(),
            if report.dry_run {
                " (dry run: nothing deleted)".to_owned()
            } else {
                format!(
                    ", deleted {}, failed {}",
                    report.deleted.len(),
                    report.failed.len()
                )
            }
        ));
    }
}

fn print_resource(cloud: Cloud, status: &str, r: &SweptResource, error: Option<&str>, json: bool) {
    if json {
        let line = serde_json::json!({
            "event": "swept", "cloud": cloud.name(), "status": status, "kind": r.kind,
            "name": r.name, "id": r.id, "error": error,
        });
        print_line(&line.to_string());
    } else {
        let error = error.map(|e| format!(": {e}")).unwrap_or_default();
        print_line(&format!(
            "{cloud:<5} {status:<7} {} {} ({}){error}",
            r.kind, r.name, r.id
        ));
    }
}

fn print_states(cloud: Cloud, reap: &ReapReport, json: bool) {
    let removed = reap.states_removed.iter().map(|key| (key, None));
    let kept = reap.states_kept.iter().map(|(key, why)| (key, Some(why)));
    for (key, kept) in removed.chain(kept) {
        let line = if json {
            let event = if kept.is_some() {
                "state_kept"
            } else {
                "state_removed"
            };
            serde_json::json!({"event": event, "cloud": cloud.name(), "key": key, "reason": kept})
                .to_string()
        } else if let Some(why) = kept {
            format!("{cloud:<5} kept state of {key}: {why}")
        } else {
            format!("{cloud:<5} removed state of {key}")
        };
        print_line(&line);
    }
}
