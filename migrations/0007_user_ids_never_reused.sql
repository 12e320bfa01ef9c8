-- Account ids are never given out again: a deleted account's id (its audit trail, its device
-- tokens) must not pass to the next registration. Without AUTOINCREMENT, SQLite gives a new
-- row the highest id plus one, which is a deleted newest account's id. Adding AUTOINCREMENT
-- means rebuilding `users`, which SQLite cannot do inside the migration's transaction without
-- cascading through every table that references it; so the highest id ever given out is kept
-- here instead, and the store gives each new account the next one.
CREATE TABLE user_ids (
    highest INTEGER NOT NULL
);
INSERT INTO user_ids (highest)
    SELECT COALESCE(MAX(id), 0) FROM (
        SELECT MAX(id) AS id FROM users
        UNION ALL SELECT MAX(actor_id) FROM audit_events
        UNION ALL SELECT MAX(subject_id) FROM audit_events
    );
-- Whatever inserts an account (with or without an id) moves the mark.
CREATE TRIGGER user_ids_climb AFTER INSERT ON users
BEGIN
    UPDATE user_ids SET highest = NEW.id WHERE highest < NEW.id;
END;
