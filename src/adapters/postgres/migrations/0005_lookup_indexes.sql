-- Page lookups probe candidates by (account, Contact Id) and by (account, email key). With
-- the account first in every index, stale statistics (a first import) led the planner to
-- scan a whole account per key through whichever index was smaller. With the key first,
-- each probe has one sensible index, whatever the statistics say. Nothing reads candidates
-- by SystemModstamp, so that index goes.
DROP INDEX IF EXISTS candidates_account_modstamp_idx;
ALTER TABLE candidates
    DROP CONSTRAINT candidates_account_email_key,
    DROP CONSTRAINT candidates_account_salesforce_id_key,
    ADD CONSTRAINT candidates_account_email_key UNIQUE (email_key, account_id)
        DEFERRABLE INITIALLY IMMEDIATE,
    ADD CONSTRAINT candidates_account_salesforce_id_key UNIQUE (salesforce_id, account_id)
        DEFERRABLE INITIALLY IMMEDIATE;
