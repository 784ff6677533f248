-- Initial schema: accounts and their settings, the Salesforce connection, candidates,
-- sync runs and state, processed-message ids (idempotency) and dead letters.

CREATE TABLE accounts (
    id          text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per account; a column for every field of AccountSettings.
CREATE TABLE account_settings (
    account_id          text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    only_import_tagged  boolean NOT NULL DEFAULT false,
    import_flag_field   text NOT NULL DEFAULT 'gq_import__c',
    deletion_field      text DEFAULT 'is_deleted__c',
    deletion_behaviour  text NOT NULL DEFAULT 'keep'
        CHECK (deletion_behaviour IN ('keep', 'delete', 'unsubscribe')),
    direct_api          boolean NOT NULL DEFAULT true,
    push_enabled        boolean NOT NULL DEFAULT false,
    signup_flag_enabled boolean NOT NULL DEFAULT true,
    duplicate_policy    text NOT NULL DEFAULT 'newest'
        CHECK (duplicate_policy IN ('newest', 'oldest', 'review')),
    unsubscribe_field   text NOT NULL DEFAULT 'HasOptedOutOfEmail',
    quota_share         double precision NOT NULL DEFAULT 0.5,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Tokens are Fernet ciphertext (see crypto.py); never plain text.
CREATE TABLE salesforce_connections (
    account_id        text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    instance_url      text NOT NULL,
    login_url         text NOT NULL,
    access_token_enc  bytea NOT NULL,
    refresh_token_enc bytea,
    issued_at         timestamptz,
    needs_reauth      boolean NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE attribute_mappings (
    account_id  text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text NOT NULL,
    field       text NOT NULL,
    CONSTRAINT attribute_mappings_account_name_key UNIQUE (account_id, name)
);

-- Deleting a candidate deletes its row: no soft delete keeps personal data around.
CREATE TABLE candidates (
    id              text PRIMARY KEY,
    account_id      text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email           text NOT NULL,
    email_key       text NOT NULL,
    first_name      text,
    last_name       text,
    name            text,
    salesforce_id   text,
    source_modstamp timestamptz,
    attributes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    unsubscribed    boolean NOT NULL DEFAULT false,
    needs_review    boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Deferrable: a page written in bulk may swap emails between two candidates.
    CONSTRAINT candidates_account_email_key UNIQUE (account_id, email_key)
        DEFERRABLE INITIALLY IMMEDIATE,
    CONSTRAINT candidates_account_salesforce_id_key UNIQUE (account_id, salesforce_id)
        DEFERRABLE INITIALLY IMMEDIATE
);
CREATE INDEX candidates_account_modstamp_idx ON candidates (account_id, source_modstamp);

CREATE TABLE sync_runs (
    id          text PRIMARY KEY,
    account_id  text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    request_id  text,
    scope       text NOT NULL,
    status      text NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz,
    processed   bigint NOT NULL DEFAULT 0,
    expected    bigint,
    counts      jsonb NOT NULL DEFAULT '{}'::jsonb,
    errors      jsonb NOT NULL DEFAULT '[]'::jsonb,
    fields_read text[] NOT NULL DEFAULT '{}'
);
-- "The same sync.requested id twice is one request."
CREATE UNIQUE INDEX sync_runs_account_request_key
    ON sync_runs (account_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX sync_runs_account_started_idx ON sync_runs (account_id, started_at DESC);

-- Incremental-import watermark: the last (SystemModstamp, Id) committed.
CREATE TABLE sync_state (
    account_id        text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    cursor_modstamp   timestamptz NOT NULL,
    cursor_contact_id text NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE processed_messages (
    message_id   text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_messages_processed_at_idx ON processed_messages (processed_at);

-- For the dead-letter tooling (list, inspect, replay).
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    queue       text NOT NULL,
    actor       text NOT NULL,
    message_id  text NOT NULL,
    reason      text NOT NULL,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    replayed_at timestamptz
);
CREATE INDEX dead_letters_unreplayed_idx ON dead_letters (created_at) WHERE replayed_at IS NULL;
