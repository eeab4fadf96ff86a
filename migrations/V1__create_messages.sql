-- Contacts: the people a line talks to, one row per provider and address.
CREATE TABLE contacts (
    id            bigserial PRIMARY KEY,
    provider      text        NOT NULL,
    address       text        NOT NULL,
    name          text,
    user_id       text,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT contacts_provider_address_key UNIQUE (provider, address)
);

-- Messages, inbound and outbound. The unique key on (provider,
-- provider_message_id) is what turns at-least-once delivery into
-- exactly-once effects.
CREATE TABLE messages (
    id                  bigserial PRIMARY KEY,
    provider            text        NOT NULL,
    provider_message_id text        NOT NULL,
    line_id             text,
    direction           text        NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_address        text,
    to_address          text,
    contact_id          bigint REFERENCES contacts (id),
    kind                text        NOT NULL,
    body                text,
    content             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    context             jsonb,
    status              text,
    status_rank         smallint    NOT NULL DEFAULT 0,
    status_at           timestamptz,
    sent_at             timestamptz,
    received_at         timestamptz NOT NULL,
    stored_at           timestamptz NOT NULL DEFAULT now(),
    raw                 jsonb       NOT NULL,
    CONSTRAINT messages_provider_message_key UNIQUE (provider, provider_message_id)
);

CREATE INDEX messages_line_received_idx ON messages (line_id, received_at DESC);
CREATE INDEX messages_contact_idx ON messages (contact_id, received_at DESC);

-- The audit trail: one row per raw event the worker took in.
CREATE TABLE webhook_events (
    id             bigserial PRIMARY KEY,
    provider       text        NOT NULL,
    line_id        text,
    dedup_key      text        NOT NULL,
    correlation_id text        NOT NULL,
    event_type     text        NOT NULL,
    received_at    timestamptz NOT NULL,
    processed_at   timestamptz,
    outcome        text        NOT NULL CHECK (outcome IN ('processed', 'ignored', 'retrying', 'dead')),
    attempts       integer     NOT NULL DEFAULT 1,
    last_error     text,
    CONSTRAINT webhook_events_provider_dedup_key UNIQUE (provider, dedup_key)
);

CREATE INDEX webhook_events_received_idx ON webhook_events (received_at DESC);
