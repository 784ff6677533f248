-- Sign-ups waiting for (or done with) the flag on their Contact: one row per
-- candidate.signed_up message, so a redelivered message is recorded once.
CREATE TABLE signups (
    message_id   text COLLATE "C" PRIMARY KEY,
    account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    candidate_id text NOT NULL,
    email        text NOT NULL,
    received_at  timestamptz NOT NULL,
    outcome      text NOT NULL DEFAULT 'pending'
        CHECK (outcome IN ('pending', 'flagged', 'already_flagged', 'no_contact', 'skipped')),
    reason       text,
    contact_ids  text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX signups_pending_idx ON signups (account_id, received_at) WHERE outcome = 'pending';

-- A flush of the account's pending sign-ups has been asked for (and not started yet).
CREATE TABLE signup_flushes (
    account_id   text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    requested_at timestamptz NOT NULL
);
