-- getDeleted has minute granularity and its own safe point (latestDateCovered), so the
-- deletes window keeps a watermark of its own beside the import cursor.
ALTER TABLE sync_state ADD COLUMN deletes_checked_until timestamptz;
