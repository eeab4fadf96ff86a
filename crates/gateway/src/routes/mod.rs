//! HTTP routes: provider webhooks, health probes, metrics.

pub mod bridge;
pub mod health;
pub mod ingest;
pub mod meta;
pub mod metrics;
pub mod openphone;
pub mod standard;
