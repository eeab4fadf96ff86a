//! Worker integration tests: real PostgreSQL, RabbitMQ and HTTP.

mod forwarding;
