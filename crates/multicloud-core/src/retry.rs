//! Retries with exponential backoff and full jitter, and the one shared poller for readiness
//! and deletion waits (`await_condition`, after kube-runtime).

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::error::{ErrorKind, ProviderError};
use crate::observation::Readiness;
use crate::outputs::Outputs;
use crate::pacing::{self, Expectation};

/// How retryable errors are retried: attempt `n` (from 0) sleeps a random time in
/// `[0, min(cap, base * 2^n)]` ("full jitter"), but at least a server-suggested delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Base delay.
    pub base: Duration,
    /// Largest delay.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// 10 attempts, 500 ms base, 30 s cap (about five minutes of retrying in the worst case,
    /// enough for a dependency that is still being deleted).
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (0 = the first retry).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.cap);
        let jittered = if exp.is_zero() {
            Duration::ZERO
        } else {
            let nanos = rand::rng().random_range(0..=exp.as_nanos().min(u64::MAX as u128) as u64);
            Duration::from_nanos(nanos)
        };
        jittered.max(retry_after.unwrap_or_default())
    }

    /// Runs `op` until it succeeds, fails with a non-retryable error, or attempts run out.
    /// `on_retry(attempt, delay, &error)` is called before each sleep.
    pub async fn run<T, F, Fut>(
        &self,
        mut op: F,
        mut on_retry: impl FnMut(u32, Duration, &ProviderError),
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() && attempt + 1 < self.max_attempts => {
                    let delay = self.delay(attempt, e.retry_after());
                    on_retry(attempt + 1, delay, &e);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// How often an unchanged pending status is logged again.
const LOG_EVERY: Duration = Duration::from_secs(30);

/// Which pending statuses a wait logs: the first, each change, and an unchanged one again
/// every [`LOG_EVERY`], so a wait that cannot progress says what it waits for.
#[derive(Debug, Default)]
struct WaitLog {
    last: Option<(String, Instant)>,
}

impl WaitLog {
    /// Whether `status`, seen at `now`, is to be logged (and if so, remembers it).
    fn due(&mut self, status: &str, now: Instant) -> bool {
        let due = match &self.last {
            Some((last, at)) => last != status || now.duration_since(*at) >= LOG_EVERY,
            None => true,
        };
        if due {
            self.last = Some((status.to_string(), now));
        }
        due
    }
}

/// The shared poller: checks a condition until it holds, sleeping the server-suggested delay
/// when there is one and a growing interval otherwise, retrying retryable errors, and giving
/// up at a timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poller {
    /// First interval between checks.
    pub interval: Duration,
    /// Largest interval (the interval grows by half each check).
    pub max_interval: Duration,
}

impl Default for Poller {
    /// 2 s growing to 30 s.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            max_interval: Duration::from_secs(30),
        }
    }
}

impl Poller {
    /// Polls `check` until it returns [`Readiness::Ready`] (its outputs are returned), an error
    /// that is not retryable, more than `retry.max_attempts` retryable errors in a row, or
    /// `timeout`. `on_pending(status)` is called for every pending check; the status is also
    /// logged (`info`, with the time waited so far) when it changes and every 30 s.
    pub async fn await_condition<F, Fut>(
        &self,
        timeout: Duration,
        retry: &RetryPolicy,
        check: F,
        on_pending: impl FnMut(&str),
    ) -> Result<Outputs, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Readiness, ProviderError>>,
    {
        self.await_expected(Expectation::default(), timeout, retry, check, on_pending)
            .await
    }

