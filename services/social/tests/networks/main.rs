//! The network clients against local servers that speak each provider's
//! documented protocol: paths, methods, bearer tokens, JSON / form /
//! multipart bodies, status codes and error shapes, Instagram's container
//! polling, YouTube's resumable uploads, Telegram's `ok` envelope.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod facebook;
mod fake_facebook;
mod fake_instagram;
mod fake_telegram;
mod fakes;
mod instagram;
mod secrets;
mod telegram;
mod x;
mod youtube;

use social::networks::{Marker, RetryPolicy};
use std::time::Duration;

/// Every token the fakes accept; none may ever appear in a log or a
/// `Debug` string.
pub const FB_TOKEN: &str = "EAAfbPAGEtoken-SECRET-0001";
pub const IG_TOKEN: &str = "EAAigUSERtoken-SECRET-0002";
pub const X_TOKEN: &str = "x-user-token-SECRET-0003";
pub const YT_TOKEN: &str = "ya29.yt-token-SECRET-0004";
pub const TG_TOKEN: &str = "123456789:AAtg-bot-token-SECRET-0005";
pub const ALL_TOKENS: [&str; 5] = [FB_TOKEN, IG_TOKEN, X_TOKEN, YT_TOKEN, TG_TOKEN];

/// Log capture for the whole binary (see `secrets`).
pub fn start() {
    testkit::init_logs();
}

/// Fast retries: four attempts, tens of milliseconds apart.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay_ms: 20,
        max_delay_ms: 100,
        max_retry_after_ms: 5_000,
    }
}

pub fn marker(key: &str) -> Marker {
    Marker::for_key(key.as_bytes())
}

/// The gap between consecutive arrivals.
pub fn gaps(arrivals: &[std::time::Instant]) -> Vec<Duration> {
    arrivals.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Bytes that look like a PNG (the fakes do not decode images).
pub fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend((0..2048u32).map(|i| (i % 251) as u8));
    v
}
