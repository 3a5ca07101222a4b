-- +goose Up

-- The campaign's budget cap in USD (--max-cost): no new call is placed once the recorded cost of
-- its attempts plus the expected cost of its calls still without one would pass it
-- (Store.BeginAttempt). NULL: no cap.
ALTER TABLE campaign ADD COLUMN max_cost numeric(14, 6) CHECK (max_cost > 0);

-- Why a paused campaign is paused: '' (an operator paused it) or 'budget' (the cap stopped it;
-- campaign.PauseBudget). Cleared whenever the campaign runs again.
ALTER TABLE campaign ADD COLUMN paused_reason text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE campaign DROP COLUMN paused_reason;
ALTER TABLE campaign DROP COLUMN max_cost;
