-- State that several nodes must share lives in the database (SPEC §10).
-- The successor of a spent refresh token, sealed with the spent token itself: any node can
-- give it back within the renewal grace to a client presenting the spent token.
ALTER TABLE refresh_tokens ADD COLUMN grace_answer TEXT;

-- Page forms sent twice within seconds create one thing (src/server/http/resubmit.rs).
CREATE TABLE submissions (
    fingerprint BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    created_id  BIGINT
);
CREATE INDEX submissions_at ON submissions (at);

-- The login, registration and mail limits of every node (src/server/security/throttle.rs):
-- one row per counter; `tbl` names the limit, `key` is a keyed hash of who or what is counted.
CREATE TABLE throttle_entries (
    tbl        SMALLINT NOT NULL,
    key        BIGINT   NOT NULL,
    count      INTEGER  NOT NULL,
    first_at   BIGINT   NOT NULL,
    last_at    BIGINT   NOT NULL,
    reported   BOOLEAN  NOT NULL,
    expires_at BIGINT   NOT NULL,
    PRIMARY KEY (tbl, key)
);
CREATE INDEX throttle_entries_expires_at ON throttle_entries (expires_at);
