//! The worker's integration tests, on the real PostgreSQL and RabbitMQ.

mod consent;
mod dead_letters;
mod domain_events;
mod fixtures;
mod handlers;
mod helpers;
mod idempotency;
mod meta_fixtures;
mod metrics;
mod retries;
mod shutdown;
mod statuses;
