//! Long-lived broker sessions, restarted with capped, jittered backoff until
//! shutdown: the one reconnect loop every consumer and publisher shares.

use rand::Rng;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The wait after `failures` consecutive failures: half to all of a cap that
/// doubles from 200 ms to 2 s, so a fleet does not reconnect in step. A
/// refused connection costs little, and every second spent waiting after the
/// broker is back is a second of 503s.
pub fn reconnect_delay(failures: u32) -> Duration {
    let cap_ms = 100u64.saturating_mul(1 << failures.min(5)).min(2_000);
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

#[cfg(test)]
mod tests {
    use super::reconnect_delay;
    use std::time::Duration;

    #[test]
    fn the_wait_grows_from_a_tenth_of_a_second_and_never_passes_two_seconds() {
        for _ in 0..100 {
            let first = reconnect_delay(1);
            assert!((Duration::from_millis(100)..=Duration::from_millis(200)).contains(&first));
            for failures in [5, 6, 30, u32::MAX] {
                let later = reconnect_delay(failures);
                assert!((Duration::from_secs(1)..=Duration::from_secs(2)).contains(&later));
            }
        }
    }
}
