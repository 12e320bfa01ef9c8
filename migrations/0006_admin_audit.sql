-- Who did what to which account, from where. No foreign keys: the trail outlives accounts.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor_id   INTEGER,
    subject_id INTEGER,
    event      TEXT    NOT NULL,
    ip_address TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT '',
    session_id TEXT,
    details    TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_subject ON audit_events (subject_id, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- The admin list pages newest first by (created_at, id).
CREATE INDEX users_created ON users (created_at, id);
