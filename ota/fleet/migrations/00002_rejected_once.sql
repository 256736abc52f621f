-- A message the database refused is kept once, however often the broker
-- delivers it again (a redelivery after a crash of ingest, or a second
-- ingest process on the same shared subscription).

-- +goose Up
ALTER TABLE rejected ADD COLUMN digest text;
CREATE UNIQUE INDEX rejected_once ON rejected (digest);

-- +goose Down
DROP INDEX rejected_once;
ALTER TABLE rejected DROP COLUMN digest;
