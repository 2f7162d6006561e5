-- Usage can be learnt twice for one answer: from pricing's own
-- `credits.spent` (a quoted hold captured) and from the service's usage
-- event (`evt.guidance.usage.recorded`). Both name the hold; it counts once.
ALTER TABLE usage_events ADD COLUMN hold_id uuid;
ALTER TABLE usage_events ADD COLUMN source text NOT NULL DEFAULT 'pricing';
CREATE UNIQUE INDEX usage_events_hold ON usage_events (hold_id) WHERE hold_id IS NOT NULL;
