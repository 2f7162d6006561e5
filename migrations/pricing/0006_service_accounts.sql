-- Text that guidance generates for another service (social captions, avatar
-- scripts) is charged to that service's account, not to a user: each
-- `evt.guidance.usage.recorded` event that names a caller and no user
-- becomes one charge at the catalog price of its service code when it
-- happened, and the account sums them (an internal cost account; it is
-- never refused, so it has no balance to run out of).
-- `guidance_text` is inactive: not offered to users (not listed publicly,
-- not quotable); its price is what services are charged.
INSERT INTO services (code, name, category, unit, base_price, llm_ktokens_milli, active)
VALUES ('guidance_text', 'Generated text for a service', 'guidance', 'request', 2, 1000, false)
ON CONFLICT (code) DO NOTHING;
INSERT INTO price_history (id, service_code, price, kind, starts_at)
SELECT gen_random_uuid(), 'guidance_text', 2, 'base', '-infinity'::timestamptz
WHERE NOT EXISTS (SELECT 1 FROM price_history WHERE service_code = 'guidance_text');

CREATE TABLE service_accounts (
    service text PRIMARY KEY CHECK (service ~ '^[a-z][a-z0-9_-]{0,62}$'),
    charged_credits bigint NOT NULL DEFAULT 0 CHECK (charged_credits BETWEEN 0 AND 1000000000000),
    uses bigint NOT NULL DEFAULT 0 CHECK (uses >= 0),
    prompt_tokens bigint NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens bigint NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    last_charged_at timestamptz
);

CREATE TABLE service_charges (
    event_id uuid PRIMARY KEY,
    service text NOT NULL REFERENCES service_accounts (service),
    service_code text NOT NULL,
    units bigint NOT NULL CHECK (units > 0),
    credits bigint NOT NULL CHECK (credits >= 0),
    prompt_tokens bigint NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens bigint NOT NULL CHECK (completion_tokens >= 0),
    provider text NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX service_charges_service ON service_charges (service, occurred_at DESC);
