-- The reconcile lists every live Contact's Id and SystemModstamp (no personal data) and
-- compares them with the candidates: gone Contacts and missed updates. UNLOGGED: the rows
-- live for one run and are worthless after a crash (the next reconcile lists them again).
CREATE UNLOGGED TABLE reconcile_seen (
    run_id        text NOT NULL,
    salesforce_id text NOT NULL,
    modstamp      timestamptz NOT NULL,
    PRIMARY KEY (run_id, salesforce_id)
);

ALTER TABLE sync_state ADD COLUMN reconciled_at timestamptz;
