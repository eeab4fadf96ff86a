//! A long-lived, self-healing pool of confirm-mode channels to RabbitMQ.
//!
//! A supervisor task owns the connection: it connects (retrying with capped,
//! jittered backoff), declares the topology, opens the channels and waits
//! until the connection fails, then starts over. Request handlers never
//! connect: they take an open channel or answer 503 at once, so the gateway
//! starts and serves while the broker is away.
//!
//! A connection that stops answering without failing (the broker's host
//! died, a partition, a broker that hangs) shows no error until the kernel or
//! a missed heartbeat says so, minutes later; every publish meanwhile waits
//! for its timeout and is answered 503. So a publish that times out with no
//! confirm having arrived since it was sent marks the connection *stalled*,
//! and the supervisor drops it for a new one, unless the broker said it is
//! blocking publishers (a memory or disk alarm), which a new connection would
//! not change.
//!
//! The connection outlives the HTTP server: at shutdown the server first
//! answers the requests it has (their publishes need the broker), and only
//! then [`Publisher::close`] closes the connection, cleanly, before the
//! process exits.

use crate::metrics::Metrics;
use inlet_domain::broker::{connect, publish_confirmed, PublishError, Topology, EVENT_ROUTING_KEY};
use inlet_domain::envelope::EventMeta;
use inlet_domain::pack;
use inlet_domain::supervise::reconnect_delay;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Publishes raw events with publisher confirms, over a few channels in turn.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

struct Inner {
    // A std lock: held only to clone a channel handle, never across an await.
    channels: RwLock<Vec<Channel>>,
    next: AtomicUsize,
    broken: Notify,
    // Set by a publish that timed out with no confirm since it was sent.
    stalled: AtomicBool,
    // When the last confirm (or nack, or return) arrived, in milliseconds
    // since `born`: any answer shows the connection is alive.
    answered_ms: AtomicU64,
    born: Instant,
    exchange: String,
    timeout: Duration,
    metrics: Metrics,
    // Asks the supervisor to close the connection and end.
    stop: CancellationToken,
    // True once the first connection attempt has ended, either way.
    tried: watch::Sender<bool>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl Publisher {
    /// Starts the supervisor; the publisher is usable at once (answering
    /// `Unavailable` until the first connection is up) and until [`close`](Self::close).
    pub fn start(
        url: String,
        topology: Topology,
        channels: usize,
        timeout: Duration,
        metrics: Metrics,
    ) -> Self {
        let inner = Arc::new(Inner {
            channels: RwLock::new(Vec::new()),
            next: AtomicUsize::new(0),
            broken: Notify::new(),
            stalled: AtomicBool::new(false),
            answered_ms: AtomicU64::new(0),
            born: Instant::now(),
            exchange: topology.ingest_exchange(),
            timeout,
            metrics,
            stop: CancellationToken::new(),
            tried: watch::Sender::new(false),
            supervisor: Mutex::new(None),
        });
        let supervisor = tokio::spawn(supervise(inner.clone(), url, topology, channels));
        if let Ok(mut slot) = inner.supervisor.lock() {
            *slot = Some(supervisor);
        }
        Publisher { inner }
    }

    /// Waits until the first connection attempt has ended, connected or
    /// not, for at most the publish timeout (an unreachable broker may
    /// never answer).
    pub async fn tried(&self) {
        let mut tried = self.inner.tried.subscribe();
        let _ = tokio::time::timeout(self.inner.timeout, tried.wait_for(|t| *t)).await;
    }

    /// Closes the connection and waits until it is closed (publishes after
    /// this answer `Unavailable`). Call it once nothing publishes any more.
    pub async fn close(&self) {
        self.inner.stop.cancel();
        let supervisor = self.inner.supervisor.lock().ok().and_then(|mut s| s.take());
        if let Some(supervisor) = supervisor {
            let _ = supervisor.await;
        }
    }

    /// Whether a channel is open (readiness).
    pub fn is_ready(&self) -> bool {
        self.channel().is_some()
    }

    fn channel(&self) -> Option<Channel> {
        let channels = self.inner.channels.read().ok()?;
        if channels.is_empty() {
            return None;
        }
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed) % channels.len();
        let channel = channels[i].clone();
        channel.status().connected().then_some(channel)
    }

