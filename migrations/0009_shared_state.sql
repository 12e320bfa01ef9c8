-- State that several nodes must share lives in the database (SPEC §10); SQLite is one node,
-- but the same rules are kept in the same place on both backends.
-- The successor of a spent refresh token, sealed with the spent token itself: any node can
-- give it back within the renewal grace to a client presenting the spent token.
ALTER TABLE refresh_tokens ADD COLUMN grace_answer TEXT;

-- Page forms sent twice within seconds create one thing (src/server/http/resubmit.rs).
CREATE TABLE submissions (
    fingerprint INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    created_id  INTEGER
);
CREATE INDEX submissions_at ON submissions (at);
