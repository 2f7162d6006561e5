-- Avatar voice and video messages: the images admins upload, the jobs users
-- submit (a state machine with a worker's lease), and each job's events.

-- An avatar image (PNG or JPEG) in the object store at `object_key`. Videos
-- use the image a job names, else the newest active one.
CREATE TABLE avatar_images (
    id           uuid PRIMARY KEY,
    content_type text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    width        integer NOT NULL CHECK (width > 0),
    height       integer NOT NULL CHECK (height > 0),
    size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
    sha256       text NOT NULL CHECK (char_length(sha256) = 64),
    object_key   text NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    uploaded_by  uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX avatar_images_active_idx ON avatar_images (created_at DESC, id DESC) WHERE active;

-- One job. Lifecycle: submitting (quote and hold in progress; deleted when
-- pricing refuses) -> queued -> running -> succeeded | failed, and
-- queued | running -> cancelled. A worker owns a running job while
-- `lease_until` is in the future (it extends the lease as it works); an
-- expired lease lets the next delivery take the job over. `attempts` counts
-- the deliveries that started work. After the end, the hold is captured
-- (succeeded) or released (failed, cancelled) and `settled` is set.
CREATE TABLE avatar_jobs (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    idempotency_key text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
    request_hash    text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('voice', 'video')),
    input_text      text NOT NULL CHECK (char_length(input_text) BETWEEN 1 AND 2000),
    language        text NOT NULL,
    voice           text CHECK (char_length(voice) <= 64),
    image_id        uuid REFERENCES avatar_images (id),
    provider        text NOT NULL,
    state           text NOT NULL CHECK (state IN ('submitting', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
    service_code    text NOT NULL,
    quote_id        uuid,
    hold_id         uuid,
    hold_amount     bigint CHECK (hold_amount > 0),
    credits_charged bigint NOT NULL DEFAULT 0 CHECK (credits_charged >= 0),
    settled         boolean NOT NULL DEFAULT false,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_owner     uuid,
    lease_until     timestamptz,
    dispatched_at   timestamptz,
    error_code      text,
    error_message   text CHECK (char_length(error_message) <= 1000),
    result_key      text,
    result_type     text,
    result_bytes    bigint CHECK (result_bytes > 0),
    duration_ms     integer CHECK (duration_ms >= 0),
    captions_key    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    UNIQUE (user_id, idempotency_key),
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CHECK (state <> 'succeeded' OR (result_key IS NOT NULL AND result_bytes IS NOT NULL)),
    CHECK (state IN ('submitting', 'cancelled', 'failed') OR hold_id IS NOT NULL)
);
CREATE INDEX avatar_jobs_user_idx ON avatar_jobs (user_id, id DESC);
CREATE INDEX avatar_jobs_open_idx ON avatar_jobs (updated_at) WHERE state IN ('submitting', 'queued', 'running');
CREATE INDEX avatar_jobs_unsettled_idx ON avatar_jobs (finished_at)
    WHERE finished_at IS NOT NULL AND NOT settled AND hold_id IS NOT NULL;

-- What happened to a job, in order (the SSE stream replays these after
-- Last-Event-ID, then follows).
CREATE TABLE avatar_job_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     uuid NOT NULL REFERENCES avatar_jobs (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    data       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX avatar_job_events_job_idx ON avatar_job_events (job_id, id);
