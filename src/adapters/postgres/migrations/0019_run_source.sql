-- Where a run read from and what it cost (issue 14): `via` salesforce or vendor, the calls
-- and rate-limit waits, and in vendor mode the vendor's last Contact sync and the resync.
ALTER TABLE sync_runs ADD COLUMN source jsonb NOT NULL DEFAULT '{}';
