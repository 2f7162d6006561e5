//! Knowledge integration tests: one binary, real PostgreSQL, real NATS and
//! the real all-MiniLM-L6-v2 model (`.local/models/all-minilm-l6-v2`, or
//! GUIDANCE_MODEL_DIR).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod embed;
mod helpers;
mod recall;
mod search;
mod seed;
