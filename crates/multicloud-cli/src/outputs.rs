//! `outputs`: the recorded outputs of every cloud, with the secret-bearing values (the
//! connection URLs, the spec's secrets) `[REDACTED]` unless `--show-secrets` reads them.

use std::collections::BTreeMap;

use multicloud_core::outputs::StackOutputs;
use serde_json::{Map, Value};

use crate::cli::Cloud;
use crate::commands::{Context, each, settle};
use crate::exit::{CliError, Exit};
use crate::progress::print_line;
use crate::render;
use crate::targets::Target;

/// What stands for a secret value not asked for.
pub const REDACTED: &str = "[REDACTED]";

/// Prints the outputs of every cloud: one JSON document keyed by cloud with `--json`,
/// else a table with a column per cloud.
pub async fn run(cx: &Context, show_secrets: bool) -> Result<Exit, CliError> {
    let results = each(&cx.session.targets, |t| outputs_of(t, show_secrets)).await;
    let mut shown = BTreeMap::new();
    let exit = settle(results, cx.json, |cloud, value| {
        shown.insert(cloud, value);
    });
    if !shown.is_empty() {
        if cx.json {
            print_line(&serde_json::to_string(&shown).unwrap_or_default());
        } else {
            print_line(render::outputs_table(&shown).trim_end());
        }
    }
    Ok(exit)
}

/// After `up`: each cloud's outputs (an `outputs` JSON line per cloud with `--json`).
pub fn print_after_run(outputs: &BTreeMap<Cloud, Value>, json: bool) {
    if json {
        for (cloud, value) in outputs {
            let line =
                serde_json::json!({"event": "outputs", "cloud": cloud.name(), "outputs": value});
            print_line(&line.to_string());
        }
    } else if !outputs.is_empty() {
        print_line("\nOutputs:");
        print_line(render::outputs_table(outputs).trim_end());
    }
}

/// The outputs of `t` as JSON, plus `connections` (database and cache URLs) and
/// `secret_values`, read from the cloud only when `show` is set.
async fn outputs_of(t: &Target, show: bool) -> Result<Value, CliError> {
    let outputs = t.stack.outputs().await?;
    let mut value =
        serde_json::to_value(&outputs).map_err(|e| CliError::setup("the outputs as JSON", e))?;
    let connections = connections(t, &outputs, show).await?;
    let secrets = secret_values(t, &outputs, show).await?;
    if let Some(object) = value.as_object_mut() {
        if !connections.is_empty() {
            object.insert("connections".into(), Value::Object(connections));
        }
        if !secrets.is_empty() {
            object.insert("secret_values".into(), Value::Object(secrets));
        }
    }
    Ok(value)
}

/// `database_url` and `cache_url` when the stack has them.
async fn connections(
    t: &Target,
    outputs: &StackOutputs,
    show: bool,
) -> Result<Map<String, Value>, CliError> {
    let mut map = Map::new();
    if outputs.database.is_some() {
        let url = if show {
            t.stack.database_url().await?.expose().to_owned()
        } else {
            REDACTED.to_owned()
        };
        map.insert("database_url".into(), url.into());
    }
    if outputs.cache.is_some() {
        let url = if show {
            t.stack.cache_url().await?.expose().to_owned()
        } else {
            REDACTED.to_owned()
        };
        map.insert("cache_url".into(), url.into());
    }
    Ok(map)
}

/// The value of each recorded secret, by its spec name.
async fn secret_values(
    t: &Target,
    outputs: &StackOutputs,
    show: bool,
) -> Result<Map<String, Value>, CliError> {
    let mut map = Map::new();
    for (name, secret) in &outputs.secrets {
        let value = if show {
            let store = t.stack.provider().secrets();
            let value = store
                .get_secret(&secret.name)
                .await
                .map_err(multicloud_core::Error::from)?;
            value.expose().to_owned()
        } else {
            REDACTED.to_owned()
        };
        map.insert(name.clone(), value.into());
    }
    Ok(map)
}
