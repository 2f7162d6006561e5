//! Token buckets on proxied routes: one per signed-in user and one per
//! client address (governor's keyed GCRA limiters). Refusals are 429 with
//! `Retry-After`. Each replica keeps its own buckets in memory; idle
//! buckets are dropped periodically so memory stays bounded.

use crate::config::RateLimitConfig;
use common::{ErrorCode, UserId};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use platform::AppError;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Limits(Option<Arc<Inner>>);

struct Inner {
    users: DefaultKeyedRateLimiter<UserId>,
    addresses: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn quota(per_sec: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_sec).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Quota::per_second(rate).allow_burst(burst)
}

impl Limits {
    pub fn new(cfg: &RateLimitConfig) -> Limits {
        if !cfg.enabled {
            return Limits(None);
        }
        Limits(Some(Arc::new(Inner {
            users: governor::RateLimiter::keyed(quota(cfg.per_user_per_sec, cfg.per_user_burst)),
            addresses: governor::RateLimiter::keyed(quota(
                cfg.per_address_per_sec,
                cfg.per_address_burst,
            )),
            clock: DefaultClock::default(),
        })))
    }

    /// Takes a token from the address's bucket and, when signed in, the user's.
    pub fn check(&self, address: &str, user: Option<UserId>) -> Result<(), AppError> {
        let Some(inner) = &self.0 else {
            return Ok(());
        };
        let refuse = |wait: Duration| {
            AppError::new(ErrorCode::TooManyRequests, "too many requests; slow down")
                .with_retry_after(wait.as_secs().max(1))
        };
        if let Err(n) = inner.addresses.check_key(&address.to_owned()) {
            return Err(refuse(n.wait_time_from(inner.clock.now())));
        }
        if let Some(u) = user {
            if let Err(n) = inner.users.check_key(&u) {
                return Err(refuse(n.wait_time_from(inner.clock.now())));
            }
        }
        Ok(())
    }

    /// Drops idle buckets every minute until `token` is cancelled.
    pub async fn housekeeping(self, token: CancellationToken) {
        let Some(inner) = self.0 else { return };
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            }
            inner.users.retain_recent();
            inner.addresses.retain_recent();
            inner.users.shrink_to_fit();
            inner.addresses.shrink_to_fit();
        }
    }
}
