//! Gateway integration tests: real HTTP, RabbitMQ and Redis.

mod admin;
mod helpers;
mod meta;
