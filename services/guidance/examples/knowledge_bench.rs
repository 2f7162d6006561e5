//! Knowledge benchmark. Seeds the whole corpus into a fresh database (real
//! PostgreSQL, real NATS, the real model) and prints:
//! * retrieval quality on `eval/questions.jsonl`: recall@5 and MRR (and the
//!   questions that missed);
//! * embedding throughput: corpus chunks embedded in batches, sentences/s,
//!   and one short query at a time;
//! * retrieval latency over the questions, p50/p99: the whole hybrid
//!   search (query expansion, embedding, cosine over every chunk, full-text
//!   search in PostgreSQL, fusion) and the in-memory cosine search alone.
//!
//! Needs the local PostgreSQL (TEST_DATABASE_URL), `nats-server` and the
//! model files (`.local/models/all-minilm-l6-v2`, or GUIDANCE_MODEL_DIR):
//! `cargo run --release -p guidance --example knowledge_bench -- [rounds]`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

fn manifest(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let model_dir = std::env::var("GUIDANCE_MODEL_DIR")
        .unwrap_or_else(|_| manifest("../../.local/models/all-minilm-l6-v2"));
    // KNOWLEDGE_BENCH_DB: a database kept between runs (the seed is
    // idempotent, so a second run embeds nothing); default a fresh one.
    let (_db, db_url) = match std::env::var("KNOWLEDGE_BENCH_DB") {
        Ok(url) => (None, url),
        Err(_) => {
            let db = testkit::TestDb::create().await?;
            let url = db.url.clone();
            (Some(db), url)
        }
    };
    let nats = testkit::NatsServer::start()?;
    let overrides: Vec<(String, String)> = [
        ("env", "test".to_owned()),
        ("http.port", "0".to_owned()),
        ("database.url", db_url),
        ("nats.url", nats.url()),
        ("telemetry.log_level", "warn".to_owned()),
        ("llm_api.enabled", "false".to_owned()),
        ("embedding.model_dir", model_dir),
        ("knowledge.dir", manifest("knowledge")),
        ("knowledge.glossary", manifest("glossary.tsv")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let (base, cfg) = guidance::load_config(&overrides)?;
    platform::cli::migrate(&base, guidance::MIGRATIONS).await?;
    let started = Instant::now();
    let report = guidance::knowledge::seed_command(base.clone(), cfg.clone(), None, false).await?;
    let seed_secs = started.elapsed().as_secs_f64();
    let app = guidance::Application::build(base, cfg.clone()).await?;
    let state = app.state();
    let stop = app.shutdown_token();
    let task = tokio::spawn(app.run_until_stopped());
    let retriever = state.retriever.clone();
    let stats = retriever.stats();
    println!(
        "corpus: {} entries, {} chunks; first seed {:.1} s ({} chunks embedded)",
        stats.entries, stats.chunks, seed_secs, report.embedded
    );

    // Quality.
    let questions = guidance::eval::load_questions(&manifest("eval/questions.jsonl"))?;
    let eval = guidance::eval::evaluate(&retriever, &questions, 5).await?;
    println!("{eval}");

    // Embedding throughput: the corpus's own chunk texts.
    let dir = std::path::PathBuf::from(manifest("knowledge"));
    let files = guidance::corpus::load_dir(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let glossary = retriever.glossary().clone();
    let texts: Vec<String> = files
        .iter()
        .flat_map(|f| guidance::knowledge::store::prepare(&f.entry, &glossary))
        .map(|p| p.embed_text)
        .take(128)
        .collect();
    let embedder = retriever.embedder().clone();
    let batch = cfg.embedding.batch_size;
    let (n, secs) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let t = Instant::now();
        embedder.embed_all(&refs, batch).unwrap();
        (refs.len(), t.elapsed().as_secs_f64())
    })
    .await?;
    println!(
        "embedding: {:.0} sentences/s (corpus chunks, batches of {batch}, {n} texts in {secs:.1} s)",
        n as f64 / secs
    );
    let embedder = retriever.embedder().clone();
    let qs: Vec<String> = questions.iter().map(|q| q.q.clone()).collect();
    let (n, secs) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        for q in &qs {
            embedder.embed(&[q.as_str()]).unwrap();
        }
        (qs.len(), t.elapsed().as_secs_f64())
    })
    .await?;
    println!(
        "embedding: {:.0} sentences/s (questions one at a time, {n} in {secs:.2} s)",
        n as f64 / secs
    );

    // Retrieval latency: the queries embedded once, then the retrieval
    // proper (cosine over every chunk, full text in PostgreSQL, placement
    // keys, fusion); and the whole search including the embedding.
    let mut vectors = Vec::new();
    for q in &questions {
        let expanded = retriever.glossary().expand(&q.q);
        let v = retriever.embed_query(&expanded).await.unwrap();
        vectors.push((expanded, v));
    }
    if std::env::var("EXPLAIN").is_ok() {
        for m in &eval.misses {
            let (expanded, v) = &vectors[questions.iter().position(|q| q.q == m.q).unwrap()];
            let x = retriever
                .search_embedded(expanded, v, 5, None)
                .await
                .unwrap();
            println!(
                "{:?}\n  expanded {expanded:?}\n  vector {:?}\n  text {:?}\n  keys {:?}",
                m.q, x.vector, x.text, x.keys
            );
        }
    }
    let (mut full, mut retrieval, mut cosine) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (q, (expanded, v)) in questions.iter().zip(&vectors) {
            let t = Instant::now();
            retriever
                .search_embedded(expanded, v, 5, None)
                .await
                .unwrap();
            retrieval.push(t.elapsed().as_micros() as u64);
            let t = Instant::now();
            std::hint::black_box(retriever.rank_by_vector(v, 40, None).unwrap());
            cosine.push(t.elapsed().as_micros() as u64);
            let t = Instant::now();
            retriever.search(&q.q, 5, None).await.unwrap();
            full.push(t.elapsed().as_micros() as u64);
        }
    }
    let print = |name: &str, lat: Vec<u64>| {
        let s = testkit::bench::Stats::from_latencies(lat, 0, std::time::Duration::from_secs(1));
        println!(
            "{name:<62} p50 {:>7.2} ms  p99 {:>7.2} ms  (n={})",
            s.p50_us as f64 / 1000.0,
            s.p99_us as f64 / 1000.0,
            s.count
        );
    };
    print(
        &format!(
            "retrieval ({} chunks: cosine + full text + keys + fusion)",
            stats.chunks
        ),
        retrieval,
    );
    print("  of which cosine over every chunk in memory", cosine);
    print(
        "whole search (glossary + query embedding + retrieval)",
        full,
    );
    stop.cancel();
    let _ = task.await;
    Ok(())
}
