-- What `sfsync dead-letters` filters and counts by, derived from each row by Postgres itself
-- (generated columns: filled at insert and, by this ALTER, for every existing row).
-- `request` is the contract message a row carries: its body, or the request inside a
-- Dramatiq envelope refused at the door. Only values that are plain ids are kept as
-- `account_id`, so a publisher's mistake (an email as account id) never shows in a list.
ALTER TABLE dead_letters
    ADD COLUMN account_id text GENERATED ALWAYS AS (
        CASE
            WHEN COALESCE(body -> 'kwargs' -> 'body', body) ->> 'account_id'
                 ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$'
            THEN COALESCE(body -> 'kwargs' -> 'body', body) ->> 'account_id'
        END
    ) STORED,
    -- sync.requested or candidate.signed_up; `unknown`: a JSON object of no contract type
    -- (the sign-up flush's own messages included); `unparseable`: anything else.
    ADD COLUMN message_type text GENERATED ALWAYS AS (
        CASE
            WHEN COALESCE(body -> 'kwargs' -> 'body', body) ->> 'type'
                 IN ('sync.requested', 'candidate.signed_up')
            THEN COALESCE(body -> 'kwargs' -> 'body', body) ->> 'type'
            WHEN jsonb_typeof(body) = 'object' THEN 'unknown'
            ELSE 'unparseable'
        END
    ) STORED,
    -- The reason's code ("invalid_message: ..." -> invalid_message); a reason without one
    -- (an exception type, dramatiq's own rejection) is its own code, up to its first space.
    ADD COLUMN reason_code text GENERATED ALWAYS AS (
        split_part(split_part(reason, ':', 1), ' ', 1)
    ) STORED,
    -- Set by a replay with a corrected body: which message replaced this one (no body).
    ADD COLUMN replay_note text;

CREATE INDEX dead_letters_created_idx ON dead_letters (created_at);
CREATE INDEX dead_letters_account_idx ON dead_letters (account_id, created_at);
CREATE INDEX dead_letters_type_idx ON dead_letters (message_type, created_at);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason_code, created_at);
