-- What the push (export) needs: each mapping's direction, what Salesforce last acknowledged
-- per candidate, the history of consent changes, and per-record push failures. The last
-- three belong to a candidate and go with it: deleting a candidate deletes their rows.

ALTER TABLE attribute_mappings
    ADD COLUMN direction text NOT NULL DEFAULT 'import'
        CONSTRAINT attribute_mappings_direction_check
        CHECK (direction IN ('import', 'export', 'two_way'));

-- Per candidate: the Contact pushed to, field -> value as Salesforce acknowledged it (JSON),
-- when, and the Contact's SystemModstamp if known. Written in the push's page transaction,
-- with the run's progress, so a crash resends only what was not acknowledged.
CREATE TABLE push_state (
    candidate_id     text COLLATE "C" PRIMARY KEY
        REFERENCES candidates (id) ON DELETE CASCADE,
    account_id       text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact_id       text COLLATE "C" NOT NULL,
    acknowledged     jsonb NOT NULL DEFAULT '{}'::jsonb,
    acknowledged_at  timestamptz NOT NULL,
    contact_modstamp timestamptz
);

-- Every consent change, with its source and time; append-only (updates are refused).
CREATE TABLE consent_changes (
    id           bigserial PRIMARY KEY,
    account_id   text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    candidate_id text COLLATE "C" NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
    unsubscribed boolean NOT NULL,
    source       text NOT NULL CHECK (source IN ('sfsync', 'salesforce')),
    changed_at   timestamptz NOT NULL
);
CREATE INDEX consent_changes_candidate_idx ON consent_changes (candidate_id, changed_at, id);

CREATE FUNCTION consent_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent_changes is append-only' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER consent_changes_no_update BEFORE UPDATE ON consent_changes
    FOR EACH ROW EXECUTE FUNCTION consent_changes_append_only();

-- The last failed update of a candidate's Contact. `message` is Salesforce's own text,
-- which can echo record values: it is kept here only (a table of personal data, like
-- candidates), never in sync_runs, events or logs. Not retryable (a deleted Contact, too
-- many attempts): the push leaves the candidate alone until it is recorded again.
CREATE TABLE push_failures (
    candidate_id text COLLATE "C" PRIMARY KEY
        REFERENCES candidates (id) ON DELETE CASCADE,
    account_id   text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact_id   text COLLATE "C" NOT NULL,
    error_code   text NOT NULL,
    fields       text[] NOT NULL DEFAULT '{}',
    message      text NOT NULL DEFAULT '',
    attempts     integer NOT NULL DEFAULT 1,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    retryable    boolean NOT NULL DEFAULT true
);
-- The next run's retries, in candidate order (paged by candidate id).
CREATE INDEX push_failures_retryable_idx ON push_failures (account_id, candidate_id)
    WHERE retryable;
