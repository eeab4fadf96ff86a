//! When to try again: exponential backoff with jitter, or the endpoint's `Retry-After`.

use chrono::{DateTime, Utc};
use rand::Rng;
use std::time::Duration;

/// The schedule's base and cap.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// Wait before the first retry (doubled for each later one).
    pub base: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Backoff {
    /// The wait after attempt number `attempt` (1-based) failed: `base × 2^(attempt-1)`,
    /// ±20 % jitter so that endpoints that failed together do not retry together,
    /// capped. A `Retry-After` from the endpoint wins, within the cap.
    pub fn delay(&self, attempt: i32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max);
        }
        let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let nominal = self.base.saturating_mul(1u32 << exponent.min(20));
        let jitter = rand::thread_rng().gen_range(0.8..=1.2);
        nominal.mul_f64(jitter).min(self.max)
    }
}

/// Reads a `Retry-After` value: delay seconds or an HTTP date, in any of the
/// three forms RFC 9110 asks a recipient to accept (IMF-fixdate, RFC 850,
/// asctime).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::<Utc>::from(httpdate::parse_http_date(value).ok()?);
    // A date already past means "now".
    (at - now).to_std().ok().or(Some(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: Backoff = Backoff {
        base: Duration::from_secs(5),
        max: Duration::from_secs(60),
    };

    #[test]
    fn delays_double_within_jitter_and_stop_at_the_cap() {
        for (attempt, nominal) in [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0)] {
            let d = SCHEDULE.delay(attempt, None).as_secs_f64();
            assert!(d >= nominal * 0.8 && d <= nominal * 1.2, "{attempt}: {d}");
        }
        assert_eq!(SCHEDULE.delay(12, None), Duration::from_secs(60));
    }

    #[test]
    fn retry_after_wins_within_the_cap() {
        assert_eq!(
            SCHEDULE.delay(1, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(
            SCHEDULE.delay(1, Some(Duration::from_secs(600))),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        // The obsolete forms a recipient must still read (RFC 9110 §5.6.7).
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:29:00 2015", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
