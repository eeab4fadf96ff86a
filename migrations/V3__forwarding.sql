-- Forwarding: customers (clients) register endpoints; every domain event that
-- matches an endpoint's filters becomes one delivery, tried until it succeeds,
-- fails for good, or runs out of attempts. Each try is an attempt row.

-- A client authenticates with a random bearer token shown once; only its
-- SHA-256 is kept (the token has 256 bits of entropy, so a slow hash adds nothing).
CREATE TABLE forward_clients (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL,
    token_hash  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT forward_clients_token_hash_key UNIQUE (token_hash)
);

CREATE TABLE forward_endpoints (
    id                   uuid        PRIMARY KEY,
    client_id            uuid        NOT NULL REFERENCES forward_clients (id) ON DELETE CASCADE,
    url                  text        NOT NULL,
    description          text        NOT NULL DEFAULT '',
    -- Empty means every line; otherwise line ids or the line's phone numbers.
    lines                text[]      NOT NULL DEFAULT '{}',
    -- Empty means every type; `message.*` matches a family.
    event_types          text[]      NOT NULL DEFAULT '{}',
    max_attempts         integer     NOT NULL CHECK (max_attempts BETWEEN 1 AND 50),
    enabled              boolean     NOT NULL DEFAULT true,
    disabled_reason      text,
    disabled_at          timestamptz,
    -- The Standard Webhooks signing secret (`whsec_…`); the sender needs it in
    -- clear to sign. The previous one keeps signing until its grace period ends.
    secret               text        NOT NULL,
    previous_secret      text,
    previous_secret_until timestamptz,
    -- Start of the current run of failed attempts (NULL after a success):
    -- an endpoint failing for too long is disabled.
    failing_since        timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX forward_endpoints_client_idx ON forward_endpoints (client_id, created_at);
CREATE INDEX forward_endpoints_enabled_idx ON forward_endpoints (enabled) WHERE enabled;

-- One row per (event, endpoint): the unique key makes fan-out idempotent when
-- the broker redelivers an event.
CREATE TABLE forward_deliveries (
    id               uuid        PRIMARY KEY,
    endpoint_id      uuid        NOT NULL REFERENCES forward_endpoints (id) ON DELETE CASCADE,
    event_id         text        NOT NULL,
    event_type       text        NOT NULL,
    payload          jsonb       NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'sending', 'retrying', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL,
    -- When the next try is due: waiting retries live here, so they survive restarts.
    next_attempt_at  timestamptz,
    -- While `sending`: until when the claiming worker owns it (a crashed
    -- worker's claim expires and another takes it over).
    lease_until      timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT forward_deliveries_event_endpoint_key UNIQUE (event_id, endpoint_id)
);

CREATE INDEX forward_deliveries_due_idx ON forward_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'sending', 'retrying');
CREATE INDEX forward_deliveries_endpoint_idx ON forward_deliveries (endpoint_id, id DESC);

CREATE TABLE forward_delivery_attempts (
    id              bigserial   PRIMARY KEY,
    delivery_id     uuid        NOT NULL REFERENCES forward_deliveries (id) ON DELETE CASCADE,
    attempt         integer     NOT NULL,
    attempted_at    timestamptz NOT NULL,
    status_code     integer,
    -- At most 1 KiB of the answer, for the customer's debugging.
    response_body   text,
    error           text,
    duration_ms     integer     NOT NULL,
    next_attempt_at timestamptz
);

CREATE INDEX forward_delivery_attempts_delivery_idx ON forward_delivery_attempts (delivery_id, attempt);
