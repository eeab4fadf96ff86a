//! Long-lived broker sessions, restarted with capped, jittered backoff until
//! shutdown: the one reconnect loop every consumer and publisher shares.

use rand::Rng;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The wait after `failures` consecutive failures: full jitter over a cap
/// that doubles from 100 ms to 5 s, so a fleet does not reconnect in step.
pub fn reconnect_delay(failures: u32) -> Duration {
    let cap_ms = 100u64.saturating_mul(1 << failures.min(6)).min(5_000);
    Duration::from_millis(rand::thread_rng().gen_range(cap_ms / 2..=cap_ms))
}

/// Runs `session` again and again until `shutdown`: a session that ends
/// cleanly resets the backoff, one that fails is logged (naming `what`) and
/// retried after [`reconnect_delay`].
pub async fn supervise<F, Fut, E>(what: &str, shutdown: &CancellationToken, mut session: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut failures: u32 = 0;
    while !shutdown.is_cancelled() {
        match session().await {
            Ok(()) => failures = 0,
            Err(error) => {
                failures = failures.saturating_add(1);
                let delay = reconnect_delay(failures);
                tracing::warn!(
                    error = %error,
                    retry_in_ms = delay.as_millis() as u64,
                    "{what} session failed; reconnecting."
                );
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    tracing::info!("{what} stopped.");
}
