-- Every dead letter is recorded, whatever its bytes. `body` now holds the message as it was
-- published (it held the actor's arguments, {"body": ...} or {"error": ..., "raw": ...}),
-- and is NULL when the bytes are not JSON Postgres can store (NUL characters, NaN, bad
-- UTF-8, deep nesting, over the size cap): then `raw` keeps the first 64 KiB received.
-- `raw_size` and `raw_sha256` describe all the bytes received, for refused bodies.
ALTER TABLE dead_letters
    ALTER COLUMN body DROP NOT NULL,
    ADD COLUMN raw bytea,
    ADD COLUMN raw_size integer,
    ADD COLUMN raw_sha256 text;

UPDATE dead_letters
   SET raw = convert_to(body ->> 'raw', 'UTF8'), body = NULL
 WHERE jsonb_typeof(body) = 'object' AND body ? 'raw';
UPDATE dead_letters
   SET body = body -> 'body'
 WHERE jsonb_typeof(body) = 'object' AND body ? 'body';
