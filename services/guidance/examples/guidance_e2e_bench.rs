//! Answers end to end through the gateway (`just bench-guidance`): charts,
//! pricing, guidance and the gateway in process on a fresh database and a
//! private NATS server, the real embedding model and the local language
//! model. Signed-in users with charts ask in `conversations` concurrent
//! conversations, streaming (SSE); printed:
//!
//! * first one conversation alone, then all of them at once;
//! * time to first token (the first `delta` event at the client) p50/p99,
//!   and the whole answer p50/p99;
//! * the prompt positions the local model evaluated, and those it took
//!   from its prefix cache instead;
//! * prompt sizes (the prompt tokens the `done` event reports);
//! * the faithfulness check's correction rate for the provider: sentences
//!   corrected or dropped per answer.
//!
//! `cargo run --release -p guidance --example guidance_e2e_bench -- [conversations] [questions each] [max tokens]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/chat/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use futures_util::StreamExt;
use helpers::{spawn, Options};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const QUESTIONS: &[&str] = &[
    "What does my chart say about my marriage and my 7th house?",
    "How will my career grow during my current dasha?",
    "Where is Saturn in my chart and how should I work with it?",
    "Which remedies suit my Moon sign?",
    "What does my ascendant say about my nature?",
];

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let conversations = args.first().copied().unwrap_or(4);
    let per = args.get(1).copied().unwrap_or(3);
    let max_tokens = args.get(2).copied().unwrap_or(64);
    let p = spawn(Options {
        gateway: true,
        max_tokens,
        per_user_per_minute: 1000,
        extra: vec![
            ("llm_api.enabled", "true".into()),
            ("llm_api.port", "0".into()),
        ],
        ..Options::default()
    })
    .await;
    println!("provider local (in process)");
    let seekers = make_seekers(&p, conversations).await?;
    // One conversation alone, then all of them at once.
    phase(&p, &seekers[..1], per, max_tokens).await?;
    phase(&p, &seekers, per, max_tokens).await?;
    // The openai provider, against the first platform's OpenAI-compatible
    // API (the same model, over HTTP and SSE): its correction rate.
    let base = p.llm_api.clone().expect("the llm API is enabled");
    let q = spawn(Options {
        gateway: true,
        max_tokens,
        per_user_per_minute: 1000,
        ..Options::openai_at(&base)
    })
    .await;
    println!("provider openai (guidance's own /v1/chat/completions, the same model)");
    let others = make_seekers(&q, conversations).await?;
    phase(&q, &others, per, max_tokens).await?;
    Ok(())
}

/// Signed-in users with a chart and credits, each with a conversation and
/// one warm-up answer: (token, conversation id).
async fn make_seekers(
    p: &helpers::Platform,
    conversations: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let gw = p.gateway.as_ref().unwrap().address.clone();
    // Users with a chart and credits, each with a conversation.
    let mut seekers = Vec::new();
    for i in 0..conversations {
        let r = p
            .http
            .post(format!("{gw}/api/v1/auth/register"))
            .json(
                &json!({"email": format!("bench-{i}-{}@example.com", uuid::Uuid::new_v4().simple()),
                          "password": "a quiet lotus 108", "display_name": "Bench"}),
            )
            .send()
            .await?;
        let body: Value = r.json().await?;
        let token = body["access_token"].as_str().unwrap().to_owned();
        let id: common::UserId = serde_json::from_value(body["user"]["id"].clone())?;
        let user = helpers::User {
            id,
            principal: common::Principal {
                user_id: id,
                roles: vec![common::Role::User],
            },
        };
        p.fund(&user, 100_000).await;
        let date = format!("19{}-0{}-1{}", 70 + i * 3, 1 + i % 9, i % 10);
        let r = p
            .http
            .post(format!("{gw}/api/v1/profiles"))
            .bearer_auth(&token)
            .json(&json!({"name": "Me", "birth": {"date": date, "time": "06:30", "place_id": 1264527}}))
            .send()
            .await?;
        assert_eq!(r.status(), 201, "{}", r.text().await?);
        let r = p
            .http
            .post(format!("{gw}/api/v1/guidance/conversations"))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await?;
        let c: Value = r.json().await?;
        seekers.push((token, c["id"].as_str().unwrap().to_owned()));
    }
    // One warm-up answer (model pages, caches).
    let warm = &seekers[0];
    p.http
        .post(format!(
            "{gw}/api/v1/guidance/conversations/{}/messages",
            warm.1
        ))
        .bearer_auth(&warm.0)
        .json(&json!({"content": "Namaste"}))
        .send()
        .await?
        .text()
        .await?;
    Ok(seekers)
}

