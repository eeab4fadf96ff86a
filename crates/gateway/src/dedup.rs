//! Deduplication at the door, in Redis, in two phases.
//!
//! Before publishing, a request claims its key as *in flight* (`in_flight:<correlation id>`,
//! short TTL); once the broker has confirmed, the key becomes *done* (long TTL).
//! A publish that fails releases the claim, but only its own (compare and
//! delete), so an event is never marked seen before it is safe. Each step
//! takes the keys of all the requests published together ([`crate::intake`])
//! in one pipelined round trip.
//!
//! No answer waits for the *done* mark: it is sent as the answers go out.
//! Until Redis has it, this gateway remembers the keys it is marking, so a
//! copy it sees meanwhile is a duplicate here too; another gateway would
//! answer such a copy 409 (in flight) for that round trip.
//!
//! Redis is an optimisation, not a guard (the worker's unique keys are): when
//! it does not answer within `timeout`, the gateway fails open, publishes
//! anyway, sets `inlet_gateway_dedup_available` to 0 and warns at most once
//! per interval. For a second after a failure, claims do not even try, so a
//! Redis that hangs costs one timeout per second, not one per request.
//!
//! Each thread (an actix worker, the probe's runtime thread) shares one
//! multiplexed connection among its requests (redis-rs's `ConnectionManager`),
//! which pipelines concurrent commands and reconnects by itself after an I/O
//! error; a connection that leaves a call unanswered is dropped for a new one
//! (its Redis may have vanished without closing it). Per thread, because the
//! connection's I/O task runs on the runtime that opened it: a request never
//! waits on another, possibly busy, thread.
//! Connections are opened on first use, so the gateway starts while Redis is
//! down, and a probe pings every few seconds, so Redis coming back is picked
//! up without a restart. A checked-out pool connection (deadpool-redis) would
//! cost a `PING` per checkout, doubling the round trips of every webhook.

use crate::config::Settings;
use crate::metrics::Metrics;
use inlet_domain::settings::SettingsError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::FromRedisValue;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The value of a claimed key, before its owner's correlation id.
pub const IN_FLIGHT: &str = "in_flight";
/// The value of a key whose event the broker has confirmed.
pub const DONE: &str = "done";

thread_local! {
    /// Each thread's connection per store (tests run several gateways in one process).
    static CONNECTIONS: RefCell<HashMap<u64, ConnectionManager>> = RefCell::new(HashMap::new());
}

/// Distinguishes stores in the thread caches.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// How long claims skip Redis after it failed.
const COOL_DOWN: Duration = Duration::from_secs(1);

/// Sets the key to ARGV[1] for ARGV[2] seconds unless it exists; returns the
/// existing value (nil when claimed). One round trip, atomic, any Redis version.
const CLAIM: &str = r"
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false";

/// Deletes the key only while it still holds this request's claim.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request owns the key now; publish, then `complete` or `release`.
    Claimed,
    /// The event was already published: answer `duplicate`.
    Duplicate,
    /// Another copy is being published right now: answer 409.
    InFlight,
    /// Redis did not answer: publish anyway (fail open).
    Unavailable,
}

/// The dedup store.
pub struct Dedup {
    client: redis::Client,
    // Keys this store's connections in each thread's cache.
    id: u64,
    prefix: String,
    in_flight_ttl: u64,
    done_ttl: u64,
    timeout: Duration,
    warn_interval: Duration,
    available: AtomicBool,
    last_warning: Mutex<Option<Instant>>,
    skip_until: Mutex<Option<Instant>>,
    // Keys whose events the broker confirmed while their done mark is on its
    // way to Redis.
    marking: Mutex<HashSet<String>>,
    // The marks on their way, so a stopping gateway can let them land.
    marks: TaskTracker,
    metrics: Metrics,
}

impl Dedup {
    /// A store over `INLET_REDIS_URL`; connects lazily, so it builds while Redis is down.
    pub fn new(settings: &Settings, metrics: Metrics) -> Result<Self, SettingsError> {
        let timeout = Duration::from_millis(settings.redis_timeout_ms.max(1));
        let client =
            redis::Client::open(settings.redis_url.as_str()).map_err(|e| SettingsError::Bad {
                name: "INLET_REDIS_URL",
                reason: e.to_string(),
            })?;
        metrics.dedup_available.set(0);
        Ok(Dedup {
            client,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            prefix: settings.dedup_prefix.clone(),
            in_flight_ttl: settings.dedup_in_flight_ttl_secs,
            done_ttl: settings.dedup_ttl_secs,
            timeout,
            warn_interval: Duration::from_secs(settings.dedup_warn_interval_secs),
            available: AtomicBool::new(false),
            last_warning: Mutex::new(None),
            skip_until: Mutex::new(None),
            marking: Mutex::new(HashSet::new()),
            marks: TaskTracker::new(),
            metrics,
        })
    }

