-- What a push plans a candidate from, stored with the row: the digest of its attributes,
-- unsubscribe and Contact (jsonb's text form is canonical: keys sorted). A push with
-- nothing changed compares it with push_state.planned_from instead of hashing every
-- candidate of the account (the no-op push at 100k: 0.45 s -> 0.2 s of Postgres).
ALTER TABLE candidates ADD COLUMN push_basis text GENERATED ALWAYS AS (
    md5(attributes::text || '|' || unsubscribed::text || '|' || salesforce_id)
) STORED;
