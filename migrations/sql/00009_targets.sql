-- +goose Up

-- What places a campaign's calls (--assistant-id, --squad-id, --workflow-id or --assistant FILE):
-- at most one of the saved assistant (assistant_id), a saved squad, a saved workflow, or a
-- transient assistant (a CreateAssistantDTO object sent inline with every call).
ALTER TABLE campaign ADD COLUMN squad_id text NOT NULL DEFAULT '';
ALTER TABLE campaign ADD COLUMN workflow_id text NOT NULL DEFAULT '';
ALTER TABLE campaign ADD COLUMN assistant jsonb
    CHECK (assistant IS NULL OR jsonb_typeof(assistant) = 'object');
ALTER TABLE campaign ADD CONSTRAINT campaign_one_target
    CHECK (num_nonnulls(nullif(assistant_id, ''), nullif(squad_id, ''), nullif(workflow_id, ''), assistant) <= 1);

-- +goose Down
ALTER TABLE campaign DROP CONSTRAINT campaign_one_target;
ALTER TABLE campaign DROP COLUMN assistant;
ALTER TABLE campaign DROP COLUMN workflow_id;
ALTER TABLE campaign DROP COLUMN squad_id;
