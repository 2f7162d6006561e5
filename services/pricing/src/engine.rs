//! The pricing engine: pure integer arithmetic, no I/O.
//!
//! cost (micro-credits) = sum over provider inputs of unit cost x usage
//! price = cost x (1 + margin) x demand x category multiplier, rounded to the
//! nearest multiple of the step, then clamped to [floor, ceiling] (both moved
//! inward to multiples of the step). Every factor is in basis points
//! (10 000 = 1.0) and every intermediate is an i128, so nothing overflows and
//! nothing is a float. The result is monotone in every cost input.

use serde::{Deserialize, Serialize};

pub const BPS: i128 = 10_000;
pub const MICRO: i128 = 1_000_000;

/// Provider unit costs, in micro-credits per unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostInputs {
    pub llm_per_1k_tokens: i64,
    pub tts_per_minute: i64,
    pub avatar_video_per_minute: i64,
    pub agora_per_minute: i64,
    pub chart_computation: i64,
}

impl CostInputs {
    pub const KEYS: [&'static str; 5] = [
        "llm_per_1k_tokens",
        "tts_per_minute",
        "avatar_video_per_minute",
        "agora_per_minute",
        "chart_computation",
    ];

    pub fn set(&mut self, key: &str, value: i64) -> bool {
        match key {
            "llm_per_1k_tokens" => self.llm_per_1k_tokens = value,
            "tts_per_minute" => self.tts_per_minute = value,
            "avatar_video_per_minute" => self.avatar_video_per_minute = value,
            "agora_per_minute" => self.agora_per_minute = value,
            "chart_computation" => self.chart_computation = value,
            _ => return false,
        }
        true
    }
}

/// What one unit of a service uses, in thousandths of each input's unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub llm_ktokens_milli: i64,
    pub tts_minutes_milli: i64,
    pub avatar_minutes_milli: i64,
    pub agora_minutes_milli: i64,
    pub chart_computations_milli: i64,
}

/// The non-cost factors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factors {
    pub margin_bps: i64,
    pub demand_bps: i64,
    pub category_bps: i64,
    pub floor: i64,
    pub ceiling: i64,
    pub step: i64,
}

/// Why the engine recommends what it does: every input and every factor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rationale {
    pub costs: CostInputs,
    pub usage: Usage,
    /// Provider cost of one unit, micro-credits.
    pub cost_micro: i64,
    pub factors: Factors,
    /// cost x margin x demand x category, before rounding, micro-credits.
    pub unrounded_micro: i64,
    pub rounded: i64,
    pub price: i64,
    /// "none", "floor" or "ceiling".
    pub clamped: String,
}

pub fn ceil_to_step(v: i64, step: i64) -> i64 {
    if step <= 0 {
        return v;
    }
    let r = v.rem_euclid(step);
    if r == 0 {
        v
    } else {
        v.saturating_add(step - r)
    }
}

pub fn floor_to_step(v: i64, step: i64) -> i64 {
    if step <= 0 {
        return v;
    }
    v - v.rem_euclid(step)
}

