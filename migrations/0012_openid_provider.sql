-- Gatehouse as an OpenID Provider (SPEC §8): the apps that may send people here to log in,
-- what each person allowed them, and the codes and tokens they were given.

-- An app (an OAuth client). `secret_digest` is the SHA-256 of its secret (NULL for a public
-- client, which has none); `secret_reveal` holds the new secret sealed until the admin page
-- has shown it once. URIs are newline-separated and match exactly.
CREATE TABLE oidc_clients (
    id                        TEXT    PRIMARY KEY,
    name                      TEXT    NOT NULL,
    secret_digest             TEXT,
    secret_reveal             TEXT,
    redirect_uris             TEXT    NOT NULL,
    post_logout_redirect_uris TEXT    NOT NULL DEFAULT '',
    created_at                INTEGER NOT NULL
);

-- What a person allowed an app: its scopes, space-separated.
CREATE TABLE oidc_consents (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oidc_consents_client_id ON oidc_consents (client_id);

-- One authorization: what one code (and the tokens it and its refresh tokens gave) stands
-- for. Every token names its grant; revoking the grant ends all of them.
CREATE TABLE oidc_grants (
    id         TEXT    PRIMARY KEY,
    client_id  TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL,
    -- When and how the person logged in (the ID token's auth_time and amr).
    auth_time  INTEGER NOT NULL,
    amr        TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX oidc_grants_user_client ON oidc_grants (user_id, client_id);
CREATE INDEX oidc_grants_expires_at ON oidc_grants (expires_at);

-- Authorization codes by SHA-256 digest: bound to the redirect URI and the PKCE challenge,
-- spent by their first use.
CREATE TABLE oidc_codes (
    digest         TEXT    PRIMARY KEY,
    grant_id       TEXT    NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    redirect_uri   TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    nonce          TEXT,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);

-- Refresh tokens by SHA-256 digest. The one with spent_at IS NULL is current; a spent one
-- presented again revokes the grant.
CREATE TABLE oidc_refresh_tokens (
    digest    TEXT    PRIMARY KEY,
    grant_id  TEXT    NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    issued_at INTEGER NOT NULL,
    spent_at  INTEGER
);
CREATE INDEX oidc_refresh_tokens_grant_id ON oidc_refresh_tokens (grant_id);
