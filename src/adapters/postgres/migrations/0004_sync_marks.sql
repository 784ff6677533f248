-- Incremental reads re-check a settled window once instead of a fixed lookback every run,
-- and a change of the field list (a new mapping) forces a full read: both are kept here.
-- The marks may be saved before any Contact gave a cursor, so the cursor may be empty.
ALTER TABLE sync_state
    ADD COLUMN settled_until timestamptz,
    ADD COLUMN fields_read text[],
    ALTER COLUMN cursor_modstamp DROP NOT NULL,
    ALTER COLUMN cursor_contact_id DROP NOT NULL;
