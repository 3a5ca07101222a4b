-- +goose Up

-- Each end-of-call report is stored twice, both 10-30 KB and TOASTed: the raw body
-- (webhook_event.payload) and its transcript (attempt.transcript). Postgres's default TOAST
-- compression, pglz, costs as much CPU as parsing the body into jsonb; lz4 compresses as well
-- for these documents at a twentieth of the cost (measured), which is webhook ingest's
-- bottleneck. Only values written from now on are compressed with lz4, without a rewrite; the
-- old ones stay readable. A server built without lz4 keeps pglz.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE webhook_event ALTER COLUMN payload SET COMPRESSION lz4;
        ALTER TABLE attempt ALTER COLUMN transcript SET COMPRESSION lz4;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE webhook_event ALTER COLUMN payload SET COMPRESSION default;
ALTER TABLE attempt ALTER COLUMN transcript SET COMPRESSION default;
