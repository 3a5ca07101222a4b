-- +goose Up

-- The CSV column of per-contact assistantOverrides (--overrides-column, or a column named
-- assistant_overrides): each row's JSON object is deep-merged over the campaign's overrides.
-- NULL means none; the cells stay in contact.fields with the rest of the row.
ALTER TABLE campaign ADD COLUMN overrides_column int;

-- +goose Down
ALTER TABLE campaign DROP COLUMN overrides_column;