    /// Publishes raw events and returns once the broker has confirmed them:
    /// one as a plain message, several as one pack ([`inlet_domain::pack`]).
    pub async fn publish(&self, events: &[(&EventMeta, &[u8])]) -> Result<(), PublishError> {
        let Some(channel) = self.channel() else {
            self.inner.broken.notify_one();
            return Err(PublishError::Unavailable);
        };
        let Some((body, properties)) = pack::message(events) else {
            return Ok(());
        };
        let started = Instant::now();
        let result = publish_confirmed(
            &channel,
            &self.inner.exchange,
            EVENT_ROUTING_KEY,
            &body,
            properties,
            true,
            self.inner.timeout,
        )
        .await;
        let metrics = &self.inner.metrics;
        metrics
            .publish_duration
            .observe(started.elapsed().as_secs_f64());
        metrics.events_per_publish.observe(events.len() as f64);
        let inner = &self.inner;
        match &result {
            Ok(()) | Err(PublishError::Nacked | PublishError::Unroutable) => {
                inner
                    .answered_ms
                    .fetch_max(inner.millis(Instant::now()), Ordering::Relaxed);
            }
            Err(PublishError::Timeout) => {
                if inner.answered_ms.load(Ordering::Relaxed) < inner.millis(started) {
                    inner.stalled.store(true, Ordering::Relaxed);
                    inner.broken.notify_one();
                }
            }
            // Let the supervisor look at the connection now rather than at
            // its next heartbeat.
            Err(PublishError::Broker(_)) => inner.broken.notify_one(),
            Err(PublishError::Unavailable) => {}
        }
        result
    }
}

impl Inner {
    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.born).as_millis()).unwrap_or(u64::MAX)
    }
}

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error(transparent)]
    Broker(#[from] lapin::Error),
    /// A broker that accepts the TCP connection but never answers (it hangs).
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

async fn supervise(inner: Arc<Inner>, url: String, topology: Topology, channels: usize) {
    let shutdown = &inner.stop;
    let mut failures: u32 = 0;
    while !shutdown.is_cancelled() {
        let opening = tokio::time::timeout(inner.timeout, open(&url, &topology, channels));
        let attempt = tokio::select! {
            _ = shutdown.cancelled() => break,
            attempt = opening => attempt.unwrap_or(Err(OpenError::TimedOut(inner.timeout))),
        };
        inner.tried.send_replace(true);
        match attempt {
            Ok((connection, opened)) => {
                failures = 0;
                inner.stalled.store(false, Ordering::Relaxed);
                if let Ok(mut slot) = inner.channels.write() {
                    slot.clone_from(&opened);
                }
                inner.metrics.broker_connected.set(1);
                tracing::info!(channels, "Connected to the broker.");
                wait_until_broken(&inner, &connection, shutdown).await;
                if let Ok(mut slot) = inner.channels.write() {
                    slot.clear();
                }
                inner.metrics.broker_connected.set(0);
                // Best effort, and bounded: the connection is usually already
                // gone, and a broker that stopped answering must not hold up
                // a stopping gateway. Channels first: closing the connection
                // under open channels makes lapin log an error.
                let _ = tokio::time::timeout(inner.timeout, async {
                    for channel in opened {
                        let _ = channel.close(200, "gateway reconnecting or stopping").await;
                    }
                    let _ = connection
                        .close(200, "gateway reconnecting or stopping")
                        .await;
                })
                .await;
                if !shutdown.is_cancelled() {
                    tracing::warn!("Lost the broker connection; reconnecting.");
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                let delay = reconnect_delay(failures);
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "Cannot reach the broker.");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

async fn open(
    url: &str,
    topology: &Topology,
    channels: usize,
) -> Result<(Connection, Vec<Channel>), OpenError> {
    let connection = connect(url, "inlet-gateway").await?;
    let mut opened = Vec::with_capacity(channels);
    for _ in 0..channels {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        opened.push(channel);
    }
    if let Some(first) = opened.first() {
        topology.declare(first).await?;
    }
    Ok((connection, opened))
}

/// Returns when the connection or any channel has failed, or on shutdown.
async fn wait_until_broken(inner: &Inner, connection: &Connection, shutdown: &CancellationToken) {
    let failed = Arc::new(Notify::new());
    let signal = failed.clone();
    connection.on_error(move |_| signal.notify_one());
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = failed.notified() => return,
            _ = inner.broken.notified() => {}
            // Belt and braces: a status check now and then catches a failure
            // whose error callback raced with registration.
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if inner.stalled.swap(false, Ordering::Relaxed) && !connection.status().blocked() {
            tracing::warn!(
                timeout_ms = inner.timeout.as_millis() as u64,
                "The broker confirmed nothing within the publish timeout; leaving the connection."
            );
            return;
        }
        let healthy = connection.status().connected()
            && inner
                .channels
                .read()
                .map(|c| c.iter().all(|ch| ch.status().connected()))
                .unwrap_or(false);
        if !healthy {
            return;
        }
    }
}
