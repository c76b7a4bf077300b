//! The commands: dispatch, and what `plan`, `up`, `down`, `refresh` and `graph` do on every
//! cloud of the run at once.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use multicloud_core::plan::{Plan, PlanOptions};
use multicloud_core::refresh::RefreshReport;
use multicloud_core::state::StateStore;
use tokio_util::sync::CancellationToken;

use crate::cli::{Args, Cloud, Command, GraphArgs, PlanArgs, Selection, StateCommand};
use crate::exit::{CliError, Exit};
use crate::progress::{Mode, Progress, print_line};
use crate::render::{self, PlanFormat};
use crate::state_store::Location;
use crate::targets::{Session, Setup, Target};
use crate::{outputs, session, spec_file, state_cmd, status, sweep};

/// What a command needs besides its own arguments.
pub struct Context {
    /// The clouds' targets (their stand-ins run while this lives).
    pub session: Session,
    /// The state store.
    pub store: Arc<dyn StateStore>,
    /// `--json`.
    pub json: bool,
    /// Ctrl-C.
    pub cancel: CancellationToken,
}

/// Runs the command of `args`; Ctrl-C cancels through `cancel`.
pub async fn run(args: Args, cancel: CancellationToken) -> Exit {
    match execute(args, cancel).await {
        Ok(exit) => exit,
        Err(e) => {
            fail(None, &e);
            e.exit()
        }
    }
}

async fn execute(args: Args, cancel: CancellationToken) -> Result<Exit, CliError> {
    let global = &args.global;
    let location = Location::parse(&global.state)?;
    if global.local && !location.is_local() {
        return Err(CliError::Usage(
            "--local keeps state in a local directory: the stand-ins' own storage ends with the run"
                .into(),
        ));
    }
    let clouds = global.cloud.clouds();
    match &args.command {
        Command::State(state) if matches!(state.command, StateCommand::List) => {
            return state_cmd::list(&location, global.json).await;
        }
        Command::Local(local) => {
            let Location::Dir(dir) = &location else {
                return Err(CliError::Usage(
                    "`local` keeps state in a local directory".into(),
                ));
            };
            return session::serve(dir, clouds, local.apps, global.json, cancel).await;
        }
        _ => {}
    }
    let spec = spec_file::load(&global.file, clouds)?;
    let session = match (&location, global.local) {
        (Location::Dir(dir), true) => session::read(dir)?,
        _ => None,
    };
    let store = location.open().await?;
    let setup = Setup {
        spec: &spec,
        store: store.clone(),
        cancel: cancel.clone(),
        local: global.local,
        session,
    };
    let session = until_cancelled(&cancel, Session::open(&setup, clouds)).await?;
    let cx = Context {
        session,
        store,
        json: global.json,
        cancel,
    };
    dispatch(args.command, &cx).await
}

async fn dispatch(command: Command, cx: &Context) -> Result<Exit, CliError> {
    let cancel = &cx.cancel;
    match command {
        Command::Plan(plan_args) => until_cancelled(cancel, plan(cx, &plan_args)).await,
        Command::Up(up_args) => Ok(up(cx, &up_args.selection).await),
        Command::Down => Ok(down(cx).await),
        // One read per resource under the lock, then one save: let it finish.
        Command::Refresh => refresh(cx).await,
        Command::Outputs(o) => until_cancelled(cancel, outputs::run(cx, o.show_secrets)).await,
        Command::Status => until_cancelled(cancel, status::run(cx)).await,
        Command::Sweep(s) => until_cancelled(cancel, sweep::run(cx, &s)).await,
        Command::Graph(g) => until_cancelled(cancel, graph(cx, &g)).await,
        Command::State(s) => until_cancelled(cancel, state_cmd::run(cx, &s.command)).await,
        Command::Local(_) => Ok(Exit::Ok),
    }
}

/// `f`, or [`CliError::Cancelled`] as soon as Ctrl-C is pressed (for what changes nothing).
async fn until_cancelled<T>(
    cancel: &CancellationToken,
    f: impl Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    tokio::select! {
        result = f => result,
        () = cancel.cancelled() => Err(CliError::Cancelled),
    }
}

