-- +goose Up

-- A campaign: one imported CSV and the settings its calls are placed with.
CREATE TABLE campaign (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL UNIQUE,
    status             text NOT NULL DEFAULT 'draft'
                       CHECK (status IN ('draft', 'running', 'paused', 'completed', 'cancelled', 'failed')),
    source_file        text NOT NULL DEFAULT '',
    -- The CSV header exactly as written and the role of each column, so every row can be
    -- turned back into its original form (export) or into template variables (dialing).
    columns            text[] NOT NULL,
    delimiter          text NOT NULL DEFAULT ',',
    phone_column       int NOT NULL,
    name_column        int NOT NULL DEFAULT -1,
    time_zone_column   int NOT NULL DEFAULT -1,
    external_id_column int NOT NULL DEFAULT -1,
    variable_columns   int[] NOT NULL DEFAULT '{}',
    -- What the calls are placed with.
    assistant_id       text NOT NULL DEFAULT '',
    phone_number_id    text NOT NULL DEFAULT '',
    overrides          jsonb NOT NULL DEFAULT '{}',
    public_url         text NOT NULL DEFAULT '',
    webhook_secret     text NOT NULL DEFAULT '',
    -- Pacing and calling hours.
    window_spec        text NOT NULL,
    default_time_zone  text NOT NULL DEFAULT 'UTC',
    default_region     text NOT NULL DEFAULT 'US',
    rate_per_second    double precision NOT NULL DEFAULT 1 CHECK (rate_per_second >= 0),
    max_concurrent     int NOT NULL DEFAULT 10 CHECK (max_concurrent > 0),
    retry_policy       text NOT NULL DEFAULT '',
    max_attempts       int NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
    -- Import figures: rows read, accepted, rejects by reason, rejects file.
    import_stats       jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz
);

-- A contact: one accepted CSV row.
CREATE TABLE contact (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id      bigint NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    line             int NOT NULL,
    phone            text NOT NULL,           -- E.164
    name             text NOT NULL DEFAULT '', -- customer.name (at most 40 characters)
    external_id      text NOT NULL DEFAULT '',
    time_zones       text[] NOT NULL,         -- IANA zones whose calling hours all apply
    time_zone_source text NOT NULL CHECK (time_zone_source IN ('column', 'phone', 'default')),
    fields           text[] NOT NULL,         -- the original row, in header order
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'in_call', 'completed', 'failed', 'cancelled', 'do_not_call')),
    outcome          text NOT NULL DEFAULT '',
    attempts         int NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,             -- NULL: due as soon as its window opens
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, phone)
);
-- Contacts are inserted in file order, so id order is line order: no index on line is needed.
-- Every index here costs import speed (about 2.5 us a row each on a million-row import).
CREATE INDEX contact_due_idx ON contact (campaign_id, next_attempt_at) WHERE state = 'pending';

-- An attempt: one call placed (or about to be placed) for a contact. The row is committed
-- before POST /call, so a crash never leaves a call we do not know we may have made.
CREATE TABLE attempt (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id          bigint NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    contact_id           bigint NOT NULL REFERENCES contact (id) ON DELETE CASCADE,
    number               int NOT NULL CHECK (number > 0),
    key                  text NOT NULL UNIQUE CHECK (length(key) <= 40), -- call name and customer.externalId
    state                text NOT NULL DEFAULT 'creating'
                         CHECK (state IN ('creating', 'created', 'ended', 'not_created')),
    vapi_call_id         text UNIQUE,
    created_at           timestamptz NOT NULL DEFAULT now(),
    call_created_at      timestamptz,
    started_at           timestamptz,
    ended_at             timestamptz,
    ended_reason         text NOT NULL DEFAULT '',
    outcome              text NOT NULL DEFAULT '',
    duration_seconds     double precision,
    cost                 numeric(14, 6),
    cost_breakdown       jsonb,
    costs                jsonb,
    summary              text NOT NULL DEFAULT '',
    success_evaluation   text NOT NULL DEFAULT '',
    structured_data      jsonb,
    transcript           text NOT NULL DEFAULT '',
    recording_url        text NOT NULL DEFAULT '',
    stereo_recording_url text NOT NULL DEFAULT '',
    error                text NOT NULL DEFAULT '',
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contact_id, number)
);
CREATE INDEX attempt_campaign_idx ON attempt (campaign_id, state);

-- Every webhook request, stored raw before it is applied.
CREATE TABLE webhook_event (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    type         text NOT NULL,
    vapi_call_id text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT '',
    payload      jsonb NOT NULL,
    applied_at   timestamptz,
    apply_error  text NOT NULL DEFAULT ''
);
CREATE INDEX webhook_event_call_idx ON webhook_event (vapi_call_id);
CREATE INDEX webhook_event_unapplied_idx ON webhook_event (id) WHERE applied_at IS NULL;

-- Numbers never to be called, whatever the campaign.
CREATE TABLE suppression (
    phone        text PRIMARY KEY, -- E.164
    reason       text NOT NULL DEFAULT '',
    source       text NOT NULL DEFAULT '',
    vapi_call_id text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE suppression;
DROP TABLE webhook_event;
DROP TABLE attempt;
DROP TABLE contact;
DROP TABLE campaign;
