-- Accounts, refresh tokens and login throttling (gateway schema).

CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    email               text NOT NULL,
    email_normalized    text NOT NULL,
    display_name        text NOT NULL,
    password_hash       text NOT NULL,
    roles               text[] NOT NULL DEFAULT ARRAY['user'],
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_normalized_key UNIQUE (email_normalized),
    CONSTRAINT users_roles_known CHECK (roles <@ ARRAY['user', 'admin'])
);

-- Rotating refresh tokens. Only a SHA-256 of each token is stored. Tokens
-- descending from one login share a family; presenting a token that was
-- already rotated revokes the whole family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT refresh_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- Failed-login counters per account and per client address, shared by all
-- gateway replicas.
CREATE TABLE login_throttle (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    failures     integer NOT NULL,
    locked_until timestamptz
);
