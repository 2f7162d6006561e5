-- Conditions that services report as events rather than ones the monitor
-- can observe itself (a social channel whose token a network refused).
-- Each row is a finding every round, so its incident stays open until the
-- service reports the condition cleared (the row is deleted).
CREATE TABLE reported (
    fingerprint text PRIMARY KEY CHECK (char_length(fingerprint) BETWEEN 1 AND 400),
    kind        text NOT NULL,
    service     text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    title       text NOT NULL,
    evidence    jsonb NOT NULL DEFAULT '{}',
    -- When the service saw it (the event's time): a later report replaces
    -- it, and only a clearing reported after it removes it.
    reported_at timestamptz NOT NULL,
    event_id    uuid NOT NULL
);
