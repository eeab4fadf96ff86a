//! Throttles client addresses that keep failing signature checks.
//!
//! Only failures count, so valid traffic never adds to the rule however busy
//! it is. Once an address has made `limit` failures in a window, its requests
//! are refused with 429 before the body is read or hashed, until the window
//! ends: a scanner then costs a map look-up, not an HMAC over megabytes.
//!
//! A fixed window per address, in a map bounded by `max_clients`: when full,
//! expired windows are dropped first, then the oldest one. A small map beats a
//! general rate-limiter crate here because nothing but failures is counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failure counts per client address.
#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    window: Duration,
    max_clients: usize,
    // A std mutex: held for a map operation, never across an await.
    clients: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl Throttle {
    /// `limit` failures per `window` (0 turns throttling off), tracking at most
    /// `max_clients` addresses.
    pub fn new(limit: u32, window: Duration, max_clients: usize) -> Self {
        Throttle {
            limit,
            window,
            max_clients: max_clients.max(1),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds until the window ends)` when `ip` is throttled.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.check_at(ip, Instant::now())
    }

    /// Counts one signature failure from `ip`.
    pub fn record_failure(&self, ip: IpAddr) {
        self.record_at(ip, Instant::now());
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        if self.limit == 0 {
            return Ok(());
        }
        let Ok(clients) = self.clients.lock() else {
            return Ok(());
        };
        match clients.get(&ip) {
            Some(w) if w.failures >= self.limit && now < w.started + self.window => {
                let left = (w.started + self.window).saturating_duration_since(now);
                // Round up: "Retry-After: 0" would invite an immediate retry.
                Err(left.as_secs() + u64::from(left.subsec_nanos() > 0))
            }
            _ => Ok(()),
        }
    }

    fn record_at(&self, ip: IpAddr, now: Instant) {
        if self.limit == 0 {
            return;
        }
        let Ok(mut clients) = self.clients.lock() else {
            return;
        };
        if !clients.contains_key(&ip) && clients.len() >= self.max_clients {
            let window = self.window;
            clients.retain(|_, w| now < w.started + window);
            if clients.len() >= self.max_clients {
                let oldest = clients
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    clients.remove(&oldest);
                }
            }
        }
        let entry = clients.entry(ip).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= entry.started + self.window {
            *entry = Window {
                started: now,
                failures: 0,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
    }

    /// Addresses currently tracked (for tests).
    pub fn tracked(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn an_address_is_throttled_after_the_limit_until_the_window_ends() {
        let t = Throttle::new(3, MINUTE, 100);
        let start = Instant::now();
        for _ in 0..2 {
            t.record_at(ip(1), start);
        }
        assert_eq!(t.check_at(ip(1), start), Ok(()));
        t.record_at(ip(1), start);
        assert_eq!(t.check_at(ip(1), start + Duration::from_secs(10)), Err(50));
        assert_eq!(t.check_at(ip(2), start), Ok(()), "other addresses pass");
        assert_eq!(t.check_at(ip(1), start + MINUTE), Ok(()));
    }

    #[test]
    fn a_new_window_starts_from_zero() {
        let t = Throttle::new(2, MINUTE, 100);
        let start = Instant::now();
        t.record_at(ip(1), start);
        t.record_at(ip(1), start + MINUTE);
        assert_eq!(t.check_at(ip(1), start + MINUTE), Ok(()));
    }

    #[test]
    fn the_map_never_grows_past_its_bound() {
        let t = Throttle::new(1, MINUTE, 3);
        let start = Instant::now();
        for n in 0..10 {
            t.record_at(ip(n), start + Duration::from_millis(u64::from(n)));
        }
        assert_eq!(t.tracked(), 3);
        assert!(t.check_at(ip(9), start).is_err(), "the newest is kept");
        assert_eq!(t.check_at(ip(0), start), Ok(()), "the oldest was dropped");
    }

    #[test]
    fn a_limit_of_zero_turns_throttling_off() {
        let t = Throttle::new(0, MINUTE, 3);
        for _ in 0..10 {
            t.record_failure(ip(1));
        }
        assert_eq!(t.check(ip(1)), Ok(()));
        assert_eq!(t.tracked(), 0);
    }
}
