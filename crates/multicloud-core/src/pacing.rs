//! Where a wait places its checks: after how long an operation of its kind usually takes.
//!
//! Every kind declares a documented duration ([`KindDef::expected`](crate::kind::KindDef));
//! this process also measures how long each kind's creations and deletions took here (an
//! average, per kind and [`Phase`]). A wait that knows its operation's duration checks
//! sparsely early (halving the time left each check) and densely near the expected end (every
//! 2 % of the duration), then, past it, every 2 % of the time waited so far, so a finished
//! operation that takes as long as expected, or longer, is noticed within about 2 % of its
//! duration in a dozen checks or fewer (one that finishes early, within about 5 %). A
//! server's `Retry-After` always wins.
//!
//! Only a measured duration lets a wait sleep longer than the poller's growing interval:
//! a documented duration is the real cloud's, and against a stand-in that finishes in
//! milliseconds it would mean minutes of sleep. With the documented duration alone, the
//! [`Poller`](crate::retry::Poller)'s growing interval (2 s up to 30 s by default) only
//! shrinks as the expected end nears.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use crate::kind::ResourceKind;

/// The phase of an operation a wait follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// From creation until ready.
    Create,
    /// From deletion until gone.
    Delete,
}

/// What a wait knows of how long its operation takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expectation {
    /// The expected duration, if known.
    pub expected: Option<Duration>,
    /// Whether it was measured in this process (else documented).
    pub measured: bool,
}

/// The share of the expected duration (and, past it, of the time waited) between two checks
/// near the end.
const DENSE: f64 = 0.02;

static BOOK: LazyLock<Mutex<HashMap<(ResourceKind, Phase), Duration>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn book() -> std::sync::MutexGuard<'static, HashMap<(ResourceKind, Phase), Duration>> {
    // A panic elsewhere while holding the book leaves plain durations: still usable.
    BOOK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The expectation for a `phase` of `kind`: what this process measured, else `documented`.
pub fn expectation(kind: ResourceKind, phase: Phase, documented: Option<Duration>) -> Expectation {
    match book().get(&(kind, phase)) {
        Some(d) => Expectation {
            expected: Some(*d),
            measured: true,
        },
        None => Expectation {
            expected: documented,
            measured: false,
        },
    }
}

/// Records that a `phase` of `kind` took `took` (averaged with what was measured before).
pub fn record(kind: ResourceKind, phase: Phase, took: Duration) {
    let mut b = book();
    let avg = match b.get(&(kind, phase)) {
        Some(before) => (*before + took) / 2,
        None => took,
    };
    b.insert((kind, phase), avg);
}

/// Forgets every measurement (for benchmarks comparing cold and warm runs).
pub fn forget_measurements() {
    book().clear();
}

/// The wait before the next check, `elapsed` into a wait with `expect`, when the poller's
/// growing interval is at `ramp` and its shortest is `min`.
pub(crate) fn next_wait(
    min: Duration,
    expect: Expectation,
    elapsed: Duration,
    ramp: Duration,
) -> Duration {
    let Some(expected) = expect.expected else {
        return ramp;
    };
    let dense = min.max(expected.mul_f64(DENSE));
    let paced = if elapsed + dense < expected {
        // Sparse early: halve what is left, never below the dense step.
        dense.max((expected - elapsed) / 2)
    } else {
        // At or past the expected end: every 2 % of the time waited.
        min.max(elapsed.mul_f64(DENSE))
    };
    if expect.measured {
        paced
    } else {
        paced.min(ramp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(30);

    /// The checks of a wait for an operation taking `actual`, expecting `expect`: how many,
    /// and how late the last one is.
    fn simulate(expect: Expectation, actual: Duration) -> (u32, Duration) {
        let (mut t, mut ramp, mut checks) = (Duration::ZERO, MIN, 1);
        while t < actual {
            t += next_wait(MIN, expect, t, ramp);
            ramp = ramp.mul_f64(1.5).min(MAX);
            checks += 1;
        }
        (checks, t - actual)
    }

    #[test]
    fn a_measured_duration_is_followed_by_few_checks_and_a_late_notice_under_two_percent() {
        for minutes in [1, 4, 8, 12] {
            let d = Duration::from_secs(60 * minutes);
            let expect = Expectation {
                expected: Some(d),
                measured: true,
            };
            // On time or late: noticed within 2 %. Early (the halving overshoots): within 5 %.
            for (actual, bound) in [(d, 0.021), (d.mul_f64(1.1), 0.021), (d.mul_f64(0.9), 0.05)] {
                let (checks, late) = simulate(expect, actual);
                assert!(
                    checks <= 15,
                    "{minutes} min, actual {actual:?}: {checks} checks"
                );
                assert!(
                    late <= actual.mul_f64(bound).max(MIN),
                    "{minutes} min, actual {actual:?}: {late:?} late"
                );
            }
        }
    }

    #[test]
    fn a_documented_duration_never_sleeps_longer_than_the_growing_interval() {
        let expect = Expectation {
            expected: Some(Duration::from_secs(600)),
            measured: false,
        };
        for (elapsed, ramp) in [(0, 100), (10, 2_000), (590, 30_000), (700, 30_000)] {
            let w = next_wait(
                MIN,
                expect,
                Duration::from_secs(elapsed),
                Duration::from_millis(ramp),
            );
            assert!(w <= Duration::from_millis(ramp), "{elapsed}s: {w:?}");
        }
        // Near the expected end it is denser than the ramp: 2 % of the time waited.
        let near = next_wait(
            MIN,
            expect,
            Duration::from_secs(595),
            Duration::from_secs(30),
        );
        assert_eq!(near, Duration::from_millis(11_900));
        // Without an expectation, the ramp as before.
        let none = next_wait(MIN, Expectation::default(), Duration::ZERO, MIN);
        assert_eq!(none, MIN);
    }

    #[test]
    fn measurements_are_averaged_per_kind_and_phase() {
        let kind = ResourceKind::new("pacing_test_kind");
        let doc = Some(Duration::from_secs(60));
        assert_eq!(
            expectation(kind, Phase::Create, doc),
            Expectation {
                expected: doc,
                measured: false
            }
        );
        record(kind, Phase::Create, Duration::from_secs(10));
        record(kind, Phase::Create, Duration::from_secs(20));
        let e = expectation(kind, Phase::Create, doc);
        assert_eq!(e.expected, Some(Duration::from_secs(15)));
        assert!(e.measured);
        assert!(!expectation(kind, Phase::Delete, doc).measured);
    }
}
