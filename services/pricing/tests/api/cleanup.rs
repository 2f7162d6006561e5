//! Periodic clean-up of expired quotes, Stripe event ids and processed
//! consumer events.

use crate::helpers::*;
use std::time::Duration;
use testkit::wait_until;

async fn count(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn old_quotes_stripe_events_and_processed_events_are_deleted_in_batches() {
    let app = spawn_with(Options {
        overrides: vec![
            ("cleanup.interval_ms", "200".into()),
            ("cleanup.batch_size", "2".into()),
            ("cleanup.quotes_retention_secs", "10".into()),
            ("cleanup.stripe_events_retention_secs", "10".into()),
            ("cleanup.processed_events_retention_secs", "10".into()),
        ],
        ..Default::default()
    })
    .await;
    let db = app.db().await;
    // Five rows of each kind well past the retention, and some that are not.
    db.batch_execute(
        "INSERT INTO quotes (id, user_id, service_code, units, unit_price, total, expires_at, created_at)
           SELECT gen_random_uuid(), gen_random_uuid(), 'text_guidance', 1, 10, 10,
                  now() - interval '1 hour', now() - interval '2 hours' FROM generate_series(1, 5);
         INSERT INTO quotes (id, user_id, service_code, units, unit_price, total, expires_at) VALUES
           ('00000000-0000-0000-0000-00000000000a', gen_random_uuid(), 'text_guidance', 1, 10, 10, now()),
           ('00000000-0000-0000-0000-00000000000b', gen_random_uuid(), 'text_guidance', 1, 10, 10, now() + interval '1 hour');
         INSERT INTO stripe_events (id, event_type, received_at)
           SELECT 'evt_old_' || i, 'charge.refunded', now() - interval '40 days' FROM generate_series(1, 5) i;
         INSERT INTO stripe_events (id, event_type) VALUES ('evt_fresh', 'charge.refunded');
         INSERT INTO processed_events (consumer, event_id, processed_at)
           SELECT 'cleanup-test', gen_random_uuid(), now() - interval '20 days' FROM generate_series(1, 5);
         INSERT INTO processed_events (consumer, event_id)
           VALUES ('cleanup-test', '00000000-0000-0000-0000-00000000000c');",
    )
    .await
    .unwrap();
    let done = wait_until(Duration::from_secs(8), || async {
        count(&db, "SELECT count(*) FROM quotes").await == 2
            && count(&db, "SELECT count(*) FROM stripe_events").await == 1
            && count(
                &db,
                "SELECT count(*) FROM processed_events WHERE consumer = 'cleanup-test'",
            )
            .await
                == 1
    })
    .await;
    assert!(done, "old rows were not cleaned up");
    // What is younger than the retention stays.
    assert_eq!(
        count(&db, "SELECT count(*) FROM quotes WHERE id IN ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b')").await,
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM stripe_events WHERE id = 'evt_fresh'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM processed_events WHERE event_id = '00000000-0000-0000-0000-00000000000c'").await,
        1
    );
    // The counts are exported.
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for table in ["quotes", "stripe_events", "processed_events"] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("jyotiflow_cleanup_deleted_rows_total")
                    && l.contains(&format!("table=\"{table}\""))
            })
            .unwrap_or_else(|| panic!("no clean-up metric for {table}:\n{metrics}"));
        assert!(line.ends_with(" 5"), "{line}");
    }
    // Once they are older than the (short) retention, they go too; a quote
    // that has not expired yet stays.
    let gone = wait_until(Duration::from_secs(30), || async {
        count(&db, "SELECT count(*) FROM quotes").await == 1
            && count(&db, "SELECT count(*) FROM stripe_events").await == 0
            && count(
                &db,
                "SELECT count(*) FROM processed_events WHERE consumer = 'cleanup-test'",
            )
            .await
                == 0
    })
    .await;
    assert!(gone, "rows past the retention were not cleaned up");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM quotes WHERE id = '00000000-0000-0000-0000-00000000000b'"
        )
        .await,
        1
    );
    app.finish().await;
}
