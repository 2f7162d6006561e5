-- Social: channels (a network account with sealed credentials), campaigns,
-- schedules that run generators, posts with their publishing attempts,
-- rendered media, engagement metrics and the comment inbox.

CREATE TABLE channels (
    id            uuid PRIMARY KEY,
    network       text NOT NULL CHECK (network IN ('facebook', 'instagram', 'x', 'youtube', 'telegram')),
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
    -- The page id, Instagram user id, X user id, Telegram chat id (YouTube: the channel's own).
    account_id    text NOT NULL CHECK (char_length(account_id) BETWEEN 1 AND 120),
    -- `v1:<key id>:<nonce>:<ciphertext>` (AES-256-GCM, the channel id as associated data).
    credentials   text NOT NULL,
    language      text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'ta', 'hi')),
    hashtags      text[] NOT NULL DEFAULT '{}',
    auto_approve  boolean NOT NULL DEFAULT false,
    enabled       boolean NOT NULL DEFAULT true,
    -- `ok`, or `credentials_expired` after the network refused the token.
    status        text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'credentials_expired')),
    status_reason text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaigns (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 120),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schedules (
    id           uuid PRIMARY KEY,
    campaign_id  uuid REFERENCES campaigns (id) ON DELETE SET NULL,
    -- `panchang`, `observance`, `teaching`.
    generator    text NOT NULL CHECK (generator IN ('panchang', 'observance', 'teaching')),
    cron         text NOT NULL,
    tz           text NOT NULL,
    channel_ids  uuid[] NOT NULL CHECK (cardinality(channel_ids) BETWEEN 1 AND 20),
    -- The generator's parameters (the place: name, lat, lon, tz; a topic).
    params       jsonb NOT NULL DEFAULT '{}',
    enabled      boolean NOT NULL DEFAULT true,
    -- When it fires next (UTC); a restart continues from here. While a
    -- replica runs it, this is pushed past the run's lease, and the time
    -- it fell due is kept in claimed_fire_at (a replica that dies mid-run
    -- leaves it due again when the lease ends).
    next_run_at  timestamptz,
    claimed_fire_at timestamptz,
    last_run_at  timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled;

CREATE TABLE media (
    id           uuid PRIMARY KEY,
    content_type text NOT NULL,
    width        integer,
    height       integer,
    sha256       text NOT NULL,
    bytes        bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE posts (
    id               uuid PRIMARY KEY,
    channel_id       uuid NOT NULL REFERENCES channels (id),
    campaign_id      uuid REFERENCES campaigns (id) ON DELETE SET NULL,
    schedule_id      uuid REFERENCES schedules (id) ON DELETE SET NULL,
    -- `panchang`, `observance`, `teaching` or `manual`.
    generator        text NOT NULL,
    -- The day the content is about (the panchang's date, the observance's eve).
    for_date         date,
    state            text NOT NULL CHECK (state IN ('draft', 'approved', 'scheduled', 'publishing', 'published', 'failed', 'rejected')),
    text             text NOT NULL,
    title            text,
    link             text,
    media_id         uuid REFERENCES media (id),
    -- What the generator produced it from (the panchang, the observance, the hits).
    source           jsonb NOT NULL DEFAULT '{}',
    -- The idempotency marker published as `#jf…`.
    marker           text NOT NULL UNIQUE,
    scheduled_at     timestamptz,
    approved_by      uuid,
    approved_at      timestamptz,
    rejected_reason  text,
    attempts         integer NOT NULL DEFAULT 0,
    -- Set when an earlier attempt may have reached the network.
    maybe_sent       boolean NOT NULL DEFAULT false,
    lease_owner      text,
    lease_until      timestamptz,
    provider_post_id text,
    url              text,
    published_at     timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'published') = (provider_post_id IS NOT NULL AND published_at IS NOT NULL))
);
-- A schedule's run makes one post per channel and date, however often it runs.
CREATE UNIQUE INDEX posts_one_per_run_idx ON posts (schedule_id, channel_id, for_date) WHERE schedule_id IS NOT NULL;
CREATE INDEX posts_due_idx ON posts (scheduled_at) WHERE state IN ('scheduled', 'publishing');
CREATE INDEX posts_state_idx ON posts (state, created_at DESC);

-- Every publishing attempt: what was sent (never the credentials) and the outcome.
CREATE TABLE attempts (
    id               bigserial PRIMARY KEY,
    post_id          uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    number           integer NOT NULL,
    worker           text NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    -- `published`, `found` (an earlier attempt had posted it), `retry`, `failed`.
    outcome          text,
    request          jsonb NOT NULL,
    provider_post_id text,
    error            text
);
CREATE INDEX attempts_post_idx ON attempts (post_id, number);

CREATE TABLE metrics (
    post_id    uuid PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    reactions  bigint,
    comments   bigint,
    shares     bigint,
    views      bigint,
    fetched_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE comments (
    id                  uuid PRIMARY KEY,
    post_id             uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    provider_comment_id text NOT NULL,
    author              text,
    text                text NOT NULL,
    commented_at        text,
    -- `new`, `suggested` (a reply awaits approval), `replied`, `dismissed`, `failed`.
    state               text NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'suggested', 'replied', 'dismissed', 'failed')),
    suggested_reply     text,
    reply_text          text,
    reply_id            text,
    replied_by          uuid,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (post_id, provider_comment_id)
);
CREATE INDEX comments_state_idx ON comments (state, created_at DESC);
