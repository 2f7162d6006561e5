//! Retrieval quality on the labelled questions (eval/questions.jsonl) with
//! the whole corpus seeded: recall@5 must stay at 0.9 or above.

use crate::helpers::{manifest, spawn_with, Options};

#[tokio::test]
async fn recall_at_5_on_the_labelled_questions() {
    let app = spawn_with(Options {
        // GUIDANCE_EVAL_DB: a database kept between runs (seeding it again
        // embeds nothing); default a fresh one.
        database_url: std::env::var("GUIDANCE_EVAL_DB").ok(),
        files: None,
        ..Default::default()
    })
    .await;
    let questions =
        guidance::eval::load_questions(&manifest("eval/questions.jsonl").display().to_string())
            .unwrap();
    assert!(questions.len() >= 60);
    let stats = app.state.retriever.stats();
    assert_eq!(stats.entries, 414, "the whole corpus is seeded");
    let report = guidance::eval::evaluate(&app.state.retriever, &questions, 5)
        .await
        .unwrap();
    println!("{report}");
    assert!(report.recall >= 0.9, "{report}");
}

#[test]
fn every_expected_entry_exists() {
    let files = guidance::corpus::load_dir(&manifest("knowledge")).unwrap();
    assert_eq!(files.len(), 414);
    let ids: std::collections::HashSet<&str> = files.iter().map(|f| f.entry.id.as_str()).collect();
    let questions =
        guidance::eval::load_questions(&manifest("eval/questions.jsonl").display().to_string())
            .unwrap();
    for q in &questions {
        for e in &q.expected {
            assert!(
                ids.contains(e.as_str()),
                "{:?} expects unknown entry {e}",
                q.q
            );
        }
    }
}
