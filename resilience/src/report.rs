//! The table the suite prints, and the defects found on the way.

use std::fmt::Write as _;

/// One line of the table: a scenario on one cloud.
#[derive(Debug, Clone)]
pub struct Row {
    /// `kill points (aws, small spec)`.
    pub scenario: String,
    /// How many runs it made.
    pub runs: usize,
    /// Whether every correctness target held.
    pub ok: bool,
    /// The figures (timings are printed, never asserted).
    pub figures: String,
}

/// What a scenario found wrong: enough to reproduce it.
#[derive(Debug, Clone)]
pub struct Defect {
    /// The scenario.
    pub scenario: String,
    /// The command or call, with its seed.
    pub what: String,
    /// What happened.
    pub detail: String,
}

/// The rows and defects of a whole run.
#[derive(Debug, Default)]
pub struct Report {
    /// The table's rows, in order.
    pub rows: Vec<Row>,
    /// Every defect found.
    pub defects: Vec<Defect>,
}

impl Report {
    /// Adds a row.
    pub fn row(&mut self, scenario: impl Into<String>, runs: usize, ok: bool, figures: String) {
        self.rows.push(Row {
            scenario: scenario.into(),
            runs,
            ok,
            figures,
        });
    }

    /// Records a defect (also printed at once to stderr, so a long run shows it early).
    pub fn defect(&mut self, scenario: &str, what: impl Into<String>, detail: impl Into<String>) {
        let defect = Defect {
            scenario: scenario.to_owned(),
            what: what.into(),
            detail: detail.into(),
        };
        eprintln!(
            "DEFECT [{}] {}: {}",
            defect.scenario, defect.what, defect.detail
        );
        self.defects.push(defect);
    }

    /// Whether every row held its targets.
    pub fn ok(&self) -> bool {
        self.rows.iter().all(|r| r.ok)
    }

    /// The table (`scenario | runs | result | figures`), then the defects.
    pub fn render(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.scenario.len())
            .max()
            .unwrap_or(8)
            .max(8);
        let mut out = String::new();
        let _ = writeln!(out, "| {:<width$} | runs | result | figures", "scenario");
        let _ = writeln!(out, "|-{}-|------|--------|--------", "-".repeat(width));
        for r in &self.rows {
            let result = if r.ok { "ok" } else { "FAILED" };
            let _ = writeln!(
                out,
                "| {:<width$} | {:>4} | {result:<6} | {}",
                r.scenario, r.runs, r.figures
            );
        }
        if !self.defects.is_empty() {
            let _ = writeln!(out, "\ndefects ({}):", self.defects.len());
            for d in &self.defects {
                let _ = writeln!(out, "- [{}] {}\n    {}", d.scenario, d.what, d.detail);
            }
        }
        out
    }
}

/// The last `n` characters of `text` on one line (for a defect's detail).
pub fn tail(text: &str, n: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let skip = flat.chars().count().saturating_sub(n);
    flat.chars().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_row_fails_the_report_and_defects_are_listed() {
        let mut report = Report::default();
        report.row("locks (aws)", 2, true, "one proceeded".into());
        assert!(report.ok());
        report.row("secrets (aws)", 1, false, "1 occurrence".into());
        report.defect("secrets (aws)", "multicloud up", "found in stderr");
        assert!(!report.ok());
        let table = report.render();
        assert!(table.contains("| locks (aws)   |    2 | ok"), "{table}");
        assert!(table.contains("FAILED") && table.contains("found in stderr"));
        assert_eq!(tail("a\n b  c", 3), "b c");
    }
}
