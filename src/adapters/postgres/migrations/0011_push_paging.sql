-- What the push needs of candidates: when each attribute last changed (a two-way mapping
-- goes to the side that changed last), and a keyset read of an account's candidates that
-- came from Salesforce, in id order.
--
-- attributes_changed_at maps attribute name -> the time (JSON text) its value last changed
-- in an UPDATE, whoever wrote it (sfsync or another service writing the table). A
-- candidate's first values have no time: they came from its Contact (the import) or from a
-- sign-up, and an unknown time lets Salesforce win a two-way conflict.
ALTER TABLE candidates
    ADD COLUMN attributes_changed_at jsonb NOT NULL DEFAULT '{}'::jsonb;

CREATE FUNCTION candidates_attributes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.attributes_changed_at := (
        SELECT coalesce(jsonb_object_agg(
            n.key,
            CASE WHEN OLD.attributes -> n.key IS NOT DISTINCT FROM n.value
                 THEN OLD.attributes_changed_at -> n.key
                 ELSE to_jsonb(now()) END
        ) FILTER (WHERE OLD.attributes -> n.key IS DISTINCT FROM n.value
                  OR OLD.attributes_changed_at ? n.key), '{}'::jsonb)
        FROM jsonb_each(NEW.attributes) AS n
    );
    RETURN NEW;
END
$$;

-- Only when the attributes change: the import's upserts of unchanged rows pay nothing.
CREATE TRIGGER candidates_attributes_changed BEFORE UPDATE ON candidates
    FOR EACH ROW WHEN (OLD.attributes IS DISTINCT FROM NEW.attributes)
    EXECUTE FUNCTION candidates_attributes_changed();

CREATE INDEX candidates_push_page_idx ON candidates (account_id, id)
    WHERE salesforce_id IS NOT NULL;
