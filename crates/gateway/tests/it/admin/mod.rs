//! The forwarding management API, over real HTTP on its own listener.

mod auth;
mod clients;
mod endpoints;
mod openapi;
mod support;
