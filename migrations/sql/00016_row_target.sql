-- +goose Up

-- The CSV column of per-contact targets (--target-column, or a column named assistant_id or
-- squad_id): a row's assistant:<id>, squad:<id> or bare id places that contact's calls instead
-- of the campaign's target. NULL means none; the cells stay in contact.fields.
ALTER TABLE campaign ADD COLUMN target_column int;

-- +goose Down
ALTER TABLE campaign DROP COLUMN target_column;