/// The local model's prompt positions (evaluated, reused) so far, from
/// guidance's `/metrics`.
async fn prompt_positions(p: &helpers::Platform) -> anyhow::Result<(f64, f64)> {
    let text = p
        .http
        .get(p.guidance.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let read = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((
        read("jyotiflow_llm_local_prompt_tokens_evaluated_total"),
        read("jyotiflow_llm_local_prompt_tokens_reused_total"),
    ))
}

/// `seekers` ask `per` questions each, every conversation at once, and the
/// figures are printed.
async fn phase(
    p: &helpers::Platform,
    seekers: &[(String, String)],
    per: usize,
    max_tokens: usize,
) -> anyhow::Result<()> {
    let conversations = seekers.len();
    let gw = p.gateway.as_ref().unwrap().address.clone();
    let (evaluated0, reused0) = prompt_positions(p).await?;
    let started = Instant::now();
    let runs = seekers.iter().enumerate().map(|(i, (token, cid))| {
        let http = p.http.clone();
        let gw = gw.clone();
        async move {
            let mut out = Vec::new();
            for k in 0..per {
                let q = QUESTIONS[(i + k) % QUESTIONS.len()];
                let t0 = Instant::now();
                let resp = http
                    .post(format!("{gw}/api/v1/guidance/conversations/{cid}/messages"))
                    .bearer_auth(token)
                    .header("Accept", "text/event-stream")
                    .json(&json!({ "content": q }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let mut body = resp.bytes_stream();
                let mut first = None;
                let mut text = String::new();
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.unwrap();
                    if first.is_none() && chunk.starts_with(b"event: delta") {
                        first = Some(t0.elapsed());
                    }
                    text.push_str(&String::from_utf8_lossy(&chunk));
                }
                let total = t0.elapsed();
                let done = helpers::parse_sse(&text)
                    .into_iter()
                    .find(|(e, _)| e == "done")
                    .map(|(_, d)| d)
                    .unwrap_or(Value::Null);
                out.push((first.unwrap_or(total), total, done));
            }
            out
        }
    });
    let results: Vec<(Duration, Duration, Value)> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    let wall = started.elapsed();
    let (evaluated1, reused1) = prompt_positions(p).await?;
    let mut ttft: Vec<f64> = results.iter().map(|r| r.0.as_secs_f64()).collect();
    let mut whole: Vec<f64> = results.iter().map(|r| r.1.as_secs_f64()).collect();
    let mut prompt: Vec<f64> = results
        .iter()
        .map(|r| r.2["usage"]["prompt_tokens"].as_f64().unwrap_or(0.0))
        .collect();
    let generated: f64 = results
        .iter()
        .map(|r| r.2["usage"]["completion_tokens"].as_f64().unwrap_or(0.0))
        .sum();
    let fixed: u64 = results
        .iter()
        .map(|r| r.2["corrected"].as_u64().unwrap_or(0) + r.2["dropped"].as_u64().unwrap_or(0))
        .sum();
    let delivered = results
        .iter()
        .filter(|r| r.2["status"] == "complete")
        .count();
    println!(
        "answers through the gateway: {} ({} delivered), {conversations} concurrent conversation(s), max {max_tokens} tokens, {:.1} s wall",
        results.len(),
        delivered,
        wall.as_secs_f64()
    );
    println!(
        "  time to first token  p50 {:.2} s  p99 {:.2} s",
        pct(&mut ttft, 0.5),
        pct(&mut ttft, 0.99)
    );
    println!(
        "  whole answer         p50 {:.2} s  p99 {:.2} s",
        pct(&mut whole, 0.5),
        pct(&mut whole, 0.99)
    );
    println!(
        "  prompt tokens        p50 {:.0}  max {:.0}; generated {:.0} tokens in all ({:.1} tokens/s across conversations)",
        pct(&mut prompt, 0.5),
        prompt.last().copied().unwrap_or(0.0),
        generated,
        generated / wall.as_secs_f64()
    );
    let (evaluated, reused) = (evaluated1 - evaluated0, reused1 - reused0);
    if evaluated + reused > 0.0 {
        println!(
            "  prompt positions     {evaluated:.0} evaluated, {reused:.0} reused from the prefix cache ({:.0} % reused)",
            100.0 * reused / (evaluated + reused)
        );
    }
    let providers: std::collections::BTreeSet<&str> = results
        .iter()
        .filter_map(|r| r.2["provider"].as_str())
        .collect();
    println!(
        "  faithfulness (provider {}): {fixed} sentences corrected or dropped in {} answers ({:.2} per answer)",
        providers.into_iter().collect::<Vec<_>>().join(", "),
        results.len(),
        fixed as f64 / results.len().max(1) as f64
    );
    Ok(())
}