fn sat(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

pub fn cost_micro(c: &CostInputs, u: &Usage) -> i64 {
    let parts = [
        (c.llm_per_1k_tokens, u.llm_ktokens_milli),
        (c.tts_per_minute, u.tts_minutes_milli),
        (c.avatar_video_per_minute, u.avatar_minutes_milli),
        (c.agora_per_minute, u.agora_minutes_milli),
        (c.chart_computation, u.chart_computations_milli),
    ];
    let total: i128 = parts
        .iter()
        .map(|(cost, usage)| i128::from((*cost).max(0)) * i128::from((*usage).max(0)))
        .sum();
    sat(total / 1000)
}

/// The recommended price with its rationale.
pub fn recommend(c: &CostInputs, u: &Usage, f: &Factors) -> Rationale {
    let cost = cost_micro(c, u);
    let step = f.step.max(1);
    let unrounded = i128::from(cost)
        * (BPS + i128::from(f.margin_bps.max(0)))
        * i128::from(f.demand_bps.max(0))
        * i128::from(f.category_bps.max(0))
        / (BPS * BPS * BPS);
    let step_micro = i128::from(step) * MICRO;
    // Round half up to the nearest multiple of the step.
    let rounded = sat((unrounded + step_micro / 2) / step_micro * i128::from(step));
    let lo = ceil_to_step(f.floor, step);
    let hi = floor_to_step(f.ceiling, step).max(lo);
    let (price, clamped) = if rounded < lo {
        (lo, "floor")
    } else if rounded > hi {
        (hi, "ceiling")
    } else {
        (rounded, "none")
    };
    Rationale {
        costs: *c,
        usage: *u,
        cost_micro: cost,
        factors: *f,
        unrounded_micro: sat(unrounded),
        rounded,
        price,
        clamped: clamped.to_owned(),
    }
}

/// Demand factor in basis points: the recent usage rate against the
/// baseline rate, bounded. Without a baseline it is neutral (10 000).
pub fn demand_bps(
    recent: i64,
    recent_hours: i64,
    baseline: i64,
    baseline_hours: i64,
    min_bps: i64,
    max_bps: i64,
) -> i64 {
    if baseline <= 0 || recent_hours <= 0 || baseline_hours <= 0 {
        return 10_000_i64.clamp(min_bps, max_bps.max(min_bps));
    }
    let v = i128::from(recent.max(0)) * i128::from(baseline_hours) * BPS
        / (i128::from(baseline) * i128::from(recent_hours));
    sat(v).clamp(min_bps, max_bps.max(min_bps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn costs() -> impl Strategy<Value = CostInputs> {
        (
            0..10_000_000i64,
            0..10_000_000i64,
            0..50_000_000i64,
            0..10_000_000i64,
            0..1_000_000i64,
        )
            .prop_map(|(a, b, c, d, e)| CostInputs {
                llm_per_1k_tokens: a,
                tts_per_minute: b,
                avatar_video_per_minute: c,
                agora_per_minute: d,
                chart_computation: e,
            })
    }

    fn usage() -> impl Strategy<Value = Usage> {
        (
            0..20_000i64,
            0..20_000i64,
            0..20_000i64,
            0..20_000i64,
            0..20_000i64,
        )
            .prop_map(|(a, b, c, d, e)| Usage {
                llm_ktokens_milli: a,
                tts_minutes_milli: b,
                avatar_minutes_milli: c,
                agora_minutes_milli: d,
                chart_computations_milli: e,
            })
    }

    fn factors() -> impl Strategy<Value = Factors> {
        (
            0..20_000i64,
            5_000..20_000i64,
            5_000..20_000i64,
            0..100i64,
            0..2_000i64,
            1..50i64,
        )
            .prop_filter_map(
                "a step multiple must lie in the clamps",
                |(m, d, c, floor, span, step)| {
                    let f = Factors {
                        margin_bps: m,
                        demand_bps: d,
                        category_bps: c,
                        floor,
                        ceiling: floor + span,
                        step,
                    };
                    (ceil_to_step(f.floor, step) <= f.ceiling).then_some(f)
                },
            )
    }

    proptest! {
        #[test]
        fn always_within_clamps_and_on_the_step(c in costs(), u in usage(), f in factors()) {
            let r = recommend(&c, &u, &f);
            prop_assert!(r.price >= f.floor, "{r:?}");
            prop_assert!(r.price <= f.ceiling, "{r:?}");
            prop_assert_eq!(r.price % f.step, 0);
        }

        #[test]
        fn monotone_in_each_cost_input(c in costs(), u in usage(), f in factors(), which in 0usize..5, bump in 0..5_000_000i64) {
            let mut higher = c;
            let key = CostInputs::KEYS[which];
            let current = match which {
                0 => c.llm_per_1k_tokens,
                1 => c.tts_per_minute,
                2 => c.avatar_video_per_minute,
                3 => c.agora_per_minute,
                _ => c.chart_computation,
            };
            prop_assert!(higher.set(key, current + bump));
            let a = recommend(&c, &u, &f);
            let b = recommend(&higher, &u, &f);
            prop_assert!(b.price >= a.price, "{key}: {a:?} then {b:?}");
            prop_assert!(b.cost_micro >= a.cost_micro);
        }

        #[test]
        fn monotone_in_margin_and_demand(c in costs(), u in usage(), f in factors(), dm in 0..5_000i64, dd in 0..5_000i64) {
            let a = recommend(&c, &u, &f);
            let g = Factors { margin_bps: f.margin_bps + dm, demand_bps: f.demand_bps + dd, ..f };
            prop_assert!(recommend(&c, &u, &g).price >= a.price);
        }

        #[test]
        fn demand_stays_in_bounds(r in 0..100_000i64, b in 0..100_000i64, lo in 1..10_000i64, span in 0..10_000i64) {
            let d = demand_bps(r, 24, b, 144, lo, lo + span);
            prop_assert!(d >= lo && d <= lo + span);
        }
    }

    #[test]
    fn a_worked_example() {
        let c = CostInputs {
            llm_per_1k_tokens: 200_000,
            chart_computation: 50_000,
            ..Default::default()
        };
        let u = Usage {
            llm_ktokens_milli: 3000,
            chart_computations_milli: 1000,
            ..Default::default()
        };
        // cost 0.65 credits; x1.3 x1.0 x1.0 = 0.845 -> rounds to 1 credit.
        let f = Factors {
            margin_bps: 3000,
            demand_bps: 10_000,
            category_bps: 10_000,
            floor: 1,
            ceiling: 500,
            step: 1,
        };
        let r = recommend(&c, &u, &f);
        assert_eq!(r.cost_micro, 650_000);
        assert_eq!(r.unrounded_micro, 845_000);
        assert_eq!(r.price, 1);
        let f5 = Factors {
            step: 5,
            floor: 3,
            ..f
        };
        // rounds to 0, clamped to the floor moved up to the step: 5.
        assert_eq!(recommend(&c, &u, &f5).price, 5);
        assert_eq!(recommend(&c, &u, &f5).clamped, "floor");
    }
}
