-- The daily scheduler: each account's time zone and slot times, and one row per slot
-- (account, kind, local date) that a scheduler published or recorded as missed. The key is
-- what makes a slot happen once however many schedulers run (docs/scheduler.md).

ALTER TABLE account_settings
    ADD COLUMN time_zone text NOT NULL DEFAULT 'America/Los_Angeles',
    ADD COLUMN export_at time NOT NULL DEFAULT '23:30',
    ADD COLUMN import_at time NOT NULL DEFAULT '00:00';

CREATE TABLE schedule_slots (
    account_id  text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('export', 'import')),
    local_date  date NOT NULL,
    slot_at     timestamptz NOT NULL,
    request_id  text NOT NULL,
    status      text NOT NULL CHECK (status IN ('published', 'missed')),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, kind, local_date)
);
CREATE INDEX schedule_slots_slot_at_idx ON schedule_slots (slot_at);
