-- Every delivery-state event ever reported, one row per (message, state).
-- Kept even when the message is not stored yet: the message insert applies
-- the highest-ranked one when it arrives.
CREATE TABLE message_statuses (
    id                  bigserial PRIMARY KEY,
    provider            text        NOT NULL,
    provider_message_id text        NOT NULL,
    state               text        NOT NULL,
    rank                smallint    NOT NULL,
    occurred_at         timestamptz NOT NULL,
    recipient           text,
    errors              jsonb,
    billing             jsonb,
    raw                 jsonb       NOT NULL,
    stored_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT message_statuses_message_state_key UNIQUE (provider, provider_message_id, state)
);

-- One reaction per reactor and message; a removal keeps the row with no emoji.
-- `reacted_at` is the time of the event that set the row, so an older event
-- arriving late does not overwrite a newer one.
CREATE TABLE reactions (
    id                 bigserial PRIMARY KEY,
    provider           text        NOT NULL,
    target_message_id  text        NOT NULL,
    reactor            text        NOT NULL,
    emoji              text,
    provider_event_id  text        NOT NULL,
    reacted_at         timestamptz NOT NULL,
    raw                jsonb       NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reactions_target_reactor_key UNIQUE (provider, target_message_id, reactor)
);

-- Calls: the latest known state of each call, and every lifecycle event.
CREATE TABLE calls (
    id               bigserial PRIMARY KEY,
    provider         text        NOT NULL,
    provider_call_id text        NOT NULL,
    line_id          text,
    direction        text CHECK (direction IN ('inbound', 'outbound')),
    from_address     text,
    to_address       text,
    status           text,
    started_at       timestamptz,
    completed_at     timestamptz,
    last_event       text        NOT NULL,
    last_event_at    timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT calls_provider_call_key UNIQUE (provider, provider_call_id)
);

CREATE TABLE call_events (
    id               bigserial PRIMARY KEY,
    provider         text        NOT NULL,
    provider_call_id text        NOT NULL,
    event            text        NOT NULL,
    occurred_at      timestamptz NOT NULL,
    data             jsonb       NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT call_events_call_event_key UNIQUE (provider, provider_call_id, event)
);

-- Consent: the contact's current opt-out state and what decided it. Only a
-- newer decision replaces an older one.
ALTER TABLE contacts
    ADD COLUMN opted_out          boolean NOT NULL DEFAULT false,
    ADD COLUMN consent_changed_at timestamptz,
    ADD COLUMN consent_keyword    text,
    ADD COLUMN consent_message_id text;

-- Contact records kept by a provider (OpenPhone contact events).
CREATE TABLE provider_contacts (
    id                  bigserial PRIMARY KEY,
    provider            text        NOT NULL,
    provider_contact_id text        NOT NULL,
    deleted             boolean     NOT NULL DEFAULT false,
    data                jsonb       NOT NULL,
    changed_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT provider_contacts_provider_contact_key UNIQUE (provider, provider_contact_id)
);

-- The connection state of each line (bridge sessions), with the time of the
-- last change; only a newer change applies.
CREATE TABLE line_status (
    provider   text        NOT NULL,
    line_id    text        NOT NULL,
    status     text        NOT NULL,
    changed_at timestamptz NOT NULL,
    data       jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, line_id)
);

-- Account-level events (template status, quality, unknown fields), kept raw.
CREATE TABLE account_events (
    id          bigserial PRIMARY KEY,
    provider    text        NOT NULL,
    line_id     text,
    field       text        NOT NULL,
    event       text,
    event_key   text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    data        jsonb       NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT account_events_provider_key UNIQUE (provider, event_key)
);

CREATE INDEX account_events_field_idx ON account_events (field, occurred_at DESC);

-- Events that can never succeed (or ran out of retries), for operators to
-- inspect and replay. The raw body is kept byte for byte.
CREATE TABLE dead_letters (
    id               bigserial PRIMARY KEY,
    provider         text        NOT NULL,
    line_id          text,
    dedup_key        text,
    correlation_id   text,
    body             bytea       NOT NULL,
    headers          jsonb       NOT NULL,
    error            text        NOT NULL,
    attempts         integer     NOT NULL,
    first_failed_at  timestamptz NOT NULL DEFAULT now(),
    last_failed_at   timestamptz NOT NULL DEFAULT now(),
    state            text        NOT NULL DEFAULT 'dead' CHECK (state IN ('dead', 'replayed')),
    replayed_at      timestamptz
);

-- At most one open dead letter per raw event: a redelivery of an event
-- already dead-lettered updates that row instead of adding another.
CREATE UNIQUE INDEX dead_letters_open_key ON dead_letters (provider, dedup_key) WHERE state = 'dead';
CREATE INDEX dead_letters_state_idx ON dead_letters (state, last_failed_at DESC);
