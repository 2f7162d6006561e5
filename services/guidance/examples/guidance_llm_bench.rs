//! The local language model's speed, side by side with llama.cpp on the
//! same GGUF file in the same run (`just bench-guidance`):
//!
//! * prompt tokens/s: a 512-token prompt evaluated as one batch (llama-bench's `pp512`);
//! * generated tokens/s: 128 single-token steps after it (`tg128`), greedy;
//! * time to first token for that prompt: through the `local` provider
//!   (ChatML, tokenizer, prefill, sampling, the blocking pool), and
//!   llama.cpp's prompt evaluation plus one pick;
//! * the ratios ours / llama.cpp (target: each at least 0.5).
//!
//! llama.cpp runs through llama-cpp-python (`bench/llama_cpp_speed.py`);
//! without it the comparison is skipped with a message saying how to
//! install it. Both sides use the same threads (all cores unless
//! `BENCH_THREADS`), the best of `runs` each.
//!
//! `cargo run --release -p guidance --example guidance_llm_bench -- [gguf] [prompt tokens] [generated] [runs]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use guidance::config::LocalModelConfig;
use guidance::llm::local::{LocalModel, LocalProvider};
use guidance::llm::{ChatMessage, ChatRequest, Chunk, Provider, Role};
use std::sync::Arc;
use std::time::Instant;

fn prompt_text() -> String {
    // Real text from the knowledge base, repeated until long enough.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge/graha");
    let mut text = String::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        text.push_str(&std::fs::read_to_string(f).unwrap_or_default());
    }
    if text.is_empty() {
        text = "Saturn in the seventh house asks for patience in partnerships. ".repeat(200);
    }
    text
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let gguf = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| ".local/models/SmolLM2-135M-Instruct.Q8_0.gguf".into());
    let n_prompt: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(512);
    let n_gen: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(128);
    let runs: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(3);
    let threads: usize = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
    // candle's CPU pool reads the same variable as rayon.
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());

    let (_, cfg) = guidance::load_config(&[("llm.local.gguf".into(), gguf.clone())])?;
    let lc: LocalModelConfig = cfg.llm.local.clone();
    let started = Instant::now();
    let model = Arc::new(LocalModel::load(&lc)?);
    println!(
        "model      {gguf} loaded in {:.2} s; {threads} threads",
        started.elapsed().as_secs_f64()
    );

    let text = prompt_text();
    let mut ids = model.tokenizer().encode(&text)?;
    anyhow::ensure!(ids.len() >= n_prompt, "prompt text too short");
    ids.truncate(n_prompt);

    // Ours: one batch of n_prompt tokens, then n_gen greedy steps.
    let (mut pp, mut tg, mut tok_ttft) = (0.0f64, 0.0f64, f64::INFINITY);
    for _ in 0..runs {
        let mut s = model.session();
        let t0 = Instant::now();
        let logits = s.feed(&ids)?;
        let mut next = argmax(&logits);
        let t1 = Instant::now();
        pp = pp.max(n_prompt as f64 / (t1 - t0).as_secs_f64());
        tok_ttft = tok_ttft.min((t1 - t0).as_secs_f64());
        let t2 = Instant::now();
        for _ in 0..n_gen {
            let logits = s.feed(&[next])?;
            next = argmax(&logits);
        }
        tg = tg.max(n_gen as f64 / t2.elapsed().as_secs_f64());
    }

    // Time to first token through the provider, for a chat whose prompt is
    // n_prompt tokens long.
    let mut user = model
        .tokenizer()
        .decode(&ids[..n_prompt.saturating_sub(30)]);
    user.push_str("\nWhat does this say about patience?");
    let req = ChatRequest {
        messages: vec![ChatMessage {
            role: Role::User,
            content: user,
        }],
        max_tokens: 16,
        temperature: Some(0.0),
        top_p: None,
    };
    // Cold: a model without the prefix cache evaluates the whole prompt
    // every time. Warm: the same prompt again, its prefix reused (all but
    // the last token), as for a conversation's repeated system prompt.
    let (_, cold_cfg) = guidance::load_config(&[
        ("llm.local.gguf".into(), gguf.clone()),
        ("llm.local.prefix_cache_tokens".into(), "0".into()),
    ])?;
    let cold_model = Arc::new(LocalModel::load(&cold_cfg.llm.local)?);
    let (provider_ttft, chat_prompt_tokens) =
        first_delta(&LocalProvider::new(cold_model), &req, runs).await?;
    let warm_provider = LocalProvider::new(model.clone());
    first_delta(&warm_provider, &req, 1).await?;
    let (warm_ttft, _) = first_delta(&warm_provider, &req, runs).await?;
    println!();
    println!(
        "{:<34} {:>14} {:>14} {:>12}",
        "engine", "prompt tok/s", "gen tok/s", "TTFT ms"
    );
    println!(
        "{:<34} {:>14.1} {:>14.1} {:>12.1}",
        "candle (guidance local)",
        pp,
        tg,
        tok_ttft * 1000.0
    );
    println!(
        "{:<34} {:>14} {:>14} {:>12.1}   ({} prompt tokens, ChatML, through the provider)",
        "  local provider, first delta",
        "",
        "",
        provider_ttft * 1000.0,
        chat_prompt_tokens
    );
    println!(
        "{:<34} {:>14} {:>14} {:>12.1}   (the same prompt again: its prefix from the cache)",
        "  ... prefix cached",
        "",
        "",
        warm_ttft * 1000.0
    );

    match llama_cpp(&gguf, &ids, n_gen, threads, runs) {
        Ok(v) => {
            let lpp = v["prompt_tokens_per_s"].as_f64().unwrap_or(0.0);
            let ltg = v["generated_tokens_per_s"].as_f64().unwrap_or(0.0);
            let lttft = v["ttft_s"].as_f64().unwrap_or(0.0);
            let engine = v["engine"].as_str().unwrap_or("llama.cpp");
            println!(
                "{engine:<34} {lpp:>14.1} {ltg:>14.1} {:>12.1}",
                lttft * 1000.0
            );
            println!();
            println!(
                "ratio ours/llama.cpp: prompt {:.2}x, generation {:.2}x, first token {:.2}x (target >= 0.5x)",
                pp / lpp,
                tg / ltg,
                lttft / tok_ttft
            );
        }
        Err(e) => {
            println!();
            println!("llama.cpp comparison skipped: {e}");
            println!("install it with `python3 -m pip install llama-cpp-python` (builds llama.cpp from source)");
            std::process::exit(2);
        }
    }
    Ok(())
}

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}

