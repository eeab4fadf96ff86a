//! Worker integration tests: real RabbitMQ and PostgreSQL (and the real gateway).

mod end_to_end;
mod forwarding;
mod migrations;
mod observability;
