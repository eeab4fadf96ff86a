//! HTTP routes: provider webhooks, health probes, metrics.

pub mod health;
pub mod ingest;
pub mod meta;
pub mod metrics;
