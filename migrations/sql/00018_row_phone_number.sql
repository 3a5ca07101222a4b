-- +goose Up

-- The CSV column of per-contact caller numbers (--phone-number-column, or a column named
-- phone_number_id): a row's Vapi phone number id fixes the number that contact's calls come
-- from instead of the campaign's pool. NULL means none; the cells stay in contact.fields.
ALTER TABLE campaign ADD COLUMN phone_number_column int;

-- +goose Down
ALTER TABLE campaign DROP COLUMN phone_number_column;
