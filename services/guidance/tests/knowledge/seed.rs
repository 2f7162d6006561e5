//! `guidance seed`: idempotent, versioned, only changed chunks embedded,
//! removed files deactivated, a broken corpus refused whole.

use crate::helpers::{spawn_app, SMALL};

const FILE: &str = "graha_in_house/saturn-in-house-7";
const ID: &str = "saturn-in-house-7";

#[tokio::test]
async fn seeding_twice_changes_nothing() {
    let app = spawn_app().await;
    let first = app.first_seed.clone().unwrap();
    assert_eq!(first.created, SMALL.len());
    assert!(first.embedded >= SMALL.len(), "{first}");
    let chunks = app
        .count("SELECT count(*) FROM guidance.knowledge_chunks")
        .await;
    let versions = app
        .count("SELECT count(*) FROM guidance.knowledge_versions")
        .await;
    let fingerprint = app
        .count("SELECT sum(id)::bigint FROM guidance.knowledge_chunks")
        .await;
    assert_eq!(versions, SMALL.len() as i64);
    let computed = app.state.retriever.embedder().computed();

    let again = app.seed().await.unwrap();
    assert_eq!(again.unchanged, SMALL.len(), "{again}");
    assert_eq!(
        (
            again.created,
            again.updated,
            again.deactivated,
            again.rechunked,
            again.embedded
        ),
        (0, 0, 0, 0, 0),
        "{again}"
    );
    assert!(!again.changed());
    assert_eq!(
        app.count("SELECT count(*) FROM guidance.knowledge_chunks")
            .await,
        chunks
    );
    assert_eq!(
        app.count("SELECT count(*) FROM guidance.knowledge_versions")
            .await,
        versions
    );
    assert_eq!(
        app.count("SELECT sum(id)::bigint FROM guidance.knowledge_chunks")
            .await,
        fingerprint
    );
    assert_eq!(app.state.retriever.embedder().computed(), computed);
    assert_eq!(
        app.count("SELECT max(version)::bigint FROM guidance.knowledge_entries")
            .await,
        1
    );
}

#[tokio::test]
async fn editing_one_entry_reembeds_only_its_changed_chunk() {
    let app = spawn_app().await;
    let chunks_of_entry = app
        .count(&format!(
            "SELECT count(*) FROM guidance.knowledge_chunks WHERE entry_id = '{ID}'"
        ))
        .await;
    assert!(chunks_of_entry >= 3);
    let text = app.corpus().read(FILE);
    let edited = text.replace(
        "Loyalty, commitment and staying power in partnership.",
        "Loyalty, commitment and great staying power in partnership.",
    );
    assert_ne!(text, edited);
    app.corpus().write(FILE, &edited);

    let r = app.seed().await.unwrap();
    assert_eq!((r.updated, r.created, r.deactivated), (1, 0, 0), "{r}");
    assert_eq!(r.unchanged, SMALL.len() - 1, "{r}");
    assert_eq!(r.rechunked, 1, "{r}");
    // One section changed: one chunk embedded, the others found again by hash.
    assert_eq!(r.embedded, 1, "{r}");
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT version, body FROM guidance.knowledge_entries WHERE id = $1",
            &[&ID],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
    assert!(row.get::<_, String>(1).contains("great staying power"));
    let changes: Vec<String> = db
        .query(
            "SELECT change FROM guidance.knowledge_versions WHERE entry_id = $1 ORDER BY version",
            &[&ID],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(changes, ["created", "updated"]);
    // The full-text index followed the re-chunked entry.
    app.assert_postings_match_chunks().await;
    // And a third seed is a no-op again.
    let r = app.seed().await.unwrap();
    assert!(!r.changed(), "{r}");
}

#[tokio::test]
async fn a_removed_file_is_deactivated_and_comes_back() {
    let app = spawn_app().await;
    assert!(app
        .search_ids("Shani in 7th bhava")
        .await
        .contains(&ID.to_owned()));
    let text = app.corpus().read(FILE);
    app.corpus().remove(FILE);
    let r = app.seed().await.unwrap();
    assert_eq!(r.deactivated, 1, "{r}");
    let db = app.db().await;
    let active: bool = db
        .query_one(
            "SELECT active FROM guidance.knowledge_entries WHERE id = $1",
            &[&ID],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!active);
    app.assert_postings_match_chunks().await;
    // The running app is told (signed NATS broadcast) and no longer finds it.
    let state = app.state.clone();
    assert!(
        testkit::wait_until(std::time::Duration::from_secs(10), || {
            let s = state.clone();
            async move { s.retriever.stats().entries == SMALL.len() - 1 }
        })
        .await,
        "the index was not reloaded"
    );
    assert!(!app
        .search_ids("Shani in 7th bhava")
        .await
        .contains(&ID.to_owned()));

    app.corpus().write(FILE, &text);
    let r = app.seed().await.unwrap();
    assert_eq!(r.reactivated, 1, "{r}");
    assert_eq!(r.embedded, 0, "embeddings are found again by hash: {r}");
    app.assert_postings_match_chunks().await;
    let state = app.state.clone();
    assert!(
        testkit::wait_until(std::time::Duration::from_secs(10), || {
            let s = state.clone();
            async move { s.retriever.stats().entries == SMALL.len() }
        })
        .await
    );
    assert!(app
        .search_ids("Shani in 7th bhava")
        .await
        .contains(&ID.to_owned()));
    let changes: Vec<String> = db
        .query(
            "SELECT change FROM guidance.knowledge_versions WHERE entry_id = $1 ORDER BY version",
            &[&ID],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(changes, ["created", "deactivated", "reactivated"]);
}

#[tokio::test]
async fn a_broken_corpus_is_refused_before_anything_is_written() {
    let app = spawn_app().await;
    let versions = app
        .count("SELECT count(*) FROM guidance.knowledge_versions")
        .await;
    // A good change beside two broken files: nothing at all is written.
    let text = app.corpus().read(FILE);
    app.corpus()
        .write(FILE, &text.replace("Loyalty", "Faithfulness"));
    app.corpus().write(
        "graha_in_house/mars-in-house-7",
        &text
            .replace("saturn-in-house-7", "mars-in-house-7")
            .replace("graha = \"saturn\"", "graha = \"mars\"")
            .replace("house = 7", "house = 13"),
    );
    app.corpus().write(
        "yoga/yoga-broken",
        "+++\nid = \"yoga-broken\"\ndomain = \"yoga\"\ntitle = \"Broken\"\ntags = [\"a\", \"b\", \"c\"]\nlanguage = \"en\"\n+++\nText.\n",
    );
    let err = app.seed().await.unwrap_err().to_string();
    assert!(
        err.contains("graha_in_house/mars-in-house-7.md: key house"),
        "{err}"
    );
    assert!(err.contains("yoga/yoga-broken.md: key sources"), "{err}");
    assert_eq!(
        app.count("SELECT count(*) FROM guidance.knowledge_versions")
            .await,
        versions
    );
    let body: String = app
        .db()
        .await
        .query_one(
            "SELECT body FROM guidance.knowledge_entries WHERE id = $1",
            &[&ID],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!body.contains("Faithfulness"));
}
