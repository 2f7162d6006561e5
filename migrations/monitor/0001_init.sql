-- Monitor: incidents (one open per fingerprint), the audit of every action
-- it took or would have taken, and the latest observations (written by the
-- leader, read by every replica's API).

CREATE TABLE incidents (
    id              uuid PRIMARY KEY,
    -- What the incident is about, e.g. `instance_lost:charts` or
    -- `schema_drift:charts:index:places_name_idx`: at most one incident per
    -- fingerprint is open or acknowledged at a time.
    fingerprint     text NOT NULL CHECK (char_length(fingerprint) BETWEEN 1 AND 400),
    kind            text NOT NULL,
    service         text,
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    title           text NOT NULL,
    evidence        jsonb NOT NULL DEFAULT '{}',
    -- Observations of the condition while the incident was not resolved.
    occurrences     bigint NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by uuid,
    resolved_at     timestamptz,
    -- `monitor` (the condition cleared) or `admin`.
    resolved_by     text,
    resolved_by_user uuid,
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE UNIQUE INDEX incidents_one_active_idx ON incidents (fingerprint) WHERE state <> 'resolved';
CREATE INDEX incidents_state_idx ON incidents (state, last_seen DESC);

-- Every repair the monitor attempted (or, dry, would have), and why.
CREATE TABLE actions (
    id          uuid PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    -- The policy that allowed it: schema_repair, cancel_statement,
    -- terminate_idle, recreate_consumer, relay_outbox.
    policy      text NOT NULL,
    -- The service that carried it out (the owner of the object).
    service     text NOT NULL,
    -- The object acted on, e.g. `index:places_name_idx` or `pid:4711`.
    target      text NOT NULL,
    -- Why: the finding, in words.
    reason      text NOT NULL,
    incident_id uuid REFERENCES incidents (id),
    -- Who decided: `monitor` (a policy) or an admin.
    actor       text NOT NULL,
    dry_run     boolean NOT NULL,
    result      text NOT NULL CHECK (result IN ('done', 'dry_run', 'not_needed', 'refused', 'failed', 'rate_limited')),
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX actions_at_idx ON actions (at DESC);
CREATE INDEX actions_policy_idx ON actions (policy, at DESC);

-- The leader's latest view of each area (overview, database, messaging).
CREATE TABLE snapshots (
    area     text PRIMARY KEY CHECK (area IN ('overview', 'database', 'messaging', 'schema')),
    data     jsonb NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    -- The monitor instance that took it.
    taken_by text NOT NULL
);
