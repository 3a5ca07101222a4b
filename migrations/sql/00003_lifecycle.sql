-- +goose Up

-- Who runs the campaign's calls:
--   foreground: the `campaign run` / `campaign resume` process that started it (its own queues);
--   service:    `campaign serve` processes (`campaign run --detach`);
--   simulated:  a `--simulate` process with its in-process simulator; nobody else may dial it.
ALTER TABLE campaign ADD COLUMN mode text NOT NULL DEFAULT 'foreground'
    CHECK (mode IN ('foreground', 'service', 'simulated'));

-- The structured-data keys of the conversation's follow-ups ('' = the defaults, callback_at and
-- do_not_call).
ALTER TABLE campaign ADD COLUMN callback_key text NOT NULL DEFAULT '';
ALTER TABLE campaign ADD COLUMN do_not_call_key text NOT NULL DEFAULT '';

-- Retry delays are divided by this: 1 for real campaigns, the simulator's time scale for
-- simulated ones (their retries run on simulated time, like their calls).
ALTER TABLE campaign ADD COLUMN retry_time_scale double precision NOT NULL DEFAULT 1
    CHECK (retry_time_scale > 0);

-- Why the contact went where it went after this attempt, e.g. "no_answer: retry 1 of 2 after 4h".
ALTER TABLE attempt ADD COLUMN decision text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE attempt DROP COLUMN decision;
ALTER TABLE campaign DROP COLUMN retry_time_scale;
ALTER TABLE campaign DROP COLUMN do_not_call_key;
ALTER TABLE campaign DROP COLUMN callback_key;
ALTER TABLE campaign DROP COLUMN mode;
