//! What every [`ConditionalObjects`](super::ConditionalObjects) backend does with one
//! request: send it, again while it fails with an error the engine retries, and map what
//! finally fails to a [`StateError`].

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::ProviderError;
use crate::retry::RetryPolicy;
use crate::state::StateError;

/// Sends the request `request` makes, retrying it with `retry` while `judge` finds its
/// error retryable (`judge` answers the engine's error for a retryable one, `None` for an
/// answer to return as is); the last attempt's answer as the SDK gave it. `location` and
/// `operation` name the request in the retry log. `give_up` turns a retryable error into
/// the SDK's error type, should the policy ever stop on one.
pub async fn send_retrying<T, E, F, Fut>(
    retry: &RetryPolicy,
    (location, operation): (&str, &str),
    mut request: F,
    judge: impl Fn(&E) -> Option<ProviderError>,
    give_up: impl FnOnce(ProviderError) -> E,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let max_attempts = retry.max_attempts;
    let attempts = AtomicU32::new(0);
    let judge = &judge;
    let answer = retry
        .run(
            || {
                let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
                let sent = request();
                async move {
                    match sent.await {
                        Err(err) if attempt < max_attempts => match judge(&err) {
                            Some(retryable) => Err(retryable),
                            None => Ok(Err(err)),
                        },
                        answer => Ok(answer),
                    }
                }
            },
            |attempt, wait, error| {
                tracing::debug!(
                    object = %location,
                    operation,
                    attempt,
                    ?wait,
                    %error,
                    "state store: retrying"
                );
            },
        )
        .await;
    // Only an attempt before the last fails `run`, with an error `run` retries.
    answer.unwrap_or_else(|e| Err(give_up(e)))
}

/// The [`StateError::Backend`] of `operation` on `location` failing with `error`
/// (`detail`: how to say it).
pub fn backend_error<E>(
    operation: &str,
    location: &str,
    detail: impl fmt::Display,
    error: E,
) -> StateError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StateError::Backend {
        message: format!("{operation} {location}: {detail}"),
        source: Some(Box::new(error)),
    }
}