fn llama_cpp(
    gguf: &str,
    ids: &[u32],
    n_gen: usize,
    threads: usize,
    runs: usize,
) -> anyhow::Result<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/llama_cpp_speed.py");
    let spec = std::env::temp_dir().join(format!("guidance-llm-bench-{}.json", std::process::id()));
    std::fs::write(
        &spec,
        serde_json::json!({"prompt": ids, "gen": n_gen, "threads": threads, "runs": runs})
            .to_string(),
    )?;
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(gguf)
        .arg(&spec)
        .output()?;
    let _ = std::fs::remove_file(&spec);
    if !out.status.success() {
        anyhow::bail!(
            "llama-cpp-python failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let last = line.lines().last().unwrap_or("");
    Ok(serde_json::from_str(last)?)
}

/// Best time to the first delta over `runs` generations of `req`, and the
/// prompt tokens the provider counted.
async fn first_delta(
    provider: &LocalProvider,
    req: &ChatRequest,
    runs: usize,
) -> anyhow::Result<(f64, u32)> {
    let mut best = f64::INFINITY;
    let mut prompt_tokens = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut stream = provider.generate(req.clone()).await?;
        let mut first = None;
        while let Some(item) = stream.next().await {
            match item? {
                Chunk::Delta(_) if first.is_none() => first = Some(t0.elapsed().as_secs_f64()),
                Chunk::Delta(_) => {}
                Chunk::Done(u) => prompt_tokens = u.prompt_tokens,
            }
        }
        best = best.min(first.unwrap_or(f64::INFINITY));
    }
    Ok((best, prompt_tokens))
}
