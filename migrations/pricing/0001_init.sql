-- Pricing: the double-entry credit ledger, holds, packages and payments,
-- the service catalog, the cost model, recommendations, price history and quotes.

-- Ledger ----------------------------------------------------------------
-- Every account's balance is the sum of its entries. User accounts
-- ('wallet' = available credits, 'held' = credits reserved by holds) keep
-- the sum materialized in `balance` (updated in the same statement set that
-- inserts the entries; a CHECK keeps them >= 0). System accounts (revenue,
-- promotions, purchases, refunds, adjustments) are not materialized, so no
-- hot row serializes every spend: their balance is `sum(entries.amount)`.
CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('wallet', 'held', 'revenue', 'promotions', 'purchases', 'refunds', 'adjustments')),
    user_id uuid,
    balance bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_accounts_never_negative CHECK (kind NOT IN ('wallet', 'held') OR balance >= 0),
    CONSTRAINT user_accounts_have_users CHECK ((kind IN ('wallet', 'held')) = (user_id IS NOT NULL)),
    CONSTRAINT system_accounts_not_materialized CHECK (kind IN ('wallet', 'held') OR balance = 0)
);
CREATE UNIQUE INDEX accounts_user_kind ON accounts (user_id, kind) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_system_kind ON accounts (kind) WHERE user_id IS NULL;
INSERT INTO accounts (kind) VALUES ('revenue'), ('promotions'), ('purchases'), ('refunds'), ('adjustments');

