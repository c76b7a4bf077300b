//! What commands print: plans (a table, coloured on a terminal; JSON; DOT; Mermaid) and
//! outputs (one cloud, or several side by side).

use std::collections::BTreeMap;
use std::io::IsTerminal;

use multicloud_core::plan::{Action, Plan};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::Cloud;

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFormat {
    /// The table (`Plan`'s `Display`), coloured on a terminal.
    Table,
    /// One JSON object per cloud and line.
    Json,
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

/// A plan as JSON: the cloud, the state key, the counts and every action.
#[derive(Serialize)]
struct PlanJson<'a> {
    cloud: &'static str,
    key: &'a multicloud_core::state::StateKey,
    provider: &'a str,
    summary: multicloud_core::plan::PlanSummary,
    actions: &'a [multicloud_core::plan::PlannedAction],
}

/// `plan` of `cloud` in `format`.
pub fn plan(cloud: Cloud, plan: &Plan, format: PlanFormat) -> String {
    match format {
        PlanFormat::Table if colour() => coloured_table(plan),
        PlanFormat::Table => plan.to_string(),
        PlanFormat::Json => {
            let json = PlanJson {
                cloud: cloud.name(),
                key: &plan.key,
                provider: &plan.provider,
                summary: plan.summary(),
                actions: &plan.actions,
            };
            serde_json::to_string(&json).unwrap_or_default()
        }
        PlanFormat::Dot => plan.to_dot(),
        PlanFormat::Mermaid => plan.to_mermaid(),
    }
}

/// Whether to colour: stdout is a terminal and `NO_COLOR` is not set.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The plan's own table, each action's row in its colour (a row is `  <symbol> <action> …`;
/// the title, the header and the summary stay plain).
fn coloured_table(plan: &Plan) -> String {
    let text = plan.to_string();
    let mut out = String::with_capacity(text.len() + plan.actions.len() * 10);
    for line in text.lines() {
        match row_action(line) {
            Some(action) => out.push_str(&format!("{}{line}\x1b[0m", ansi(action))),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// The action of a table row: its first word, or the second after the action's symbol.
fn row_action(line: &str) -> Option<Action> {
    const ACTIONS: [Action; 6] = [
        Action::Create,
        Action::Adopt,
        Action::Update,
        Action::Replace,
        Action::Delete,
        Action::NoOp,
    ];
    if !line.starts_with("  ") {
        return None;
    }
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let word = if ["+", "&", "~", "-/+", "-"].contains(&first) {
        words.next()?
    } else {
        first
    };
    ACTIONS.into_iter().find(|a| a.as_str() == word)
}

/// The ANSI colour of an action.
fn ansi(action: Action) -> &'static str {
    match action {
        Action::Create => "\x1b[32m",
        Action::Adopt => "\x1b[36m",
        Action::Update => "\x1b[33m",
        Action::Replace => "\x1b[35m",
        Action::Delete => "\x1b[31m",
        Action::NoOp => "\x1b[2m",
    }
}

/// Outputs of one or more clouds as text: `path  value` rows, one value column per cloud
/// (side by side when there are several).
pub fn outputs_table(outputs: &BTreeMap<Cloud, Value>) -> String {
    let columns: Vec<BTreeMap<String, String>> = outputs
        .values()
        .map(|v| {
            let mut rows = BTreeMap::new();
            flatten("", v, &mut rows);
            rows
        })
        .collect();
    let mut paths: Vec<&String> = columns.iter().flat_map(|c| c.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut header = vec!["output".to_owned()];
    header.extend(outputs.keys().map(|c| c.name().to_owned()));
    let mut rows = vec![header];
    for path in paths {
        let mut row = vec![path.clone()];
        row.extend(
            columns
                .iter()
                .map(|c| c.get(path).cloned().unwrap_or("-".into())),
        );
        rows.push(row);
    }
    table(&rows)
}

/// `rows` in aligned columns (two spaces apart).
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, s)| format!("{s:<w$}", w = widths[c]))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `value`'s leaves as `a.b[0].c -> text` rows (nulls and empty containers left out).
fn flatten(path: &str, value: &Value, rows: &mut BTreeMap<String, String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Null => {}
        Value::Object(map) => flatten_object(map, &join, rows),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), item, rows);
            }
        }
        Value::String(s) => {
            rows.insert(path.to_owned(), cell(s));
        }
        other => {
            rows.insert(path.to_owned(), other.to_string());
        }
    }
}

/// Longest value a table cell shows whole.
const CELL_MAX: usize = 160;

/// `value`, or its start and its length when longer than [`CELL_MAX`] (a cluster's CA
/// bundle): `--json` has every value whole.
fn cell(value: &str) -> String {
    if value.chars().count() <= CELL_MAX {
        return value.to_owned();
    }
    let start: String = value.chars().take(24).collect();
    format!(
        "{start}... ({} chars; --json for all)",
        value.chars().count()
    )
}

fn flatten_object(
    map: &Map<String, Value>,
    join: &dyn Fn(&str) -> String,
    rows: &mut BTreeMap<String, String>,
) {
    for (key, value) in map {
        flatten(&join(key), value, rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_values_are_cut_in_tables_only() {
        let ca = "A".repeat(1400);
        let table = outputs_table(&BTreeMap::from([(
            Cloud::Aws,
            json!({"cluster": {"ca_data": ca, "name": "shop"}}),
        )]));
        assert!(
            table.contains("AAAAAAAAAAAAAAAAAAAAAAAA... (1400 chars; --json for all)"),
            "{table}"
        );
        assert!(table.contains("cluster.name"), "{table}");
        let id = "x".repeat(CELL_MAX);
        assert_eq!(cell(&id), id, "a long id stays whole");
    }

    #[test]
    fn plan_rows_are_told_by_their_action() {
        assert_eq!(
            row_action("  +   create  vpc/main  vpc  shop-vpc  does not exist"),
            Some(Action::Create)
        );
        assert_eq!(
            row_action("  -/+ replace subnet/a  subnet  a  drifted"),
            Some(Action::Replace)
        );
        assert_eq!(
            row_action("      no-op   vpc/main  vpc  shop-vpc  unchanged"),
            Some(Action::NoOp)
        );
        assert_eq!(
            row_action("      action  resource  kind  name  reason"),
            None
        );
        assert_eq!(row_action("Plan for shop/dev (aws):"), None);
        assert_eq!(row_action("1 to create, 0 to adopt"), None);
    }

    #[test]
    fn outputs_of_two_clouds_sit_side_by_side() {
        let mut outputs = BTreeMap::new();
        outputs.insert(
            Cloud::Aws,
            json!({"registries": {"web": {"url": "1.dkr.ecr/web"}}, "cluster": null}),
        );
        outputs.insert(
            Cloud::Azure,
            json!({"registries": {"web": {"url": "shopacr.azurecr.io/web"}}, "ports": [80]}),
        );
        let text = outputs_table(&outputs);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["output", "aws", "azure"]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["ports[0]", "-", "80"]
        );
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            [
                "registries.web.url",
                "1.dkr.ecr/web",
                "shopacr.azurecr.io/web"
            ]
        );
        assert_eq!(lines.len(), 3, "{text}");
    }
}
