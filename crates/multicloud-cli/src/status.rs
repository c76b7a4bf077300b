//! `status`: how each cloud's apps run (replicas available, Service address), read from the
//! stack's cluster, and whether the connection Secrets they read point at the stack's own
//! database and cache (their endpoints in the recorded outputs). Exits with "failed" when an
//! app is not running or a connection points elsewhere.

use multicloud_core::outputs::StackOutputs;
use multicloud_core::spec::Connection;
use multicloud_k8s::KubeClientExt;
use multicloud_k8s::status::{AppStatus, ConnectionStatus, apps_status};
use serde::Serialize;

use crate::cli::Cloud;
use crate::commands::{Context, each, settle};
use crate::exit::{CliError, Exit};
use crate::progress::print_line;
use crate::render::table;
use crate::targets::Target;

/// One app and what its connections reach.
#[derive(Debug, Serialize)]
struct AppReport {
    #[serde(flatten)]
    status: AppStatus,
    /// Per connection (in the order of `status.connections`): whether it reaches the
    /// stack's own service.
    reaches_stack: Vec<bool>,
    /// The spec's connections no Secret of the app provides.
    missing: Vec<Connection>,
}

impl AppReport {
    fn healthy(&self) -> bool {
        self.status.is_running() && self.missing.is_empty() && self.reaches_stack.iter().all(|r| *r)
    }
}

/// Prints the apps of every cloud (a `status` JSON line per app with `--json`).
pub async fn run(cx: &Context) -> Result<Exit, CliError> {
    let results = each(&cx.session.targets, report).await;
    let mut rows = vec![header()];
    let mut healthy = true;
    let exit = settle(results, cx.json, |cloud, reports| {
        for r in reports {
            healthy &= r.healthy();
            if cx.json {
                let line = serde_json::json!({
                    "event": "status", "cloud": cloud.name(), "healthy": r.healthy(), "app": r,
                });
                print_line(&line.to_string());
            } else {
                rows.extend(lines(cloud, &r));
            }
        }
    });
    if !cx.json && rows.len() > 1 {
        print_line(table(&rows).trim_end());
    }
    Ok(if healthy {
        exit
    } else {
        exit.worst(Exit::Failed)
    })
}

/// The apps of `t` as the cluster runs them, each connection checked against the outputs.
async fn report(t: &Target) -> Result<Vec<AppReport>, CliError> {
    let spec = t.stack.spec();
    if spec.apps.is_empty() {
        return Ok(Vec::new());
    }
    let outputs = t.stack.outputs().await?;
    let client = t.stack.kube_client().await?;
    let apps = apps_status(&client, spec)
        .await
        .map_err(multicloud_core::Error::from)?;
    Ok(apps
        .into_iter()
        .zip(&spec.apps)
        .map(|(status, app)| {
            let reaches_stack = status
                .connections
                .iter()
                .map(|c| reaches(c, &outputs))
                .collect();
            let missing = app
                .connect
                .iter()
                .filter(|want| !status.connections.iter().any(|c| c.service == **want))
                .copied()
                .collect();
            AppReport {
                status,
                reaches_stack,
                missing,
            }
        })
        .collect())
}

/// Whether `c` names the host and port of the stack's own service.
fn reaches(c: &ConnectionStatus, outputs: &StackOutputs) -> bool {
    let endpoint = match c.service {
        Connection::Database => outputs.database.as_ref().map(|d| (&d.host, d.port)),
        Connection::Cache => outputs.cache.as_ref().map(|d| (&d.host, d.port)),
    };
    endpoint.is_some_and(|(host, port)| *host == c.host && port == c.port)
}

fn header() -> Vec<String> {
    [
        "cloud",
        "app",
        "state",
        "replicas",
        "service / connection",
        "reaches",
    ]
    .map(String::from)
    .to_vec()
}

/// The table rows of `r`: the app, then one per connection.
fn lines(cloud: Cloud, r: &AppReport) -> Vec<Vec<String>> {
    let s = &r.status;
    let state = match (s.deployed, s.is_running()) {
        (false, _) => "not deployed",
        (true, true) => "Available",
        (true, false) => "not available",
    };
    let service = s.service.as_ref().map_or("no service".into(), |svc| {
        let address = svc.address.as_deref().unwrap_or("-");
        let port = svc.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{} {address}{port}", svc.type_)
    });
    let mut rows = vec![vec![
        cloud.name().to_owned(),
        format!("{}/{}", s.namespace, s.name),
        state.to_owned(),
        format!("{}/{}", s.available, s.replicas),
        service,
        String::new(),
    ]];
    for (c, ok) in s.connections.iter().zip(&r.reaches_stack) {
        let what = service_name(c.service);
        rows.push(vec![
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!("{what} via Secret {} -> {}:{}", c.secret, c.host, c.port),
            if *ok {
                format!("the stack's {what}")
            } else {
                format!("NOT the stack's {what}")
            },
        ]);
    }
    for missing in &r.missing {
        let what = service_name(*missing);
        rows.push(vec![
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!("{what}: no connection Secret read"),
            "missing".to_owned(),
        ]);
    }
    rows
}

fn service_name(c: Connection) -> &'static str {
    match c {
        Connection::Database => "database",
        Connection::Cache => "cache",
    }
}
