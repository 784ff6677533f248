-- What lets a push read only the candidates that may need a write. Per acknowledgement:
-- the digest of the candidate's content it was planned from (attributes, unsubscribe,
-- Contact: see candidates.py), whether an update is on its way (planned, Salesforce's
-- answer not kept yet: a crash leaves it set, so the next run plans it again), and the
-- push configuration it was planned under (mappings, unsubscribe field and their
-- describe; a changed one plans every candidate again).
ALTER TABLE push_state
    ADD COLUMN planned_from text,
    ADD COLUMN in_flight boolean NOT NULL DEFAULT false,
    ADD COLUMN config text;