/// Runs `f` on every target at once; each result with its cloud, in target order.
pub async fn each<'a, T, F, Fut>(targets: &'a [Target], f: F) -> Vec<(Cloud, Result<T, CliError>)>
where
    F: Fn(&'a Target) -> Fut,
    Fut: Future<Output = Result<T, CliError>>,
{
    let runs = targets.iter().map(|t| {
        let run = f(t);
        async move { (t.cloud, run.await) }
    });
    futures::future::join_all(runs).await
}

/// Prints `e` (of `cloud`, if one) to stderr and returns its exit.
pub fn fail(cloud: Option<Cloud>, e: &CliError) -> Exit {
    let exit = e.exit();
    let prefix = cloud.map(|c| format!("{c}: ")).unwrap_or_default();
    let hint = match exit {
        Exit::Cancelled => {
            "\n  (what completed is recorded in state; run the command again to go on)"
        }
        Exit::Locked => "\n  (wait for the other run, or `multicloud state unlock` after a crash)",
        _ => "",
    };
    eprintln!("error: {prefix}{e}{hint}");
    exit
}

/// The exit of a run of several clouds: each failure printed, the worst exit returned, and
/// the successes handed to `ok`.
pub fn settle<T>(
    results: Vec<(Cloud, Result<T, CliError>)>,
    json: bool,
    mut ok: impl FnMut(Cloud, T),
) -> Exit {
    let mut exit = Exit::Ok;
    for (cloud, result) in results {
        match result {
            Ok(value) => ok(cloud, value),
            Err(e) => {
                if json {
                    let line = serde_json::json!({
                        "event": "error", "cloud": cloud.name(),
                        "exit_code": e.exit().code(), "error": e.to_string(),
                    });
                    print_line(&line.to_string());
                }
                exit = exit.worst(fail(Some(cloud), &e));
            }
        }
    }
    exit
}

/// The engine's plan options of `--target` and `--replace`.
fn options(selection: &Selection) -> PlanOptions {
    let mut options = PlanOptions::new();
    if let Some(target) = &selection.target {
        options = options.target(target.as_str());
    }
    for id in &selection.replace {
        options = options.replace(id.as_str());
    }
    options
}

async fn plan_of(t: &Target, destroy: bool, selection: &Selection) -> Result<Plan, CliError> {
    let plan = if destroy {
        t.stack.plan_down().await?
    } else {
        t.stack.plan_with(&options(selection)).await?
    };
    Ok(plan)
}

async fn plan(cx: &Context, args: &PlanArgs) -> Result<Exit, CliError> {
    let format = match (cx.json, args.dot, args.mermaid) {
        (true, _, _) => PlanFormat::Json,
        (_, true, _) => PlanFormat::Dot,
        (_, _, true) => PlanFormat::Mermaid,
        _ => PlanFormat::Table,
    };
    let results = each(&cx.session.targets, |t| {
        plan_of(t, args.destroy, &args.selection)
    })
    .await;
    Ok(settle(results, cx.json, |cloud, plan| {
        print_line(&render::plan(cloud, &plan, format));
    }))
}

async fn graph(cx: &Context, args: &GraphArgs) -> Result<Exit, CliError> {
    let (format, comment) = if args.mermaid {
        (PlanFormat::Mermaid, "%%")
    } else {
        (PlanFormat::Dot, "//")
    };
    let all = Selection::default();
    let results = each(&cx.session.targets, |t| plan_of(t, args.destroy, &all)).await;
    let several = cx.session.targets.len() > 1;
    Ok(settle(results, false, |cloud, plan| {
        if several {
            print_line(&format!("{comment} {cloud}"));
        }
        print_line(&render::plan(cloud, &plan, format));
    }))
}

async fn up(cx: &Context, selection: &Selection) -> Exit {
    let options = options(selection);
    let progress = Progress::start(Mode::pick(cx.json), &cx.session.targets);
    let results = each(&cx.session.targets, |t| async {
        Ok(t.stack.up_with(&options).await?)
    })
    .await;
    progress.finish().await;
    let mut shown = BTreeMap::new();
    let exit = settle(results, cx.json, |cloud, outputs| {
        let value = serde_json::to_value(&outputs).unwrap_or_default();
        shown.insert(cloud, value);
    });
    outputs::print_after_run(&shown, cx.json);
    exit
}

async fn down(cx: &Context) -> Exit {
    let progress = Progress::start(Mode::pick(cx.json), &cx.session.targets);
    let results = each(&cx.session.targets, |t| async { Ok(t.stack.down().await?) }).await;
    progress.finish().await;
    settle(results, cx.json, |cloud, report| {
        for left in report.remaining() {
            let line = if cx.json {
                serde_json::json!({
                    "event": "left_behind", "cloud": cloud.name(), "id": left.id.as_str(),
                    "name": left.name, "reason": left.reason,
                })
                .to_string()
            } else {
                format!(
                    "{cloud}: left behind {} ({}): {}",
                    left.id, left.name, left.reason
                )
            };
            print_line(&line);
        }
        if !cx.json {
            print_line(&format!("{cloud}: down complete"));
        }
    })
}

async fn refresh(cx: &Context) -> Result<Exit, CliError> {
    let results = each(&cx.session.targets, |t| async {
        Ok(t.stack.refresh().await?)
    })
    .await;
    Ok(settle(results, cx.json, |cloud, report| {
        refresh_report(cloud, &report, cx.json)
    }))
}

/// Each resource that changed outside the stack (a JSON line each with `--json`), then
/// the count.
fn refresh_report(cloud: Cloud, report: &RefreshReport, json: bool) {
    if !json {
        for line in report.to_string().lines() {
            print_line(&format!("{cloud:<5} {}", line.trim_start()));
        }
        return;
    }
    for r in report.changes() {
        let mut line = serde_json::to_value(r).unwrap_or_default();
        if let Some(object) = line.as_object_mut() {
            object.insert("event".into(), "refreshed".into());
            object.insert("cloud".into(), cloud.name().into());
        }
        print_line(&line.to_string());
    }
}
