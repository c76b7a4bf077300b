//! `state list | show | unlock | migrate`.

use chrono::Utc;
use multicloud_core::state::{StackState, StateKey, migrate};
use serde_json::json;

use crate::cli::{Cloud, StateCommand};
use crate::commands::{Context, each, settle};
use crate::exit::{CliError, Exit};
use crate::progress::print_line;
use crate::render;
use crate::state_store::Location;
use crate::targets::Target;

/// `state list`: every stack of the store (no spec needed).
pub async fn list(location: &Location, json: bool) -> Result<Exit, CliError> {
    let store = location.open().await?;
    let listings = store.list().await.map_err(multicloud_core::Error::from)?;
    let now = Utc::now();
    let mut rows = vec![vec![
        "stack".to_owned(),
        "cloud".to_owned(),
        "serial".to_owned(),
        "lock".to_owned(),
    ]];
    for l in &listings {
        let lock = l.lock.as_ref().map(|lock| {
            let stale = if lock.lease_end() < now {
                " (lease ended)"
            } else {
                ""
            };
            format!("{} since {}{stale}", lock.holder(), lock.since.to_rfc3339())
        });
        if json {
            let line = json!({"key": l.key, "serial": l.serial, "lock": l.lock});
            print_line(&line.to_string());
            continue;
        }
        let scope = l
            .key
            .scope
            .as_ref()
            .map_or("(unscoped)".to_owned(), |s| s.to_string());
        rows.push(vec![
            format!("{}/{}", l.key.stack, l.key.environment),
            scope,
            l.serial.map_or("-".to_owned(), |s| s.to_string()),
            lock.unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    if !json {
        print_line(render::table(&rows).trim_end());
    }
    Ok(Exit::Ok)
}

/// `state show | unlock | migrate` on every cloud of the run.
pub async fn run(cx: &Context, command: &StateCommand) -> Result<Exit, CliError> {
    let targets = &cx.session.targets;
    match command {
        StateCommand::List => Ok(Exit::Ok),
        StateCommand::Show => {
            let results = each(targets, |t| show(cx, t)).await;
            Ok(settle(results, cx.json, |cloud, state| {
                print_state(cloud, state, cx.json)
            }))
        }
        StateCommand::Unlock => {
            let results = each(targets, unlock).await;
            Ok(settle(results, cx.json, |_, line| print_line(&line)))
        }
        StateCommand::Migrate { to } => {
            let destination = Location::parse(to)?.open().await?;
            let results = each(targets, |t| {
                let destination = destination.clone();
                async move {
                    let key = t.stack.key().await?;
                    let moved = migrate(cx.store.as_ref(), destination.as_ref(), &key)
                        .await
                        .map_err(multicloud_core::Error::from)?;
                    Ok(if moved {
                        format!("{}: moved the state of {key} to {to}", t.cloud)
                    } else {
                        format!("{}: no state of {key} to move", t.cloud)
                    })
                }
            })
            .await;
            Ok(settle(results, cx.json, |_, line| print_line(&line)))
        }
    }
}

/// The state of the spec's stack on `t`'s cloud (or the one recorded before keys named the
/// cloud), if any.
async fn show(cx: &Context, t: &Target) -> Result<Option<StackState>, CliError> {
    let key = t.stack.key().await?;
    let load = |key: StateKey| async move {
        cx.store
            .load(&key)
            .await
            .map_err(|e| CliError::Engine(e.into()))
    };
    match load(key.clone()).await? {
        Some(state) => Ok(Some(state)),
        None => load(key.unscoped()).await,
    }
}

async fn unlock(t: &Target) -> Result<String, CliError> {
    let key = t.stack.key().await?;
    Ok(match t.stack.force_unlock().await? {
        Some(held) => format!(
            "{}: broke the lock of {key} held by {}",
            t.cloud,
            held.holder()
        ),
        None => format!("{}: {key} was not locked", t.cloud),
    })
}

fn print_state(cloud: Cloud, state: Option<StackState>, json: bool) {
    let Some(state) = state else {
        let line = if json {
            json!({"cloud": cloud.name(), "state": null}).to_string()
        } else {
            format!("{cloud}: no state recorded")
        };
        print_line(&line);
        return;
    };
    if json {
        let resources: Vec<_> = state.resources.values().collect();
        let line = json!({
            "cloud": cloud.name(), "key": state.key, "provider": state.provider,
            "region": state.region, "serial": state.serial, "created_at": state.created_at,
            "expires_at": state.expires_at, "updated_at": state.updated_at,
            "resources": resources,
        });
        print_line(&line.to_string());
        return;
    }
    print_line(&format!(
        "{cloud}: {} on {} ({}), serial {}, updated {}{}",
        state.key,
        state.provider,
        state.region,
        state.serial,
        state.updated_at.to_rfc3339(),
        state
            .expires_at
            .map(|at| format!(", expires {}", at.to_rfc3339()))
            .unwrap_or_default()
    ));
    let mut rows = vec![vec![
        "resource".to_owned(),
        "name".to_owned(),
        "cloud id".to_owned(),
    ]];
    for r in state.resources.values() {
        rows.push(vec![
            r.id.to_string(),
            r.name.clone(),
            r.provider_id.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    print_line(render::table(&rows).trim_end());
}
