-- Charts service: the shared chart cache, chart ownership, birth profiles.

-- One row per cache key: SHA-256 of (engine version, UTC instant to the
-- second, latitude and longitude rounded to 1e-4 degrees, options).
-- Replicas insert with ON CONFLICT DO NOTHING, so a key is written once.
CREATE TABLE chart_cache (
    key            text PRIMARY KEY,
    id             uuid NOT NULL,
    engine_version text NOT NULL,
    input          jsonb NOT NULL,
    chart          jsonb NOT NULL,
    compute_ms     double precision NOT NULL,
    hits           bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_hit_at    timestamptz,
    CONSTRAINT chart_cache_id_key UNIQUE (id)
);
CREATE INDEX chart_cache_version_idx ON chart_cache (engine_version);
CREATE INDEX chart_cache_created_idx ON chart_cache (created_at);

-- Which users computed which charts: a chart id is visible only to them.
CREATE TABLE user_charts (
    user_id    uuid NOT NULL,
    chart_id   uuid NOT NULL REFERENCES chart_cache (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, chart_id)
);
CREATE INDEX user_charts_chart_idx ON user_charts (chart_id);

-- Saved birth details (self, partner, child ...), as the user gave them.
CREATE TABLE profiles (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    name       text NOT NULL,
    relation   text NOT NULL,
    birth      jsonb NOT NULL,
    options    jsonb NOT NULL DEFAULT '{}'::jsonb,
    chart_id   uuid REFERENCES chart_cache (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT profiles_relation_known CHECK (relation IN ('self', 'partner', 'spouse', 'child', 'parent', 'sibling', 'friend', 'other'))
);
CREATE INDEX profiles_user_idx ON profiles (user_id, created_at);
