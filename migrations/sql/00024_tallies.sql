-- +goose Up

-- Tallies: the counts and sums that status, report and metrics read, kept by triggers so that
-- no reader scans a campaign's contacts and attempts (a million of each at most).
--
-- Every statement that changes contact or attempt rows appends its signed change to
-- tally_delta, grouped (one row per campaign, kind and key per statement), from the rows it
-- changed (its transition tables). Store.CompactTallies folds the deltas into tally, in one
-- transaction. A reader sums tally and tally_delta in one snapshot, so its figures are exact at
-- any moment, compacted or not.
--
-- Kinds and keys (v holds the sums that go with the count n):
--   c  contacts   [state, outcome, first zone, called (attempts > 0)]
--   a  attempts   [state, outcome, ended reason, success evaluation, call, at Vapi,
--                  caller phone number id, duration bucket of a connected call ('' otherwise)]
--                 v = [cost, attempts with a duration, duration seconds, transport, stt, llm,
--                      tts, vapi, analysis]
--   h  calls      [contact's first zone, call start time floored to the UTC quarter hour, as
--                  Unix seconds]; v = [connected]. Every zone's offset is a whole number of
--                  quarter hours, so the local hour of the quarter is the call's local hour.
--   r  calls      [rank among the contact's calls]; v = [connected, successful, contacts whose
--                  first connected call this is, contacts whose first successful call this is]
--   z  contacts   [first zone] with a call; v = [with a connected call, with a successful call]
-- A call is an attempt that is not not_created and whose outcome is not capacity; connected:
-- outcome completed; successful: tally_success (campaign.SuccessValues).
--
-- r and z are facts of a contact's calls taken together: the trigger locks the contacts whose
-- calls it recomputes (FOR NO KEY UPDATE, id order, after the attempt rows its statement
-- locked: the lock order of campaign/dispatch.go), so two transactions changing calls of one
-- contact recompute one after the other, each from the other's committed rows.
--
-- A contact's zone is fixed once it has an attempt (its calls' tallies are filed under it):
-- changing time_zones then is an error. Contacts and attempts are deleted only with their campaign, whose tally rows go
-- with it (the compactor drops the deltas of a campaign that no longer exists); a deleted
-- attempt's c and a figures are taken out exactly, its h, r and z figures only while its
-- contact exists.
CREATE TABLE tally (
    campaign_id bigint NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    key         text[] NOT NULL,
    n           bigint NOT NULL,
    v           numeric[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (campaign_id, kind, key)
);

CREATE TABLE tally_delta (
    campaign_id bigint NOT NULL,
    kind        text NOT NULL,
    key         text[] NOT NULL,
    n           bigint NOT NULL,
    v           numeric[] NOT NULL DEFAULT '{}'
);
CREATE INDEX tally_delta_campaign_idx ON tally_delta (campaign_id);

-- The connected calls' durations in order, for their percentiles (read by position).
CREATE INDEX attempt_connected_duration_idx ON attempt (campaign_id, duration_seconds)
    WHERE outcome = 'completed' AND state <> 'not_created' AND duration_seconds IS NOT NULL;
-- The bounds of the calls at Vapi (ReportFacts.VapiFrom and VapiTo).
CREATE INDEX attempt_vapi_from_idx ON attempt (campaign_id, (least(created_at, call_created_at)))
    WHERE vapi_call_id IS NOT NULL;
CREATE INDEX attempt_vapi_to_idx ON attempt (campaign_id, (greatest(created_at, call_created_at, ended_at)))
    WHERE vapi_call_id IS NOT NULL;

-- tally_add adds two arrays of sums element by element (a missing element counts as 0).
-- +goose StatementBegin
CREATE FUNCTION tally_add(a numeric[], b numeric[]) RETURNS numeric[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    r numeric[] := '{}';
BEGIN
    FOR i IN 1 .. greatest(coalesce(cardinality(a), 0), coalesce(cardinality(b), 0)) LOOP
        r[i] := coalesce(a[i], 0) + coalesce(b[i], 0);
    END LOOP;
    RETURN r;
END
$$;
-- +goose StatementEnd

-- tally_sum sums arrays of sums element by element.
-- +goose StatementBegin
CREATE AGGREGATE tally_sum (numeric[]) (SFUNC = tally_add, STYPE = numeric[], INITCOND = '{}');
-- +goose StatementEnd

-- tally_nonzero: the array holds a sum other than 0.
-- +goose StatementBegin
CREATE FUNCTION tally_nonzero(v numeric[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(0 <> ANY (v), false)
$$;
-- +goose StatementEnd

-- tally_success: the success evaluation counts as a success (campaign.SuccessValues).
-- +goose StatementBegin
CREATE FUNCTION tally_success(evaluation text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(btrim(evaluation)) IN ('true', 'pass', 'passed', 'yes', 'success', 'successful')
$$;
-- +goose StatementEnd

-- tally_is_call: the attempt placed a call, or may have (campaign.callsSQL).
-- +goose StatementBegin
CREATE FUNCTION tally_is_call(state text, outcome text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT state <> 'not_created' AND outcome <> 'capacity'
$$;
-- +goose StatementEnd

-- tally_breakdown: a number of an attempt's cost breakdown, 0 when it is not a number.
-- +goose StatementBegin
CREATE FUNCTION tally_breakdown(v jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN v::numeric ELSE 0 END
$$;
-- +goose StatementEnd

-- tally_contact_key is a contact's key of kind c.
-- +goose StatementBegin
CREATE FUNCTION tally_contact_key(c contact) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[c.state, c.outcome, coalesce(c.time_zones[1], ''), (c.attempts > 0)::text]
$$;
-- +goose StatementEnd

-- tally_attempt is what the tallies read of an attempt row. The triggers pass rows of this type,
-- not of attempt: a composite value of attempt would carry its transcript and summary, read out
-- of TOAST and copied at every change.
CREATE TYPE tally_attempt AS (
    id bigint, campaign_id bigint, contact_id bigint, number int, state text, outcome text, ended_reason text,
    success_evaluation text, at_vapi boolean, phone_number_id text, duration_seconds float8, cost numeric,
    cost_breakdown jsonb, created_at timestamptz, call_created_at timestamptz, started_at timestamptz
);

-- tally_attempt_of is the tally_attempt of an attempt row (inlined: it reads the columns only).
-- +goose StatementBegin
CREATE FUNCTION tally_attempt_of(a attempt) RETURNS tally_attempt
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ROW(a.id, a.campaign_id, a.contact_id, a.number, a.state, a.outcome, a.ended_reason, a.success_evaluation,
               a.vapi_call_id IS NOT NULL, a.phone_number_id, a.duration_seconds, a.cost, a.cost_breakdown,
               a.created_at, a.call_created_at, a.started_at)::tally_attempt
$$;
-- +goose StatementEnd

-- tally_attempt_facts are one attempt's facts of kinds a and h, times sign; zone is its
-- contact's first zone (NULL: the contact is gone, no h). (One VALUES list, not a UNION: the
-- function is inlined into the triggers' statements, and Postgres 15 cannot plan an inlined
-- UNION over a whole-row argument in an INSERT.)
-- +goose StatementBegin
CREATE FUNCTION tally_attempt_facts(a tally_attempt, zone text, sign int)
RETURNS TABLE (kind text, key text[], n bigint, v numeric[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT f.kind, f.key, f.n, f.v
    FROM (VALUES
        ('a',
         ARRAY[a.state, a.outcome, a.ended_reason, a.success_evaluation, tally_is_call(a.state, a.outcome)::text,
               a.at_vapi::text, a.phone_number_id,
               CASE WHEN tally_is_call(a.state, a.outcome) AND a.outcome = 'completed' AND a.duration_seconds IS NOT NULL
                    THEN width_bucket(a.duration_seconds, '{30,60,120,180,300,600}'::float8[])::text
                    ELSE '' END],
         sign::bigint,
         ARRAY[sign * coalesce(a.cost, 0), sign * (a.duration_seconds IS NOT NULL)::int,
               sign * coalesce(a.duration_seconds::numeric, 0),
               sign * tally_breakdown(a.cost_breakdown -> 'transport'), sign * tally_breakdown(a.cost_breakdown -> 'stt'),
               sign * tally_breakdown(a.cost_breakdown -> 'llm'), sign * tally_breakdown(a.cost_breakdown -> 'tts'),
               sign * tally_breakdown(a.cost_breakdown -> 'vapi'),
               sign * (tally_breakdown(a.cost_breakdown -> 'analysisCostBreakdown' -> 'summary')
                       + tally_breakdown(a.cost_breakdown -> 'analysisCostBreakdown' -> 'structuredData')
                       + tally_breakdown(a.cost_breakdown -> 'analysisCostBreakdown' -> 'successEvaluation')
                       + tally_breakdown(a.cost_breakdown -> 'analysisCostBreakdown' -> 'structuredOutput'))]),
        ('h',
         CASE WHEN zone IS NOT NULL AND tally_is_call(a.state, a.outcome) THEN
              ARRAY[zone, (floor(extract(epoch FROM coalesce(a.started_at, a.call_created_at, a.created_at)) / 900) * 900)::bigint::text]
         END,
         sign::bigint, ARRAY[sign * (a.outcome = 'completed')::int]::numeric[])
    ) AS f (kind, key, n, v)
    WHERE f.key IS NOT NULL
$$;
-- +goose StatementEnd

-- tally_call_facts are the facts of kinds r and z of the contacts given (ids), times sign, from
-- their attempts: those in the table but for the ids in skip, plus the rows in extra of those
-- contacts (the attempts as a statement found them, when it is undone). (PL/pgSQL with a generic
-- plan, made once a session: planning this query at every call cost ten times the update it
-- follows; the lateral lookups, by index, suit a statement of one contact or of a million.)
-- +goose StatementBegin
CREATE FUNCTION tally_call_facts(ids bigint[], skip bigint[], extra tally_attempt[], sign int)
RETURNS TABLE (campaign_id bigint, kind text, key text[], n bigint, v numeric[])
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH s AS (
        SELECT a.campaign_id, a.contact_id, a.number, a.state, a.outcome, a.success_evaluation
        FROM unnest(ids) AS i (id)
        CROSS JOIN LATERAL (SELECT * FROM attempt a WHERE a.contact_id = i.id OFFSET 0) AS a
        WHERE NOT EXISTS (SELECT FROM unnest(skip) AS k (id) WHERE k.id = a.id)
        UNION ALL
        SELECT e.campaign_id, e.contact_id, e.number, e.state, e.outcome, e.success_evaluation
        FROM unnest(extra) AS e WHERE e.contact_id IN (SELECT unnest(ids))
    ), calls AS (
        SELECT s.campaign_id, s.contact_id, s.outcome = 'completed' AS connected,
               tally_success(s.success_evaluation) AS successful,
               row_number() OVER (PARTITION BY s.contact_id ORDER BY s.number) AS rank
        FROM s WHERE tally_is_call(s.state, s.outcome)
    ), ranked AS (
        SELECT calls.*, min(rank) FILTER (WHERE connected) OVER w AS first_connected,
               min(rank) FILTER (WHERE successful) OVER w AS first_successful
        FROM calls WINDOW w AS (PARTITION BY contact_id)
    )
    SELECT r.campaign_id, 'r', ARRAY[r.rank::text], sign * count(*),
           ARRAY[sign * count(*) FILTER (WHERE r.connected), sign * count(*) FILTER (WHERE r.successful),
                 sign * count(*) FILTER (WHERE r.rank = r.first_connected),
                 sign * count(*) FILTER (WHERE r.rank = r.first_successful)]::numeric[]
    FROM ranked r GROUP BY r.campaign_id, r.rank
    UNION ALL
    SELECT r.campaign_id, 'z', ARRAY[coalesce(ct.time_zones[1], '')], sign * count(*),
           ARRAY[sign * count(*) FILTER (WHERE r.first_connected IS NOT NULL),
                 sign * count(*) FILTER (WHERE r.first_successful IS NOT NULL)]::numeric[]
    FROM ranked r CROSS JOIN LATERAL (SELECT c.time_zones FROM contact c WHERE c.id = r.contact_id OFFSET 0) AS ct
    WHERE r.rank = 1
    GROUP BY r.campaign_id, ct.time_zones[1];
END
$$;
-- +goose StatementEnd

-- tally_attempt_change appends the deltas of a statement that turned the attempt rows olds
-- into news (olds empty: an insert; news empty: a delete). Its plans are generic, made once a
-- session (see tally_call_facts).
-- +goose StatementBegin
CREATE FUNCTION tally_attempt_change(olds tally_attempt[], news tally_attempt[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    ids bigint[];
BEGIN
    -- The contacts whose calls changed: a call added, removed, moved, connected or successful.
    WITH o AS (
        SELECT a.id, a.contact_id, a.number, a.outcome = 'completed', tally_success(a.success_evaluation)
        FROM unnest(olds) AS a WHERE tally_is_call(a.state, a.outcome)
    ), n AS (
        SELECT a.id, a.contact_id, a.number, a.outcome = 'completed', tally_success(a.success_evaluation)
        FROM unnest(news) AS a WHERE tally_is_call(a.state, a.outcome)
    )
    SELECT array_agg(DISTINCT d.contact_id) INTO ids
    FROM ((SELECT * FROM o EXCEPT ALL SELECT * FROM n) UNION ALL (SELECT * FROM n EXCEPT ALL SELECT * FROM o)) AS d;
    IF ids IS NOT NULL THEN
        -- Wait for every other transaction changing calls of these contacts, so the facts
        -- below are computed from their committed rows (READ COMMITTED: each statement
        -- reads a new snapshot).
        PERFORM FROM contact WHERE id = ANY (ids) ORDER BY id FOR NO KEY UPDATE;
    END IF;
    INSERT INTO tally_delta (campaign_id, kind, key, n, v)
    SELECT d.campaign_id, d.kind, d.key, sum(d.n), tally_sum(d.v)
    FROM (
        SELECT a.campaign_id, f.*
        FROM unnest(olds) AS a
        LEFT JOIN LATERAL (SELECT c.id, c.time_zones FROM contact c WHERE c.id = a.contact_id OFFSET 0) AS ct ON true
        CROSS JOIN LATERAL tally_attempt_facts(a, CASE WHEN ct.id IS NOT NULL THEN coalesce(ct.time_zones[1], '') END, -1) AS f
        UNION ALL
        SELECT a.campaign_id, f.*
        FROM unnest(news) AS a
        LEFT JOIN LATERAL (SELECT c.id, c.time_zones FROM contact c WHERE c.id = a.contact_id OFFSET 0) AS ct ON true
        CROSS JOIN LATERAL tally_attempt_facts(a, CASE WHEN ct.id IS NOT NULL THEN coalesce(ct.time_zones[1], '') END, 1) AS f
        UNION ALL
        SELECT * FROM tally_call_facts(ids, ARRAY(SELECT a.id FROM unnest(news) AS a), olds, -1)
        UNION ALL
        SELECT * FROM tally_call_facts(ids, '{}', '{}', 1)
    ) AS d
    GROUP BY d.campaign_id, d.kind, d.key
    HAVING sum(d.n) <> 0 OR tally_nonzero(tally_sum(d.v));
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION tally_attempt_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tally_attempt_change('{}', ARRAY(SELECT tally_attempt_of(a) FROM new_rows AS a));
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- Only the rows whose tallied columns changed count: not those of a statement that sets
-- lookups, decision, transcript … (a trigger with transition tables cannot name its columns).
CREATE FUNCTION tally_attempt_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint[];
BEGIN
    SELECT array_agg(o.id) INTO changed
    FROM old_rows AS o JOIN new_rows AS a ON a.id = o.id
    WHERE (o.campaign_id, o.contact_id, o.number, o.state, o.outcome, o.ended_reason, o.success_evaluation,
           o.vapi_call_id, o.phone_number_id, o.duration_seconds, o.cost, o.cost_breakdown,
           o.created_at, o.call_created_at, o.started_at)
          IS DISTINCT FROM
          (a.campaign_id, a.contact_id, a.number, a.state, a.outcome, a.ended_reason, a.success_evaluation,
           a.vapi_call_id, a.phone_number_id, a.duration_seconds, a.cost, a.cost_breakdown,
           a.created_at, a.call_created_at, a.started_at);
    IF changed IS NOT NULL THEN
        PERFORM tally_attempt_change(ARRAY(SELECT tally_attempt_of(a) FROM old_rows AS a WHERE a.id IN (SELECT unnest(changed))),
                                     ARRAY(SELECT tally_attempt_of(a) FROM new_rows AS a WHERE a.id IN (SELECT unnest(changed))));
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION tally_attempt_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM old_rows) THEN
        PERFORM tally_attempt_change(ARRAY(SELECT tally_attempt_of(a) FROM old_rows AS a), '{}');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER attempt_tally_insert AFTER INSERT ON attempt
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_attempt_insert();
CREATE TRIGGER attempt_tally_update AFTER UPDATE ON attempt
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_attempt_update();
CREATE TRIGGER attempt_tally_delete AFTER DELETE ON attempt
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_attempt_delete();

-- +goose StatementBegin
CREATE FUNCTION tally_contact_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tally_delta (campaign_id, kind, key, n)
    SELECT c.campaign_id, 'c', tally_contact_key(c), count(*) FROM new_rows AS c GROUP BY 1, 3;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION tally_contact_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tally_delta (campaign_id, kind, key, n)
    SELECT d.campaign_id, 'c', d.key, sum(d.n)
    FROM old_rows AS o JOIN new_rows AS c ON c.id = o.id
    CROSS JOIN LATERAL (VALUES (o.campaign_id, tally_contact_key(o), -1), (c.campaign_id, tally_contact_key(c), 1))
        AS d (campaign_id, key, n)
    WHERE tally_contact_key(o) <> tally_contact_key(c)
    GROUP BY d.campaign_id, d.key HAVING sum(d.n) <> 0;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION tally_contact_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tally_delta (campaign_id, kind, key, n)
    SELECT c.campaign_id, 'c', tally_contact_key(c), -count(*) FROM old_rows AS c GROUP BY 1, 3;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- A contact's zone is fixed once it has an attempt: its calls' tallies are filed under it.
-- +goose StatementBegin
CREATE FUNCTION tally_contact_zone_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM attempt WHERE contact_id = NEW.id) THEN
        RAISE EXCEPTION 'contact %: its time zones cannot change once it has an attempt', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER contact_tally_insert AFTER INSERT ON contact
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_contact_insert();
CREATE TRIGGER contact_tally_update AFTER UPDATE ON contact
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_contact_update();
CREATE TRIGGER contact_tally_delete AFTER DELETE ON contact
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_contact_delete();
CREATE TRIGGER contact_zone_fixed BEFORE UPDATE OF time_zones ON contact
    FOR EACH ROW WHEN (OLD.time_zones IS DISTINCT FROM NEW.time_zones) EXECUTE FUNCTION tally_contact_zone_fixed();

-- The back-fill: the totals of the campaigns that exist. Contact and attempt are locked
-- (SHARE ROW EXCLUSIVE: reads go on, writes wait) from here to the end of the migration, so
-- no change can slip between the back-fill and the triggers.
LOCK TABLE contact, attempt IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO tally (campaign_id, kind, key, n)
SELECT c.campaign_id, 'c', tally_contact_key(c), count(*) FROM contact AS c GROUP BY 1, 3;

INSERT INTO tally (campaign_id, kind, key, n, v)
SELECT a.campaign_id, f.kind, f.key, sum(f.n), tally_sum(f.v)
FROM attempt AS a
JOIN contact AS ct ON ct.id = a.contact_id
CROSS JOIN LATERAL tally_attempt_facts(tally_attempt_of(a), coalesce(ct.time_zones[1], ''), 1) AS f
GROUP BY 1, 2, 3;

-- +goose StatementBegin
DO $$
DECLARE
    c bigint;
BEGIN
    FOR c IN SELECT id FROM campaign ORDER BY id LOOP
        INSERT INTO tally (campaign_id, kind, key, n, v)
        SELECT f.campaign_id, f.kind, f.key, sum(f.n), tally_sum(f.v)
        FROM tally_call_facts(ARRAY(SELECT DISTINCT a.contact_id FROM attempt a WHERE a.campaign_id = c), '{}', '{}', 1) AS f
        GROUP BY 1, 2, 3;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER contact_zone_fixed ON contact;
DROP TRIGGER contact_tally_delete ON contact;
DROP TRIGGER contact_tally_update ON contact;
DROP TRIGGER contact_tally_insert ON contact;
DROP TRIGGER attempt_tally_delete ON attempt;
DROP TRIGGER attempt_tally_update ON attempt;
DROP TRIGGER attempt_tally_insert ON attempt;
DROP FUNCTION tally_contact_zone_fixed();
DROP FUNCTION tally_contact_delete();
DROP FUNCTION tally_contact_update();
DROP FUNCTION tally_contact_insert();
DROP FUNCTION tally_attempt_delete();
DROP FUNCTION tally_attempt_update();
DROP FUNCTION tally_attempt_insert();
DROP FUNCTION tally_attempt_change(tally_attempt[], tally_attempt[]);
DROP FUNCTION tally_call_facts(bigint[], bigint[], tally_attempt[], int);
DROP FUNCTION tally_attempt_facts(tally_attempt, text, int);
DROP FUNCTION tally_attempt_of(attempt);
DROP TYPE tally_attempt;
DROP FUNCTION tally_contact_key(contact);
DROP FUNCTION tally_breakdown(jsonb);
DROP FUNCTION tally_is_call(text, text);
DROP FUNCTION tally_success(text);
DROP FUNCTION tally_nonzero(numeric[]);
DROP AGGREGATE tally_sum(numeric[]);
DROP FUNCTION tally_add(numeric[], numeric[]);
DROP INDEX attempt_vapi_to_idx;
DROP INDEX attempt_vapi_from_idx;
DROP INDEX attempt_connected_duration_idx;
DROP TABLE tally_delta;
DROP TABLE tally;
