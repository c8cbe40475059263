-- Dashboard accounts (sqlite). Keep in step with ../postgres/0006_accounts.sql.
-- users.name is kept lower-case (names are case-insensitive); password_hash is an argon2id PHC string.
-- sessions.id_hash is a SHA-256 of the cookie's session id, so a copy of the database holds no
-- usable session. login_throttle keys are `user:<name>` or `addr:<ip>`; shared by every process.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    client TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    locked_until INTEGER
);
