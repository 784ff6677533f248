-- What `sfsync status` shows of a connection: the org and user it was made as (ids from
-- the token response's identity URL, never a name), when it was made, and the org's API
-- usage as the last run saw it (Salesforce's Sforce-Limit-Info header).
ALTER TABLE salesforce_connections
    ADD COLUMN org_id text,
    ADD COLUMN user_id text,
    ADD COLUMN connected_at timestamptz,
    ADD COLUMN api_used integer,
    ADD COLUMN api_limit integer,
    ADD COLUMN api_seen_at timestamptz;
