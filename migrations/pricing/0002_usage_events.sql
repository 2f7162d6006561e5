-- Usage events consumed from JetStream (the demand factor's input).
CREATE TABLE usage_events (
    event_id uuid PRIMARY KEY,
    service_code text NOT NULL,
    units bigint NOT NULL DEFAULT 1,
    credits bigint NOT NULL DEFAULT 0,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX usage_events_service_time ON usage_events (service_code, occurred_at);
