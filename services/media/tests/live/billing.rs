//! Per-minute billing: exact minutes, credit running out, restarts, many
//! sessions at once.

use crate::helpers::*;
use crate::support::{spawn, Options};
use futures_util::StreamExt;
use serde_json::json;
use std::time::Duration;

/// Chat is 3 credits a minute in the seeded catalog.
const CHAT: i64 = 3;

#[tokio::test]
async fn five_minutes_are_billed_exactly_and_the_rest_released() {
    let p = spawn(Options {
        media: live_config(2),
        ..Options::default()
    })
    .await;
    let user = p.user();
    let reader = reader(&p, "Guru Ananda").await;
    p.fund(&user, 100).await;
    let s = request(&p, &user, &reader, "chat").await;
    assert_eq!(s["price_per_minute"], CHAT);
    assert_eq!(s["covered_minutes"], 5);
    assert_eq!(s["status"], "requested");
    let id = s["id"].as_str().unwrap().to_owned();
    // The first block is held at request time.
    assert_eq!(p.balance(&user).await, (100 - 5 * CHAT, 5 * CHAT));
    let mut ev = follow(&p, &user, &id).await;
    let mut reader_ev = follow(&p, &reader, &id).await;
    assert_eq!(post(&p, &reader, &id, "accept").await.status(), 200);
    ev.until(Duration::from_secs(10), |k, _| k == "accepted")
        .await;
    assert_eq!(post(&p, &user, &id, "heartbeat").await.status(), 200);
    assert_eq!(post(&p, &reader, &id, "heartbeat").await.status(), 200);
    ev.until(Duration::from_secs(10), |k, _| k == "started")
        .await;
    // A chat message reaches the other side's stream and is kept.
    let r = p
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/live/sessions/{id}/messages"),
            &user,
            Some(&json!({"body": "Namaste, will my career improve?"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let (_, m) = reader_ev
        .until(Duration::from_secs(10), |k, _| k == "message")
        .await;
    assert_eq!(m["body"], "Namaste, will my career improve?");
    assert_eq!(m["sender"], "user");
    // Minutes 1..5, each once; the hold is extended before it runs out.
    let (_, five) = ev
        .until(Duration::from_secs(30), |k, d| {
            k == "minute_billed" && d["minute"] == 5
        })
        .await;
    assert_eq!(five["credits"], 5 * CHAT);
    assert_eq!(post(&p, &user, &id, "end").await.status(), 200);
    let (_, ended) = ev.until(Duration::from_secs(30), |k, _| k == "ended").await;
    assert_eq!(ended["reason"], "user_ended");
    assert_eq!(ended["minutes"], 5, "{ended}");
    assert_eq!(ended["credits"], 5 * CHAT);
    assert_eq!(ev.minutes(), vec![1, 2, 3, 4, 5]);
    assert!(
        ev.kinds().contains(&"credit_held".to_owned()),
        "{:?}",
        ev.kinds()
    );
    let v = settled(&p, &user, &id).await;
    assert_eq!(v["billed_minutes"], 5);
    assert_eq!(v["credits_captured"], 5 * CHAT);
    // Exactly the billed minutes captured, everything else released.
    assert_eq!(p.balance(&user).await, (100 - 5 * CHAT, 0));
    assert_eq!(captured_in_pricing(&p, &id).await, 5 * CHAT);
    let (active, _, _) = p.holds(&user).await;
    assert_eq!(active, 0);
    // The reader is free again and has served 5 minutes; messages kept.
    let me: serde_json::Value = p
        .send(
            reqwest::Method::GET,
            "/api/v1/live/readers/me",
            &reader,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["status"], "online");
    assert_eq!(me["minutes_served"], 5);
    let msgs: serde_json::Value = p
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/live/sessions/{id}/messages"),
            &reader,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(msgs["messages"].as_array().unwrap().len(), 1);
    // The stream replays from Last-Event-ID and closes after `ended`.
    let first_id = ev.seen[0].0.clone().unwrap();
    let replay = follow_after(&p, &user, &id, Some(&first_id))
        .await
        .rest(Duration::from_secs(10))
        .await;
    assert_eq!(replay.len(), ev.seen.len() - 1);
    assert_eq!(replay.last().unwrap().1, "ended");
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn running_out_of_credit_warns_then_ends_at_zero() {
    let p = spawn(Options {
        media: live_config(1),
        ..Options::default()
    })
    .await;
    let user = p.user();
    let reader = reader(&p, "Guru Bhavani").await;
    // Seven minutes: the first block of five, then only two more can be held.
    p.fund(&user, 7 * CHAT).await;
    let id = started(&p, &user, &reader, "chat").await;
    let mut ev = follow(&p, &user, &id).await;
    let (_, low) = ev
        .until(Duration::from_secs(30), |k, _| k == "low_credit")
        .await;
    assert!(low["minutes_left"].as_i64().unwrap() <= 2, "{low}");
    let (_, ended) = ev.until(Duration::from_secs(30), |k, _| k == "ended").await;
    assert_eq!(ended["reason"], "credit_exhausted");
    assert_eq!(ended["minutes"], 7);
    assert_eq!(ended["credits"], 7 * CHAT);
    assert_eq!(ev.minutes(), (1..=7).collect::<Vec<_>>());
    settled(&p, &user, &id).await;
    // Nothing overdrawn: the balance is exactly zero, nothing held.
    assert_eq!(p.balance(&user).await, (0, 0));
    let hs = holds(&p, &id).await;
    assert!(hs.iter().any(|h| h.3 == "failed"), "{hs:?}");
    assert_eq!(
        hs.iter()
            .filter(|h| h.3 == "captured")
            .map(|h| h.4)
            .sum::<i64>(),
        7 * CHAT
    );
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn a_restart_mid_session_bills_every_minute_once() {
    let mut p = spawn(Options {
        media: live_config(1),
        ..Options::default()
    })
    .await;
    let user = p.user();
    let reader = reader(&p, "Guru Chandra").await;
    p.fund(&user, 200).await;
    let id = started(&p, &user, &reader, "chat").await;
    let mut ev = follow(&p, &user, &id).await;
    ev.until(Duration::from_secs(20), |k, d| {
        k == "minute_billed" && d["minute"] == 2
    })
    .await;
    let last = ev.seen.last().unwrap().0.clone().unwrap();
    drop(ev);
    p.restart_media().await;
    // The new instance picks the session up from the database.
    let mut ev = follow_after(&p, &user, &id, Some(&last)).await;
    ev.until(Duration::from_secs(30), |k, d| {
        k == "minute_billed" && d["minute"] == 8
    })
    .await;
    assert_eq!(post(&p, &user, &id, "heartbeat").await.status(), 200);
    assert_eq!(post(&p, &reader, &id, "end").await.status(), 200);
    let (_, ended) = ev.until(Duration::from_secs(30), |k, _| k == "ended").await;
    let minutes = ended["minutes"].as_i64().unwrap();
    assert!(minutes >= 8, "{ended}");
    let v = settled(&p, &user, &id).await;
    // Each minute billed once (the stream resumed after minute 2).
    let billed = ev.minutes();
    assert_eq!(billed, (3..=billed.len() as i64 + 2).collect::<Vec<_>>());
    let db = p.db().await;
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM media.live_events WHERE session_id = $1 AND kind = 'minute_billed'",
            &[&uuid::Uuid::parse_str(&id).unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    let distinct: i64 = db
        .query_one(
            "SELECT count(DISTINCT data->>'minute') FROM media.live_events WHERE session_id = $1 AND kind = 'minute_billed'",
            &[&uuid::Uuid::parse_str(&id).unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, distinct);
    assert!(n <= minutes);
    assert_eq!(v["credits_captured"].as_i64().unwrap(), minutes * CHAT);
    assert_eq!(captured_in_pricing(&p, &id).await, minutes * CHAT);
    assert_eq!(p.balance(&user).await, (200 - minutes * CHAT, 0));
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn a_hundred_sessions_at_once_keep_the_ledger_whole() {
    let p = spawn(Options {
        media: live_config(1),
        ..Options::default()
    })
    .await;
    let mut pairs = Vec::new();
    for i in 0..100 {
        let user = p.user();
        // Some users can afford less than the others.
        let funds = if i % 4 == 0 { 7 * CHAT } else { 60 };
        p.fund(&user, funds).await;
        let reader = reader(&p, &format!("Reader {i}")).await;
        pairs.push((user, reader, funds));
    }
    // Started ten at a time (as users would arrive), then all running at once.
    let ids: Vec<String> = futures_util::stream::iter(pairs.iter())
        .map(|(u, r, _)| started(&p, u, r, "chat"))
        .buffered(10)
        .collect()
        .await;
    // Let every session run a few minutes (heartbeats keep them alive).
    let wait = |id: String, u: crate::support::User| {
        let p = &p;
        async move {
            let mut ev = follow(p, &u, &id).await;
            ev.until(Duration::from_secs(60), |k, d| {
                k == "ended" || (k == "minute_billed" && d["minute"] == 4)
            })
            .await;
            post(p, &u, &id, "heartbeat").await;
            post(p, &u, &id, "end").await;
            settled(p, &u, &id).await
        }
    };
    let done = futures_util::future::join_all(
        ids.iter()
            .zip(pairs.iter())
            .map(|(id, (u, _, _))| wait(id.clone(), u.clone())),
    )
    .await;
    for ((v, (u, _, funds)), id) in done.iter().zip(pairs.iter()).zip(ids.iter()) {
        let minutes = v["billed_minutes"].as_i64().unwrap();
        assert!(minutes >= 4, "{v}");
        assert_eq!(v["credits_captured"].as_i64().unwrap(), minutes * CHAT);
        assert_eq!(captured_in_pricing(&p, id).await, minutes * CHAT);
        assert_eq!(p.balance(u).await, (funds - minutes * CHAT, 0), "{v}");
    }
    p.ledger_is_balanced().await;
}
