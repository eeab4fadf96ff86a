//! Inlet's shared domain.
//!
//! - [`provider`]: the senders Inlet accepts.
//! - [`signature`]: each sender's signing scheme (sign and verify), shared by the gateway,
//!   the forwarder and the load generator.

pub mod signature;
