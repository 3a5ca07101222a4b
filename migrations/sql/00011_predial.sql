-- +goose Up

-- The pre-dial eligibility hook (--predial-url): "" means none. When set, every dial first asks
-- it whether the contact may be called, and dials only on an explicit yes.
ALTER TABLE campaign ADD COLUMN predial_url text NOT NULL DEFAULT '';

-- The contact's consecutive failed pre-dial checks (no usable answer from the hook), reset by
-- an answer; the contact ends ineligible when they reach the limit. predial_reason is why the
-- hook (or that limit) made the contact ineligible.
ALTER TABLE contact ADD COLUMN predial_failures int NOT NULL DEFAULT 0;
ALTER TABLE contact ADD COLUMN predial_reason text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE contact DROP COLUMN predial_reason;
ALTER TABLE contact DROP COLUMN predial_failures;
ALTER TABLE campaign DROP COLUMN predial_url;
