-- Payment safety: what Stripe reported beside what we expected, refunds
-- that arrive before their payment, owed credits collected from later
-- grants, and the indexes the periodic clean-up deletes by.

-- A session we never created (status 'mismatch', reason 'unknown_session')
-- has no trusted user, package or price: those columns stay NULL and what
-- Stripe claimed is kept in the reported_* columns.
ALTER TABLE payments
    ALTER COLUMN user_id DROP NOT NULL,
    ALTER COLUMN package_id DROP NOT NULL,
    ALTER COLUMN amount_minor DROP NOT NULL,
    ALTER COLUMN currency DROP NOT NULL,
    ALTER COLUMN credits DROP NOT NULL,
    -- What Stripe reported (amount_total, currency, metadata) when the session completed.
    ADD COLUMN reported_amount_minor bigint,
    ADD COLUMN reported_currency text,
    ADD COLUMN reported_metadata jsonb,
    -- unknown_session, amount_mismatch, currency_mismatch, amount_and_currency_mismatch
    ADD COLUMN mismatch_reason text,
    -- Cumulative refunded amount (minor units) applied to this payment.
    ADD COLUMN amount_refunded bigint NOT NULL DEFAULT 0,
    -- Owed credits later taken from the user's grants (debt_collection movements).
    ADD COLUMN credits_collected bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT payments_status_known
        CHECK (status IN ('open', 'processing', 'paid', 'partially_refunded', 'refunded', 'mismatch')),
    ADD CONSTRAINT payments_mismatch_has_reason
        CHECK ((status = 'mismatch') = (mismatch_reason IS NOT NULL)),
    ADD CONSTRAINT payments_expected_known
        CHECK (mismatch_reason IS NOT DISTINCT FROM 'unknown_session'
               OR (user_id IS NOT NULL AND package_id IS NOT NULL AND amount_minor IS NOT NULL
                   AND currency IS NOT NULL AND credits IS NOT NULL)),
    ADD CONSTRAINT payments_counters_not_negative
        CHECK (amount_refunded >= 0 AND credits_reversed >= 0 AND credits_owed >= 0 AND credits_collected >= 0);

-- Admin listing (newest first, optionally by status) and debt collection.
CREATE INDEX payments_created ON payments (created_at DESC, session_id DESC);
CREATE INDEX payments_status_created ON payments (status, created_at DESC, session_id DESC);
CREATE INDEX payments_owed ON payments (user_id, created_at, session_id) WHERE credits_owed > 0;

-- `charge.refunded` as Stripe reported it, one row per charge. amount_refunded
-- is cumulative on a charge, so only the largest value counts: applying it
-- is idempotent and independent of the order events arrive in. A refund
-- whose payment is not (yet) paid waits here and is applied when it is.
CREATE TABLE stripe_refunds (
    charge_id text PRIMARY KEY,
    payment_intent text NOT NULL,
    amount_refunded bigint NOT NULL CHECK (amount_refunded >= 0),
    currency text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_refunds_intent ON stripe_refunds (payment_intent);

-- Periodic clean-up (src/cleanup.rs) deletes by these.
CREATE INDEX quotes_expires ON quotes (expires_at);
CREATE INDEX stripe_events_received ON stripe_events (received_at);
CREATE INDEX processed_events_processed_at ON processed_events (processed_at);
