//! Forwarding tables: clients, their endpoints, deliveries and attempts.
//!
//! Every query a client can trigger carries its `client_id`, so another
//! client's ids simply find nothing (the API answers 404).

mod clients;
mod deliveries;
mod endpoints;
mod sending;

pub use clients::{
    client_by_token_hash, insert_client, list_clients, revoke_client, rotate_client_token,
    ClientChange, ClientSummary, ForwardClient,
};
pub use deliveries::{
    fan_out, get_delivery, insert_test_delivery, list_attempts, list_deliveries, retry_delivery,
    Attempt, Delivery, DeliveryPage, FanOutEvent, RetryOutcome,
};
pub use endpoints::{
    delete_endpoint, get_endpoint, insert_endpoint, list_endpoints, rotate_secret, update_endpoint,
    Endpoint, EndpointPatch, NewEndpoint,
};
pub use sending::{claim_due, record_attempt, AttemptRecord, ClaimLimits, Claimed, Verdict};
