//! Progress of `up` and `down`: the events of every cloud's stack, as a live view of the
//! resources in flight on a terminal, a plain line log otherwise, or JSON lines (`--json`).

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use multicloud_core::events::Event;
use multicloud_core::resource::ResourceId;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::Cloud;
use crate::targets::Target;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One line per event (stdout is not a terminal).
    Plain,
    /// A live view of the resources in flight (stdout is a terminal).
    Live,
    /// One JSON object per event.
    Json,
}

impl Mode {
    /// JSON with `--json`, else live on a terminal, else plain.
    pub fn pick(json: bool) -> Self {
        if json {
            Self::Json
        } else if std::io::stdout().is_terminal() {
            Self::Live
        } else {
            Self::Plain
        }
    }
}

/// A running progress display; [`Progress::finish`] shows what is left and ends it.
pub struct Progress {
    done: CancellationToken,
    task: JoinHandle<()>,
}

impl Progress {
    /// Subscribes to the events of every target's stack (from now on) and shows them.
    pub fn start(mode: Mode, targets: &[Target]) -> Self {
        let streams = targets.iter().map(|t| {
            let cloud = t.cloud;
            t.stack.events().map(move |e| (cloud, e)).boxed()
        });
        let mut events = futures::stream::select_all(streams);
        let expected = targets
            .iter()
            .map(|t| (t.cloud, t.expected.clone()))
            .collect();
        let mut view = View::new(mode, expected);
        let done = CancellationToken::new();
        let stop = done.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    Some((cloud, event)) = events.next() => view.show(cloud, &event),
                    () = stop.cancelled() => break,
                }
            }
            // Everything a finished run sent is buffered: show it.
            while let Some(Some((cloud, event))) = events.next().now_or_never() {
                view.show(cloud, &event);
            }
            view.close();
        });
        Self { done, task }
    }

    /// Shows the events still buffered and ends the display.
    pub async fn finish(self) {
        self.done.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "the progress display ended abnormally");
        }
    }
}

/// The display's state.
struct View {
    mode: Mode,
    start: Instant,
    expected: BTreeMap<Cloud, BTreeMap<&'static str, Duration>>,
    /// Last status shown per resource (plain mode shows changes only).
    status: HashMap<(Cloud, ResourceId), String>,
    live: Option<Live>,
}

/// The live view: a bar per resource in flight and an overall bar per cloud.
struct Live {
    bars: MultiProgress,
    in_flight: HashMap<(Cloud, ResourceId), ProgressBar>,
    overall: BTreeMap<Cloud, ProgressBar>,
}

impl View {
    fn new(mode: Mode, expected: BTreeMap<Cloud, BTreeMap<&'static str, Duration>>) -> Self {
        let live = (mode == Mode::Live).then(|| Live {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            in_flight: HashMap::new(),
            overall: BTreeMap::new(),
        });
        Self {
            mode,
            start: Instant::now(),
            expected,
            status: HashMap::new(),
            live,
        }
    }

    fn show(&mut self, cloud: Cloud, event: &Event) {
        match self.mode {
            Mode::Json => json_line(cloud, event),
            Mode::Plain => self.plain(cloud, event),
            Mode::Live => self.live(cloud, event),
        }
    }

    fn plain(&mut self, cloud: Cloud, event: &Event) {
        if let Event::ResourceProgress { id, status } = event {
            let key = (cloud, id.clone());
            if self.status.get(&key) == Some(status) {
                return;
            }
            self.status.insert(key, status.clone());
        }
        let t = self.start.elapsed().as_secs_f64();
        print_line(&format!("[{t:7.2}s] {cloud:<5} {event}"));
    }

    fn live(&mut self, cloud: Cloud, event: &Event) {
        let expected = self.expected_of(cloud, event);
        let Some(live) = self.live.as_mut() else {
            return;
        };
        match event {
            Event::PlanReady { summary } => live.plan(cloud, summary.changes(), event),
            Event::ResourceStarted { id, action, .. } => {
                live.started(cloud, id, action.as_str(), expected)
            }
            Event::ResourceProgress { id, status } => live.message(cloud, id, status),
            Event::ResourceRetrying { id, .. } => live.message(cloud, id, &event.to_string()),
            Event::ResourceSucceeded { id, .. } | Event::ResourceFailed { id, .. } => {
                live.ended(cloud, id, event)
            }
            _ => live.println(cloud, event),
        }
    }

    /// The expected duration of the kind a `ResourceStarted` is about.
    fn expected_of(&self, cloud: Cloud, event: &Event) -> Option<Duration> {
        let Event::ResourceStarted { kind, .. } = event else {
            return None;
        };
        self.expected.get(&cloud)?.get(kind.as_str()).copied()
    }

    fn close(&mut self) {
        if let Some(live) = self.live.take() {
            for bar in live.in_flight.values().chain(live.overall.values()) {
                bar.finish_and_clear();
            }
        }
    }
}

impl Live {
    fn plan(&mut self, cloud: Cloud, changes: usize, event: &Event) {
        self.println(cloud, event);
        let bar = self.bars.add(ProgressBar::new(changes as u64));
        bar.set_style(style(
            "{prefix:5.bold} [{bar:30.cyan/blue}] {pos}/{len} {elapsed}",
        ));
        bar.set_prefix(cloud.name());
        self.overall.insert(cloud, bar);
    }

    fn started(&mut self, cloud: Cloud, id: &ResourceId, action: &str, expected: Option<Duration>) {
        let bar = self.bars.add(ProgressBar::new_spinner());
        bar.set_style(style("{spinner:.cyan} {prefix} {elapsed:>4} {msg}"));
        bar.set_prefix(format!("{cloud:<5} {action:<7} {id}"));
        let expected = expected.map_or_else(String::new, |d| format!("(expected ~{})", human(d)));
        bar.set_message(expected);
        bar.enable_steady_tick(Duration::from_millis(120));
        self.in_flight.insert((cloud, id.clone()), bar);
    }

    fn message(&mut self, cloud: Cloud, id: &ResourceId, text: &str) {
        if let Some(bar) = self.in_flight.get(&(cloud, id.clone())) {
            bar.set_message(text.to_owned());
        }
    }

    fn ended(&mut self, cloud: Cloud, id: &ResourceId, event: &Event) {
        if let Some(bar) = self.in_flight.remove(&(cloud, id.clone())) {
            bar.finish_and_clear();
        }
        if let Some(overall) = self.overall.get(&cloud) {
            overall.inc(1);
        }
        let mark = if matches!(event, Event::ResourceFailed { .. }) {
            "✗"
        } else {
            "✓"
        };
        let _ = self.bars.println(format!("{mark} {cloud:<5} {event}"));
    }

    fn println(&self, cloud: Cloud, event: &Event) {
        let _ = self.bars.println(format!("  {cloud:<5} {event}"));
    }
}

/// A template that is right by construction (a bad one falls back to the default).
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// `45s`, `4m`, `10m 30s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m {s}s"),
    }
}

/// One JSON line: the event, with the cloud it is about.
fn json_line(cloud: Cloud, event: &Event) {
    let mut value = serde_json::to_value(event).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("cloud".into(), cloud.name().into());
    }
    print_line(&value.to_string());
}

/// Prints a line to stdout; a closed pipe (`| head`) is not an error worth stopping for.
pub fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::from_secs(240)), "4m");
        assert_eq!(human(Duration::from_secs(630)), "10m 30s");
    }
}