    /// Claims each `(key, owner)` (owner: the request's correlation id), in
    /// order, in one round trip; a key given twice is claimed by the first.
    pub async fn claim_all(&self, keys: &[(&str, &str)]) -> Vec<Claim> {
        let unavailable = || vec![Claim::Unavailable; keys.len()];
        if keys.is_empty() || self.cooling_down() {
            return unavailable();
        }
        let mut pipe = redis::pipe();
        for (key, owner) in keys {
            // The script's text each time (EVAL, not EVALSHA): one round trip
            // even on a fresh or restarted Redis, which has no script cached.
            pipe.cmd("EVAL")
                .arg(CLAIM)
                .arg(1)
                .arg(self.key(key))
                .arg(claim_value(owner))
                .arg(self.in_flight_ttl);
        }
        let marking = self.marking(keys);
        match self.run::<Vec<Option<String>>>(pipe).await {
            Some(found) if found.len() == keys.len() => found
                .into_iter()
                .zip(marking)
                .map(|(v, marking)| match v {
                    None => Claim::Claimed,
                    Some(v) if v == DONE => Claim::Duplicate,
                    // This gateway's own claim on a published event.
                    Some(_) if marking => Claim::Duplicate,
                    Some(_) => Claim::InFlight,
                })
                .collect(),
            _ => unavailable(),
        }
    }

    /// Marks the keys done once the broker confirmed their events: for this
    /// gateway at once, in Redis a round trip later, which the caller does
    /// not wait for.
    pub fn complete_all(self: &Arc<Self>, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        if let Ok(mut marking) = self.marking.lock() {
            marking.extend(keys.iter().cloned());
        }
        let dedup = self.clone();
        self.marks.spawn(async move {
            dedup.mark_done(&keys).await;
            // Landed, or failed and left to expire as a claim.
            if let Ok(mut marking) = dedup.marking.lock() {
                for key in &keys {
                    marking.remove(key);
                }
            }
        });
    }

    /// Waits for the done marks on their way (each bounded by the Redis
    /// timeout), so none is cut off when the process exits. For a stopping
    /// gateway whose server has answered its last request.
    pub async fn settle(&self) {
        self.marks.close();
        self.marks.wait().await;
    }

    /// Which keys have their done mark on its way. Read before the claims
    /// are sent: a mark that lands while they are out is forgotten here
    /// before their answer is read.
    fn marking(&self, keys: &[(&str, &str)]) -> Vec<bool> {
        match self.marking.lock() {
            Ok(marking) if !marking.is_empty() => {
                keys.iter().map(|(key, _)| marking.contains(*key)).collect()
            }
            _ => vec![false; keys.len()],
        }
    }

    async fn mark_done(&self, keys: &[String]) {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("SET")
                .arg(self.key(key))
                .arg(DONE)
                .arg("EX")
                .arg(self.done_ttl)
                .ignore();
        }
        // On failure the claims simply expire: a retry after that is published
        // again, which the worker's unique keys absorb.
        let _ = self.run::<()>(pipe).await;
    }

    /// Releases each owner's claim on its key after a failed publish, so the
    /// provider's retry can pass.
    pub async fn release_all(&self, keys: &[(&str, &str)]) {
        if keys.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for (key, owner) in keys {
            pipe.cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(self.key(key))
                .arg(claim_value(owner))
                .ignore();
        }
        let _ = self.run::<()>(pipe).await;
    }

    /// Checks Redis every `every` until shutdown, so the gauge is right even
    /// without traffic.
    pub async fn watch(&self, every: Duration, shutdown: CancellationToken) {
        loop {
            let mut ping = redis::pipe();
            ping.cmd("PING");
            let _ = self.run::<(String,)>(ping).await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// This thread's connection, opened by its first caller. Two callers
    /// racing to open it both succeed; the later one is kept.
    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let cached = CONNECTIONS.with(|c| c.borrow().get(&self.id).cloned());
        if let Some(connection) = cached {
            return Ok(connection);
        }
        // One attempt, bounded: the caller's timeout and cool-down pace retries.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(self.timeout);
        let connection = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        CONNECTIONS.with(|c| c.borrow_mut().insert(self.id, connection.clone()));
        Ok(connection)
    }

    /// Runs the commands within the timeout; `None` (and the bookkeeping of a
    /// failure) when Redis did not answer.
    async fn run<T: FromRedisValue>(&self, pipe: redis::Pipeline) -> Option<T> {
        let call = async {
            let mut conn = self.connection().await?;
            pipe.query_async::<T>(&mut conn).await
        };
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => {
                // A connection whose peer vanished (its host died, a partition,
                // a failover) sees no error until the kernel gives up, many
                // minutes later; Redis back elsewhere would go unused till then.
                // The next call, after the cool-down, opens a new one.
                CONNECTIONS.with(|c| c.borrow_mut().remove(&self.id));
                Err(format!("no answer within {} ms", self.timeout.as_millis()))
            }
        };
        match result {
            Ok(value) => {
                if !self.available.swap(true, Ordering::Relaxed) {
                    self.metrics.dedup_available.set(1);
                    tracing::info!("Dedup store (Redis) answers; deduplicating.");
                }
                Some(value)
            }
            Err(error) => {
                if let Ok(mut until) = self.skip_until.lock() {
                    *until = Some(Instant::now() + COOL_DOWN);
                }
                self.available.store(false, Ordering::Relaxed);
                self.metrics.dedup_available.set(0);
                self.warn(&error);
                None
            }
        }
    }

    fn cooling_down(&self) -> bool {
        self.skip_until
            .lock()
            .map(|until| until.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }

    fn warn(&self, error: &str) {
        let Ok(mut last) = self.last_warning.lock() else {
            return;
        };
        if last.is_some_and(|at| at.elapsed() < self.warn_interval) {
            return;
        }
        *last = Some(Instant::now());
        tracing::warn!(
            error,
            "Dedup store (Redis) unavailable; accepting events without deduplication."
        );
    }
}

fn claim_value(owner: &str) -> String {
    format!("{IN_FLIGHT}:{owner}")
}
