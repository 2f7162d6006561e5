-- Limits: every number pricing stores has a documented range (src/limits.rs),
-- checked at the edge; these constraints are the database's second line.
-- Rows written before the limits existed are not re-checked (NOT VALID):
-- packages outside them are withdrawn (they could never be bought: their
-- checkout and every paid webhook for them failed), and the constraints are
-- validated where no row breaks them.

-- A package buys at most 10^9 credits (credits + bonus_credits) for at most
-- 99999999 minor units (Stripe's maximum amount).
UPDATE packages SET active = false, deleted_at = COALESCE(deleted_at, now()), updated_at = now()
 WHERE credits > 1000000000 OR bonus_credits > 1000000000 - credits OR price_minor > 99999999;
ALTER TABLE packages ADD CONSTRAINT packages_within_limits
    CHECK (credits <= 1000000000 AND bonus_credits <= 1000000000 - credits AND price_minor <= 99999999) NOT VALID;

-- A user's wallet and held account stay at most 10^12 credits (their sum
-- is kept at most that by the ledger).
ALTER TABLE accounts ADD CONSTRAINT accounts_within_max_balance
    CHECK (balance <= 1000000000000) NOT VALID;

-- Prices of one unit are at most 10^8 credits.
ALTER TABLE services ADD CONSTRAINT services_base_price_within_limits
    CHECK (base_price <= 100000000) NOT VALID;
ALTER TABLE price_history ADD CONSTRAINT price_history_price_within_limits
    CHECK (price <= 100000000) NOT VALID;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM packages WHERE credits > 1000000000 OR bonus_credits > 1000000000 - credits
                   OR price_minor > 99999999) THEN
        ALTER TABLE packages VALIDATE CONSTRAINT packages_within_limits;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM accounts WHERE balance > 1000000000000) THEN
        ALTER TABLE accounts VALIDATE CONSTRAINT accounts_within_max_balance;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM services WHERE base_price > 100000000) THEN
        ALTER TABLE services VALIDATE CONSTRAINT services_base_price_within_limits;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM price_history WHERE price > 100000000) THEN
        ALTER TABLE price_history VALIDATE CONSTRAINT price_history_price_within_limits;
    END IF;
END $$;
