//! Gateway integration tests: real HTTP, RabbitMQ and Redis.

mod helpers;
mod meta;
mod observability;
mod startup;
