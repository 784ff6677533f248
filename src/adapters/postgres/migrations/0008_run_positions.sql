-- A run knows its mode and how far its committed pages reached, saved with each page (as
-- are its counts and errors): a retried or redelivered message carries the run on in the
-- same mode from its own position, and ends with the counts of an uninterrupted run.
ALTER TABLE sync_runs
    ADD COLUMN mode text NOT NULL DEFAULT '',
    ADD COLUMN cursor_modstamp timestamptz,
    ADD COLUMN cursor_contact_id text;
-- When the full import not finished yet began reading: a later run carrying an unfinished
-- first import on (after the quota, say) bases its marks on it.
ALTER TABLE sync_state ADD COLUMN full_started_at timestamptz;
