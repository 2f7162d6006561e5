-- Media: readers, live consultations (chat, voice, video), the credit holds
-- that pay for them, their events and chat messages, and Agora notices.

-- A reader (astrologer or guide). An admin grants the role by creating the
-- row; revoking sets `active` false (history stays). The reader edits the
-- profile and sets the status.
CREATE TABLE readers (
    user_id      uuid PRIMARY KEY,
    display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 80),
    languages    text[] NOT NULL DEFAULT '{en}',
    specialties  text[] NOT NULL DEFAULT '{}',
    kinds        text[] NOT NULL DEFAULT '{chat,voice,video}',
    bio          text NOT NULL DEFAULT '' CHECK (char_length(bio) <= 2000),
    photo_url    text CHECK (char_length(photo_url) <= 500),
    status       text NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'busy', 'offline')),
    active       boolean NOT NULL DEFAULT true,
    rating_sum   bigint NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    rating_count bigint NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    minutes_served bigint NOT NULL DEFAULT 0 CHECK (minutes_served >= 0),
    granted_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX readers_listing_idx ON readers (status, display_name) WHERE active;

-- One consultation. Lifecycle: requested -> accepted -> active -> ended (or
-- requested -> ended when declined, timed out or cancelled). `covered_minutes`
-- are the minutes the session's holds pay for; `billed_minutes` are the
-- started minutes used so far (billed at the start of each minute).
CREATE TABLE live_sessions (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL,
    reader_id        uuid NOT NULL REFERENCES readers (user_id),
    kind             text NOT NULL CHECK (kind IN ('chat', 'voice', 'video')),
    status           text NOT NULL CHECK (status IN ('requested', 'accepted', 'active', 'ended')),
    end_reason       text CHECK (end_reason IN ('declined', 'timed_out', 'cancelled', 'user_ended',
                         'reader_ended', 'no_heartbeat', 'not_joined', 'credit_exhausted', 'time_limit', 'failed')),
    service_code     text NOT NULL,
    price_per_minute bigint NOT NULL CHECK (price_per_minute > 0),
    quote_id         uuid,
    channel          text NOT NULL UNIQUE,
    user_uid         bigint NOT NULL CHECK (user_uid BETWEEN 1 AND 4294967295),
    reader_uid       bigint NOT NULL CHECK (reader_uid BETWEEN 1 AND 4294967295),
    billed_minutes   integer NOT NULL DEFAULT 0 CHECK (billed_minutes >= 0),
    covered_minutes  integer NOT NULL DEFAULT 0 CHECK (covered_minutes >= 0),
    credits_captured bigint NOT NULL DEFAULT 0 CHECK (credits_captured >= 0),
    low_credit_warned boolean NOT NULL DEFAULT false,
    -- holds captured and released after the end
    settled          boolean NOT NULL DEFAULT false,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    accept_deadline  timestamptz NOT NULL,
    accepted_at      timestamptz,
    started_at       timestamptz,
    next_bill_at     timestamptz,
    ended_at         timestamptz,
    user_joined      boolean NOT NULL DEFAULT false,
    reader_joined    boolean NOT NULL DEFAULT false,
    -- last heartbeat or Agora presence of each side
    user_seen_at     timestamptz,
    reader_seen_at   timestamptz,
    -- in the Agora channel by the Notification Center (joined, not left);
    -- the clientSeq of the newest notice applied, so older ones are ignored
    user_in_channel  boolean NOT NULL DEFAULT false,
    reader_in_channel boolean NOT NULL DEFAULT false,
    user_client_seq  bigint,
    reader_client_seq bigint,
    rating           smallint CHECK (rating BETWEEN 1 AND 5),
    review           text CHECK (char_length(review) <= 2000),
    rated_at         timestamptz,
    CHECK (billed_minutes <= covered_minutes),
    CHECK ((status = 'ended') = (ended_at IS NOT NULL AND end_reason IS NOT NULL))
);
-- One open session per user and at most one accepted/active per reader.
CREATE UNIQUE INDEX live_sessions_one_open_per_user ON live_sessions (user_id)
    WHERE status IN ('requested', 'accepted', 'active');
CREATE UNIQUE INDEX live_sessions_one_live_per_reader ON live_sessions (reader_id)
    WHERE status IN ('accepted', 'active');
CREATE INDEX live_sessions_user_idx ON live_sessions (user_id, id DESC);
CREATE INDEX live_sessions_reader_idx ON live_sessions (reader_id, id DESC);
CREATE INDEX live_sessions_due_idx ON live_sessions (next_bill_at) WHERE status = 'active';
CREATE INDEX live_sessions_open_idx ON live_sessions (status) WHERE status IN ('requested', 'accepted');
CREATE INDEX live_sessions_unsettled_idx ON live_sessions (ended_at) WHERE status = 'ended' AND NOT settled;

-- The credit holds that pay for a session, in order: hold `seq` covers the
-- minutes after those of the holds before it. A row is written (pending)
-- before pricing is asked, so a restart repeats the same request with the
-- same idempotency key instead of holding twice.
CREATE TABLE live_holds (
    session_id uuid NOT NULL REFERENCES live_sessions (id),
    seq        integer NOT NULL CHECK (seq >= 1),
    minutes    integer NOT NULL CHECK (minutes >= 1),
    amount     bigint NOT NULL CHECK (amount >= 1),
    hold_id    uuid,
    status     text NOT NULL CHECK (status IN ('pending', 'active', 'captured', 'released', 'failed')),
    captured   bigint NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    created_at timestamptz NOT NULL DEFAULT now(),
    settled_at timestamptz,
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX live_holds_pending_idx ON live_holds (session_id) WHERE status = 'pending';

-- What happened in a session, in order (the SSE stream replays these from
-- Last-Event-ID, then follows NATS).
CREATE TABLE live_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES live_sessions (id),
    kind       text NOT NULL,
    data       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX live_events_session_idx ON live_events (session_id, id);

-- Chat messages, kept with the session.
CREATE TABLE live_messages (
    id         uuid PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES live_sessions (id),
    sender     text NOT NULL CHECK (sender IN ('user', 'reader')),
    body       text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX live_messages_session_idx ON live_messages (session_id, id);

-- Agora Notification Center deliveries already handled (it retries, and
-- may deliver one notice more than once).
CREATE TABLE agora_notices (
    notice_id   text PRIMARY KEY,
    event_type  integer NOT NULL,
    channel     text,
    received_at timestamptz NOT NULL DEFAULT now()
);
