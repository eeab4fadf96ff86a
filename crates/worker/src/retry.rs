//! Where a failed event goes next: a delay queue for a passing failure, the
//! dead letters for the rest. Each publish is confirmed before the original
//! delivery is acked, so an event is never in neither place.

use inlet_domain::broker::{publish_confirmed, PublishError, Topology, DEAD_ROUTING_KEY};
use inlet_domain::envelope::EventMeta;
use lapin::types::{AMQPValue, LongString};
use lapin::{BasicProperties, Channel};
use rand::Rng;
use std::time::Duration;

/// Whether the event has used up its retries (no delay tier for its attempt).
pub fn exhausted(topology: &Topology, meta: &EventMeta) -> bool {
    let tier = meta.attempt.saturating_sub(1) as usize;
    topology.retry_delays().get(tier).is_none()
}

/// Publishes the event to the delay queue for its attempt, with the attempt
/// count incremented. Returns `Ok(false)` when the retries are used up.
pub async fn schedule(
    channel: &Channel,
    topology: &Topology,
    meta: &EventMeta,
    body: &[u8],
    properties: &BasicProperties,
    timeout: Duration,
) -> Result<bool, PublishError> {
    let tier = meta.attempt.saturating_sub(1) as usize;
    let next = EventMeta {
        attempt: meta.attempt + 1,
        ..meta.clone()
    };
    to_tier(channel, topology, tier, &next, body, properties, timeout).await
}

/// Publishes an event that is out of retries to the last delay queue again,
/// its attempt count unchanged: for when its dead letter cannot be recorded
/// because the database is unavailable, so that it is tried again once the
/// database is back (and stored, or dead-lettered with a row) instead of
/// sitting in the dead queue where replay cannot find it. Returns `Ok(false)`
/// when there are no delay queues.
pub async fn hold(
    channel: &Channel,
    topology: &Topology,
    meta: &EventMeta,
    body: &[u8],
    properties: &BasicProperties,
    timeout: Duration,
) -> Result<bool, PublishError> {
    let Some(last) = topology.retry_delays().len().checked_sub(1) else {
        return Ok(false);
    };
    to_tier(channel, topology, last, meta, body, properties, timeout).await
}

/// Publishes the event, with `meta`'s headers, to delay tier `tier`;
/// `Ok(false)` when there is no such tier.
async fn to_tier(
    channel: &Channel,
    topology: &Topology,
    tier: usize,
    meta: &EventMeta,
    body: &[u8],
    properties: &BasicProperties,
    timeout: Duration,
) -> Result<bool, PublishError> {
    let Some(delay) = topology.retry_delays().get(tier) else {
        return Ok(false);
    };
    let props = properties
        .clone()
        .with_headers(meta.to_headers())
        .with_expiration(jittered(*delay).as_millis().to_string().into());
    publish_confirmed(
        channel,
        &topology.retry_exchange(),
        &Topology::retry_routing_key(tier),
        body,
        props,
        true,
        timeout,
    )
    .await?;
    Ok(true)
}

/// Header on a dead-queue message with the error chain that put it there.
pub const H_ERROR: &str = "x-inlet-error";

/// Publishes the event to the dead-letter queue, headers as they were plus
/// the error (so the queue alone is a sufficient record if the database is down).
pub async fn dead_letter(
    channel: &Channel,
    topology: &Topology,
    body: &[u8],
    properties: &BasicProperties,
    error: &str,
    timeout: Duration,
) -> Result<(), PublishError> {
    let mut headers = properties.headers().clone().unwrap_or_default();
    let error: String = error.chars().take(2_000).collect();
    headers.insert(
        H_ERROR.into(),
        AMQPValue::LongString(LongString::from(error.as_str())),
    );
    publish_confirmed(
        channel,
        &topology.dead_exchange(),
        DEAD_ROUTING_KEY,
        body,
        properties
            .clone()
            .with_delivery_mode(2)
            .with_headers(headers),
        true,
        timeout,
    )
    .await
}

/// ±20 % jitter, so events that failed together do not retry together.
fn jittered(delay: Duration) -> Duration {
    let factor = rand::thread_rng().gen_range(0.8..=1.2);
    delay.mul_f64(factor)
}
