-- Access tokens revoked before they expire: one token (jti) at logout, or
-- every token of a user issued before `not_before` (password change). Rows
-- are useless once `expires_at` (the latest expiry of what they cover) has
-- passed; the clean-up deletes them.
CREATE TABLE access_revocations (
    id          bigserial PRIMARY KEY,
    jti         uuid,
    user_id     uuid,
    not_before  timestamptz,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT access_revocations_target CHECK (jti IS NOT NULL OR (user_id IS NOT NULL AND not_before IS NOT NULL))
);
CREATE INDEX access_revocations_expires_idx ON access_revocations (expires_at);

-- The clean-up finds expired refresh tokens and stale throttle rows by time.
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
CREATE INDEX login_throttle_window_idx ON login_throttle (window_start);
