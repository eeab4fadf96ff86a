//! Worker integration tests: real RabbitMQ and PostgreSQL (and the real gateway).

mod any_order;
mod batching;
mod classification;
mod consent;
mod dead_letters;
mod domain_events;
mod end_to_end;
mod fixtures;
mod forwarding;
mod handlers;
mod helpers;
mod idempotency;
mod insert_order;
mod locks;
mod meta_fixtures;
mod metrics;
mod migrations;
mod observability;
mod packs;
mod probes;
mod retries;
mod shutdown;
mod statuses;
mod throughput;
mod vanished_services;
