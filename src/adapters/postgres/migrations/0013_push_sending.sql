-- The values of an update on its way, kept with the plan (NULL: none on its way), so
-- Salesforce's answers are settled by Contact Id alone: an accepted update's values join
-- what was acknowledged in one statement, with nothing sent back from the worker.
ALTER TABLE push_state ADD COLUMN sending jsonb;
UPDATE push_state SET sending = '{}'::jsonb WHERE in_flight;
ALTER TABLE push_state DROP COLUMN in_flight;
