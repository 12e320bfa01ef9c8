-- Second factors (SPEC §7): authenticator apps, recovery codes, and logins waiting for their
-- second step; how each session was authenticated.
CREATE TABLE app_factors (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- Sealed with a key derived from JWT_SECRET and bound to the account
    -- (src/server/security/second_factor.rs); never sent back after set-up.
    secret     TEXT    NOT NULL,
    -- NULL while the set-up waits for its first code.
    enabled_at INTEGER,
    -- The last time step accepted: a code is good once.
    last_step  INTEGER,
    created_at INTEGER NOT NULL
);

-- Passkeys (WebAuthn credentials). `id` is the credential id (base64url); `credential` is
-- webauthn-rs's record of it (public key, signature counter, flags) as JSON.
CREATE TABLE passkeys (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    credential   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- A WebAuthn ceremony between its two calls: the challenge and what it may finish, kept on the
-- server and spent by its first finish. `id` is the SHA-256 of the handle the browser holds;
-- `pending` is the pending login a second-step ceremony finishes.
CREATE TABLE webauthn_ceremonies (
    id         TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    pending    TEXT,
    state      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);

-- Keyed SHA-256 digests of single-use recovery codes.
CREATE TABLE recovery_codes (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest  TEXT    NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user_id, digest)
);

-- New recovery codes, sealed for their account, until the page shows them (once).
CREATE TABLE recovery_code_reveals (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- A correct password for an account with a second factor: not a session yet. `digest` is the
-- SHA-256 of the token the client holds; the row is deleted by its success.
CREATE TABLE pending_logins (
    digest     TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    remember   BOOLEAN NOT NULL,
    -- The client's device id, when it had logged in to the account before (its throttle budget).
    device_id  TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);

-- How the session was authenticated (RFC 8176 values, space-separated: "pwd", "pwd otp").
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
