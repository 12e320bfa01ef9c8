-- Accounts and sessions. Times are Unix seconds (UTC).

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    -- Stored trimmed and lower-cased; NOCASE keeps uniqueness case-insensitive regardless.
    email          TEXT    NOT NULL COLLATE NOCASE,
    username       TEXT    NOT NULL COLLATE NOCASE,
    password_hash  TEXT    NOT NULL,
    role           TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    is_active      INTEGER NOT NULL DEFAULT 1,
    email_verified INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_username_key ON users (username);

-- One row per login. The id is random and public (it is the JWT's `sid`).
CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    remember     INTEGER NOT NULL,
    user_agent   TEXT    NOT NULL DEFAULT '',
    ip_address   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    -- Hard limit; slides with each renewal for "remember me" sessions.
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    end_reason   TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Every refresh token a session has been given, by SHA-256 digest. The one with
-- spent_at IS NULL is current; presenting a spent one means the chain leaked.
CREATE TABLE refresh_tokens (
    token_hash TEXT    PRIMARY KEY,
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    spent_at   INTEGER
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
