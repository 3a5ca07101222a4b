-- +goose Up

-- The console's calls table (campaign.Store.ListCalls): one campaign's attempts, a page at a
-- time by keyset, sorted by creation, cost or duration, either way. A NULL cost or duration sorts
-- as -1 (before every real value), so the sort key is never NULL and a row comparison orders it.
CREATE INDEX attempt_calls_created_idx ON attempt (campaign_id, created_at, id);
CREATE INDEX attempt_calls_cost_idx ON attempt (campaign_id, (coalesce(cost, -1)), id);
CREATE INDEX attempt_calls_duration_idx ON attempt (campaign_id, (coalesce(duration_seconds, -1)), id);
-- The default order filtered by outcome: a rare outcome (busy, voicemail) is then a range, not a
-- walk through every call.
CREATE INDEX attempt_calls_outcome_idx ON attempt (campaign_id, outcome, created_at, id);

-- Its search: a phone prefix, a name prefix (case-insensitive) and an exact external id, among
-- the contacts that have calls. The predicate keeps every index empty at import (a contact is
-- inserted pending with no attempt), so the import pays nothing for them; a contact enters when
-- the hopper first takes it (queued) and stays. Byte order (COLLATE "C"), so a prefix is a range
-- whatever the database's collation.
CREATE INDEX contact_search_phone_idx ON contact (campaign_id, phone COLLATE "C")
    WHERE attempts > 0 OR state <> 'pending';
CREATE INDEX contact_search_name_idx ON contact (campaign_id, (lower(name) COLLATE "C"))
    WHERE attempts > 0 OR state <> 'pending';
CREATE INDEX contact_search_external_id_idx ON contact (campaign_id, external_id)
    WHERE (attempts > 0 OR state <> 'pending') AND external_id <> '';

-- A call's raw webhook events by attempt key (those by call id use webhook_event_call_idx).
CREATE INDEX webhook_event_attempt_key_idx ON webhook_event (attempt_key) WHERE attempt_key <> '';

-- The campaign page's errors needing attention (Store.StatusExtras): the attempts with an error
-- and the webhook events that failed or were refused, few among many.
CREATE INDEX attempt_error_idx ON attempt (campaign_id, error) WHERE error <> '';
CREATE INDEX webhook_event_problem_idx ON webhook_event (id) WHERE apply_error <> '' OR rejected <> '';

-- +goose Down
DROP INDEX webhook_event_problem_idx;
DROP INDEX attempt_error_idx;
DROP INDEX webhook_event_attempt_key_idx;
DROP INDEX contact_search_external_id_idx;
DROP INDEX contact_search_name_idx;
DROP INDEX contact_search_phone_idx;
DROP INDEX attempt_calls_outcome_idx;
DROP INDEX attempt_calls_duration_idx;
DROP INDEX attempt_calls_cost_idx;
DROP INDEX attempt_calls_created_idx;
