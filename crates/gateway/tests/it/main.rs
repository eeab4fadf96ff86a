//! Gateway integration tests: real HTTP, RabbitMQ, Redis and PostgreSQL.

mod admin;
mod bridge;
mod dedup;
mod fixtures;
mod helpers;
mod hostile;
mod limits;
mod lines;
mod meta;
mod observability;
mod openphone;
mod packs;
mod shutdown;
mod standard;
mod startup;
