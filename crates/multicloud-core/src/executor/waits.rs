//! The executor's waits: the shared poller, paced after how long the phase of the resource's
//! kind usually takes ([`crate::pacing`]), each wait's duration (the middle between the
//! last pending check and the check that found it done) recorded for the next.

use tokio::time::Instant;

use super::Executor;
use crate::error::ProviderError;
use crate::events::Event;
use crate::observation::Readiness;
use crate::outputs::Outputs;
use crate::pacing::{self, Expectation, Phase};
use crate::resource::Resource;

impl Executor<'_> {
    /// What a wait for the `phase` of `r` expects ([`crate::pacing`]); nothing for waits
    /// of other kinds (an adoption, an update).
    pub(super) fn expectation(&self, r: &Resource, phase: Option<Phase>) -> Expectation {
        match phase {
            Some(phase) => {
                pacing::expectation(r.kind, phase, self.backends.def(r.kind).map(|d| d.expected))
            }
            None => Expectation::default(),
        }
    }

    /// Polls `check` for `r` with the poller, paced for `phase`, whose duration it records.
    pub(super) async fn wait_for<F, Fut>(
        &self,
        r: &Resource,
        phase: Option<Phase>,
        check: F,
    ) -> Result<Outputs, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Readiness, ProviderError>>,
    {
        let started = Instant::now();
        // When the last check still found it pending: it finished between then and the
        // check that found it done, so the middle is the best estimate of its duration
        // (the time it was noticed late is not part of it).
        let mut last_pending = None;
        let outputs = self
            .options
            .poller
            .await_expected(
                self.expectation(r, phase),
                self.backends
                    .timeout(r.kind, &self.options.timeouts, self.options.default_timeout),
                &self.options.retry,
                check,
                |status| {
                    last_pending = Some(Instant::now());
                    self.events.emit(Event::ResourceProgress {
                        id: r.id.clone(),
                        status: status.to_string(),
                    })
                },
            )
            .await?;
        if let Some(phase) = phase {
            let done = started.elapsed();
            let took = match last_pending {
                Some(at) => (at.duration_since(started) + done) / 2,
                None => done,
            };
            pacing::record(r.kind, phase, took);
        }
        Ok(outputs)
    }
}