-- One row per movement; the idempotency key makes a repeated request a no-op
-- that returns the stored first result.
CREATE TABLE transactions (
    id uuid PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    kind text NOT NULL,
    user_id uuid,
    request_hash text NOT NULL,
    result jsonb,
    memo text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transactions_user ON transactions (user_id, created_at DESC, id DESC);

CREATE TABLE entries (
    id bigserial PRIMARY KEY,
    transaction_id uuid NOT NULL REFERENCES transactions (id),
    account_id bigint NOT NULL REFERENCES accounts (id),
    amount bigint NOT NULL CHECK (amount <> 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entries_transaction ON entries (transaction_id);
CREATE INDEX entries_account ON entries (account_id);

-- Every transaction's entries sum to zero, checked at commit.
CREATE FUNCTION entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COALESCE(sum(amount), 0) FROM entries WHERE transaction_id = NEW.transaction_id) <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', NEW.transaction_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER entries_balanced AFTER INSERT ON entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION entries_balanced();

-- The ledger is append-only.
CREATE FUNCTION entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only';
END $$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_append_only();

-- Holds: credits moved from the wallet to the user's 'held' account.
CREATE TABLE holds (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    captured bigint NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    status text NOT NULL CHECK (status IN ('active', 'captured', 'released', 'expired')),
    reference text,
    quote_id uuid,
    service_code text,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    settled_at timestamptz
);
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active';
CREATE INDEX holds_user ON holds (user_id, created_at DESC);
CREATE INDEX holds_settled ON holds (settled_at) WHERE status = 'captured';

-- Packages and payments ---------------------------------------------------
CREATE TABLE packages (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    credits bigint NOT NULL CHECK (credits > 0),
    bonus_credits bigint NOT NULL DEFAULT 0 CHECK (bonus_credits >= 0),
    price_minor bigint NOT NULL CHECK (price_minor > 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    active boolean NOT NULL DEFAULT true,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payments (
    session_id text PRIMARY KEY,
    user_id uuid NOT NULL,
    package_id uuid NOT NULL REFERENCES packages (id),
    payment_intent text,
    amount_minor bigint NOT NULL,
    currency text NOT NULL,
    credits bigint NOT NULL,
    status text NOT NULL,
    credits_reversed bigint NOT NULL DEFAULT 0,
    credits_owed bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_intent ON payments (payment_intent);

-- Stripe events applied (a redelivery is recognised and has no effect).
CREATE TABLE stripe_events (
    id text PRIMARY KEY,
    event_type text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Prices ----------------------------------------------------------------------
CREATE TABLE services (
    code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,62}$'),
    name text NOT NULL,
    category text NOT NULL,
    unit text NOT NULL DEFAULT 'request' CHECK (unit IN ('request', 'minute')),
    base_price bigint NOT NULL CHECK (base_price >= 0),
    -- usage assumptions per unit, in thousandths of the cost input's unit
    llm_ktokens_milli bigint NOT NULL DEFAULT 0 CHECK (llm_ktokens_milli >= 0),
    tts_minutes_milli bigint NOT NULL DEFAULT 0 CHECK (tts_minutes_milli >= 0),
    avatar_minutes_milli bigint NOT NULL DEFAULT 0 CHECK (avatar_minutes_milli >= 0),
    agora_minutes_milli bigint NOT NULL DEFAULT 0 CHECK (agora_minutes_milli >= 0),
    chart_computations_milli bigint NOT NULL DEFAULT 0 CHECK (chart_computations_milli >= 0),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Provider unit costs, in micro-credits per unit.
CREATE TABLE cost_inputs (
    key text PRIMARY KEY,
    micro_credits bigint NOT NULL CHECK (micro_credits >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO cost_inputs (key, micro_credits) VALUES
    ('llm_per_1k_tokens', 200000),
    ('tts_per_minute', 1500000),
    ('avatar_video_per_minute', 8000000),
    ('agora_per_minute', 400000),
    ('chart_computation', 50000);

-- Category multipliers in basis points (10000 = 1.0).
CREATE TABLE category_multipliers (
    category text PRIMARY KEY,
    multiplier_bps bigint NOT NULL CHECK (multiplier_bps > 0)
);

INSERT INTO services (code, name, category, unit, base_price, llm_ktokens_milli, tts_minutes_milli, avatar_minutes_milli, agora_minutes_milli, chart_computations_milli) VALUES
    ('text_guidance', 'Text guidance', 'guidance', 'request', 10, 3000, 0, 0, 0, 1000),
    ('audio_guidance', 'Audio guidance', 'guidance', 'request', 15, 3000, 3000, 0, 0, 1000),
    ('video_guidance', 'Video guidance', 'guidance', 'request', 25, 3000, 3000, 3000, 0, 1000),
    ('live_session_minute', 'Live session (per minute)', 'live', 'minute', 5, 0, 0, 0, 1000, 0),
    ('full_horoscope_report', 'Full horoscope report', 'reports', 'request', 40, 12000, 0, 0, 0, 3000),
    ('compatibility_report', 'Compatibility report', 'reports', 'request', 30, 8000, 0, 0, 0, 2000),
    ('avatar_video', 'Avatar video', 'media', 'request', 50, 2000, 2000, 2000, 0, 0);

-- Approved prices, base prices and overrides; the effective price at any
-- instant is derived from these rows (effective_price below).
CREATE TABLE price_history (
    id uuid PRIMARY KEY,
    service_code text NOT NULL REFERENCES services (code),
    price bigint NOT NULL CHECK (price >= 0),
    kind text NOT NULL CHECK (kind IN ('base', 'approved', 'override')),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz,
    recommendation_id uuid,
    changed_by uuid,
    reason text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (ends_at IS NULL OR ends_at > starts_at)
);
CREATE INDEX price_history_service ON price_history (service_code, starts_at DESC);
INSERT INTO price_history (id, service_code, price, kind, starts_at)
    SELECT gen_random_uuid(), code, base_price, 'base', '-infinity'::timestamptz FROM services;

-- The live price of a service at instant `at`: the newest override covering
-- it, else the newest base/approved price started by then.
CREATE FUNCTION effective_price(code text, at timestamptz) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT price FROM price_history
          WHERE service_code = code AND kind = 'override' AND starts_at <= at AND (ends_at IS NULL OR ends_at > at)
          ORDER BY starts_at DESC, created_at DESC LIMIT 1),
        (SELECT price FROM price_history
          WHERE service_code = code AND kind IN ('base', 'approved') AND starts_at <= at
          ORDER BY starts_at DESC, created_at DESC LIMIT 1))
$$;

CREATE TABLE recommendations (
    id uuid PRIMARY KEY,
    service_code text NOT NULL REFERENCES services (code),
    current_price bigint NOT NULL,
    recommended_price bigint NOT NULL,
    rationale jsonb NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    decided_by uuid
);
CREATE INDEX recommendations_status ON recommendations (status, created_at DESC);

CREATE TABLE quotes (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    service_code text NOT NULL REFERENCES services (code),
    units bigint NOT NULL CHECK (units > 0),
    unit_price bigint NOT NULL,
    total bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
