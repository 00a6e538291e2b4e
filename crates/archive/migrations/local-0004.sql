-- Version 4: passwords the operators chose themselves. An account's first password (made by
-- the station, or set by whoever wrote station.toml) is changed at the first log-in; the
-- chosen one (Argon2id PHC) is kept here, in the station's own database, never in a file.
CREATE TABLE operator_passwords (
    name           TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    changed_at     INTEGER NOT NULL
) STRICT;
