//! Choosing the next token: a repetition penalty over the last tokens, then
//! greedy (temperature 0) or temperature + top-p (nucleus) sampling.
//!
//! Top-p looks at the few most likely tokens first and sorts the whole
//! vocabulary only when they do not already hold `top_p` of the mass, so a
//! step costs a partial selection, not a 49k-element sort.

/// SplitMix64: small, seedable and good enough to draw one number a token.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 24 random bits → [0, 1)
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}

pub struct Sampler {
    temperature: f64,
    top_p: f64,
    repeat_penalty: f32,
    repeat_last_n: usize,
    rng: SplitMix64,
}

/// Candidates examined before falling back to a full sort.
const FIRST_CUT: usize = 64;

impl Sampler {
    pub fn new(
        seed: u64,
        temperature: f64,
        top_p: f64,
        repeat_penalty: f32,
        repeat_last_n: usize,
    ) -> Sampler {
        Sampler {
            temperature,
            top_p,
            repeat_penalty,
            repeat_last_n,
            rng: SplitMix64(seed),
        }
    }

    /// The next token given the logits and the tokens so far (prompt and
    /// generated), whose last `repeat_last_n` are penalised.
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        if self.repeat_penalty != 1.0 && self.repeat_last_n > 0 {
            let start = history.len().saturating_sub(self.repeat_last_n);
            let mut seen = std::collections::HashSet::new();
            for &t in &history[start..] {
                if !seen.insert(t) {
                    continue;
                }
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = if *l >= 0.0 {
                        *l / self.repeat_penalty
                    } else {
                        *l * self.repeat_penalty
                    };
                }
            }
        }
        if self.temperature <= 0.0 {
            return argmax(logits);
        }
        let inv_t = (1.0 / self.temperature) as f32;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0f32;
        for l in logits.iter_mut() {
            *l = ((*l - max) * inv_t).exp();
            total += *l;
        }
        if total.is_nan() || total <= 0.0 {
            return 0;
        }
        let probs = logits;
        let top_p = self.top_p as f32;
        let mut idx: Vec<u32> = (0..probs.len() as u32).collect();
        let by_prob_desc = |a: &u32, b: &u32| probs[*b as usize].total_cmp(&probs[*a as usize]);
        let mut cut = FIRST_CUT.min(idx.len());
        if cut < idx.len() {
            idx.select_nth_unstable_by(cut, by_prob_desc);
        }
        idx[..cut].sort_unstable_by(by_prob_desc);
        let mass: f32 = idx[..cut].iter().map(|i| probs[*i as usize]).sum::<f32>() / total;
        if mass < top_p && cut < idx.len() {
            idx.sort_unstable_by(by_prob_desc);
            cut = idx.len();
        }
        // The smallest prefix whose mass reaches top_p.
        let mut kept = 0usize;
        let mut acc = 0.0f32;
        for i in &idx[..cut] {
            acc += probs[*i as usize] / total;
            kept += 1;
            if acc >= top_p {
                break;
            }
        }
        let nucleus = &idx[..kept.max(1)];
        let nucleus_mass: f32 = nucleus.iter().map(|i| probs[*i as usize]).sum();
        let mut r = self.rng.next_f32() * nucleus_mass;
        for i in nucleus {
            r -= probs[*i as usize];
            if r <= 0.0 {
                return *i;
            }
        }
        nucleus[nucleus.len() - 1]
    }
}

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_largest_after_the_penalty() {
        let mut s = Sampler::new(1, 0.0, 1.0, 2.0, 8);
        let mut logits = vec![0.1, 3.0, 2.0];
        assert_eq!(s.sample(&mut logits, &[]), 1);
        let mut logits = vec![0.1, 3.0, 2.0];
        // Token 1 was just said: 3.0 / 2 < 2.0.
        assert_eq!(s.sample(&mut logits, &[1]), 2);
    }

    #[test]
    fn top_p_keeps_to_the_nucleus() {
        let mut s = Sampler::new(7, 1.0, 0.5, 1.0, 0);
        // One token holds nearly all the mass: it is the only one drawn.
        for _ in 0..200 {
            let mut logits = vec![0.0f32; 1000];
            logits[42] = 20.0;
            assert_eq!(s.sample(&mut logits, &[]), 42);
        }
        // A flat distribution with top_p 1: more than the first cut is reachable.
        let mut s = Sampler::new(7, 1.0, 1.0, 1.0, 0);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let mut logits = vec![0.0f32; 1000];
            seen.insert(s.sample(&mut logits, &[]));
        }
        assert!(seen.len() > 500, "{}", seen.len());
    }
}
