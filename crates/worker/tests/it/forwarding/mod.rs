//! Forwarding to customer endpoints: the management API, the delivery
//! consumer and a receiver the test scripts, all over real HTTP and AMQP.

mod delivery;
mod depth;
mod disable;
mod endpoint_gone;
mod events;
mod first_boot;
mod from_worker;
mod limits;
mod outage;
mod proxy;
mod receiver;
mod restart;
mod revoke;
mod support;