    /// [`Poller::await_condition`] for an operation expected to take about `expect`: its
    /// checks are placed after that duration ([`crate::pacing`]) when no `Retry-After` says
    /// otherwise.
    pub async fn await_expected<F, Fut>(
        &self,
        expect: Expectation,
        timeout: Duration,
        retry: &RetryPolicy,
        mut check: F,
        mut on_pending: impl FnMut(&str),
    ) -> Result<Outputs, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Readiness, ProviderError>>,
    {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut log = WaitLog::default();
        let mut interval = self.interval;
        let mut errors_in_a_row = 0;
        let mut last_status = None;
        loop {
            let wait = match check().await {
                Ok(Readiness::Ready(outputs)) => return Ok(outputs),
                Ok(Readiness::Pending {
                    status,
                    retry_after,
                }) => {
                    errors_in_a_row = 0;
                    on_pending(&status);
                    if log.due(&status, Instant::now()) {
                        let waited_s = started.elapsed().as_secs();
                        tracing::info!(%status, waited_s, "waiting");
                    }
                    last_status = Some(status);
                    let wait = retry_after.unwrap_or_else(|| {
                        pacing::next_wait(self.interval, expect, started.elapsed(), interval)
                    });
                    interval = interval.mul_f64(1.5).min(self.max_interval);
                    wait
                }
                Err(e) if e.retryable() && errors_in_a_row + 1 < retry.max_attempts => {
                    let wait = retry.delay(errors_in_a_row, e.retry_after());
                    errors_in_a_row += 1;
                    wait
                }
                Err(e) => return Err(e),
            };
            let now = Instant::now();
            if now >= deadline {
                let last = last_status.map(|s| format!("; last status: {s}"));
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "still not done after {timeout:?}{}",
                        last.unwrap_or_default()
                    ),
                ));
            }
            tokio::time::sleep(wait.min(deadline - now)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn full_jitter_stays_within_the_exponential_envelope() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for attempt in 0..8 {
            let envelope =
                Duration::from_millis(100 * 2u64.pow(attempt)).min(Duration::from_secs(1));
            for _ in 0..50 {
                assert!(p.delay(attempt, None) <= envelope);
            }
        }
        assert!(p.delay(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_only() {
        let p = RetryPolicy::default();
        let calls = AtomicU32::new(0);
        let mut retries = 0;
        let out = p
            .run(
                || async {
                    if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                        Err(ProviderError::new(ErrorKind::Throttling, "slow down"))
                    } else {
                        Ok(7)
                    }
                },
                |_, _, _| retries += 1,
            )
            .await;
        assert_eq!(out.ok(), Some(7));
        assert_eq!(retries, 3);

        let calls = AtomicU32::new(0);
        let out: Result<(), _> = p
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(ProviderError::invalid("bad"))
                },
                |_, _, _| {},
            )
            .await;
        assert_eq!(
            out.map_err(|e| e.kind()).err(),
            Some(ErrorKind::InvalidInput)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pending_status_is_logged_when_it_changes_and_every_30_s() {
        let mut log = WaitLog::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(log.due("a", at(0)), "the first status");
        assert!(!log.due("a", at(2)), "unchanged, soon after");
        assert!(log.due("b", at(3)), "a change");
        assert!(!log.due("b", at(32)));
        assert!(log.due("b", at(33)), "unchanged for 30 s");
        assert!(!log.due("b", at(40)));
    }

    #[tokio::test(start_paused = true)]
    async fn poller_honours_retry_after_and_times_out() {
        let start = Instant::now();
        let checks = AtomicU32::new(0);
        let out = Poller::default()
            .await_condition(
                Duration::from_secs(600),
                &RetryPolicy::default(),
                || async {
                    if checks.fetch_add(1, Ordering::SeqCst) == 0 {
                        Ok(Readiness::Pending {
                            status: "creating".into(),
                            retry_after: Some(Duration::from_secs(42)),
                        })
                    } else {
                        Ok(Readiness::ready())
                    }
                },
                |_| {},
            )
            .await;
        assert!(out.is_ok());
        assert_eq!(start.elapsed(), Duration::from_secs(42));

        let out = Poller::default()
            .await_condition(
                Duration::from_secs(10),
                &RetryPolicy::default(),
                || async { Ok(Readiness::pending("creating")) },
                |_| {},
            )
            .await;
        let err = out.expect_err("times out");
        assert_eq!(err.kind(), ErrorKind::Timeout);
        // The timeout says what it was still waiting for.
        assert_eq!(
            err.message(),
            "still not done after 10s; last status: creating"
        );
    }
}
