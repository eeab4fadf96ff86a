//! Gateway integration tests: real HTTP, RabbitMQ and Redis.

mod helpers;
mod hostile;
mod meta;
mod observability;
