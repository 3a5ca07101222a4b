-- +goose Up

-- The console's signing key (campaign serve's /console/): 32 random bytes made by the first
-- serve that needs them and shared by every serve on the database, so a session cookie made by
-- one is accepted by the others. Sessions are signed with it and the configured credentials
-- together: a changed password still ends every session, and a cookie is no oracle to guess
-- passwords with offline, as the key is not derived from them alone.
CREATE TABLE console_key (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    key        bytea NOT NULL CHECK (length(key) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE console_key;
