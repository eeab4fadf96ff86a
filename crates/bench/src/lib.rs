//! Inlet's proof tools: numbers for "it is fast" and evidence for "it loses nothing".
//!
//! - [`bodies`]: unique, correctly signed webhooks for each sender.
//! - [`load`]: the load generator (fixed rate with coordinated-omission
//!   correction, or flat out) and its report (HDR histogram).
//! - [`client`]: the load generator's connections, one per lane.
//! - [`floor`]: the HTTP floor, an actix-web handler that only reads the body.
//! - [`claim`]: the forwarding sender's claim behind a backlog of due deliveries.
//! - [`ceiling`]: the broker ceiling, confirmed persistent publishes straight to RabbitMQ.
//! - [`cpu`]: the machine's CPU time per phase and per process, from `/proc`.
//! - [`serve`]: gateway or worker in a process of their own (`inlet-bench serve …`).
//! - [`procs`]: starting, killing and measuring those processes.
//! - [`stack`]: a broker namespace, a database and processes for one measurement.
//! - [`suite`]: `inlet-bench all`, the four measurements of `just bench`.
//! - [`chaos`]: fault-injection scenarios and their reconciliation.

pub mod bodies;
pub mod ceiling;
pub mod chaos;
pub mod claim;
pub mod client;
pub mod cpu;
pub mod floor;
pub mod histogram;
pub mod load;
pub mod procs;
pub mod serve;
pub mod stack;
pub mod suite;
