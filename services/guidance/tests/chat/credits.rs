//! Credits: held before generation, captured only for a delivered answer,
//! released when the provider fails or the client leaves first.

use crate::fake_openai::{self, Behaviour};
use crate::helpers::{spawn, Options};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test]
async fn without_enough_credits_it_is_402_and_nothing_is_generated() {
    let fake = fake_openai::start(Behaviour::StallsAfterASentence);
    // The provider counts its calls: none may happen.
    let p = spawn(Options::openai_at(&fake.base_url)).await;
    let u = p.user();
    p.profile(&u, "1985-11-20", "21:15").await;
    let c = p.conversation(&u, json!({})).await;
    let cid = c["id"].as_str().unwrap();
    let r = p
        .ask(&u, cid, "What does my chart say about my career?")
        .await;
    assert_eq!(r.status(), 402);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "insufficient_credits", "{e}");
    assert_eq!(fake.hits.load(Ordering::SeqCst), 0, "a model was asked");
    assert_eq!(p.messages(cid).await, vec![]);
    assert_eq!(p.active_holds(&u).await, 0);
    assert_eq!(p.balance(&u).await, 0);
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn a_failing_provider_releases_the_hold_and_charges_nothing() {
    let fake = fake_openai::start(Behaviour::Fails);
    let p = spawn(Options::openai_at(&fake.base_url)).await;
    let u = p.user();
    p.fund(&u, 30).await;
    p.profile(&u, "1985-11-20", "21:15").await;
    let c = p.conversation(&u, json!({})).await;
    let cid = c["id"].as_str().unwrap();
    let r = p
        .ask(&u, cid, "What does my chart say about my career?")
        .await;
    assert_eq!(r.status(), 503);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "service_unavailable", "{e}");
    assert!(fake.hits.load(Ordering::SeqCst) >= 1);
    // Released, not captured; the failed answer is on record uncharged.
    assert_eq!(p.active_holds(&u).await, 0);
    assert_eq!(p.balance(&u).await, 30);
    let m = p.messages(cid).await;
    assert_eq!(m.last().unwrap(), &("assistant".into(), "failed".into(), 0));
    assert_eq!(p.released_holds(&u).await, 1);
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn a_dead_openai_endpoint_falls_back_to_the_local_model() {
    // A port nothing listens on.
    let dead = format!("http://127.0.0.1:{}/v1", testkit::free_port());
    let p = spawn(Options {
        providers: "openai,local",
        openai_base: Some(dead),
        ..Options::default()
    })
    .await;
    let u = p.user();
    p.fund(&u, 30).await;
    p.profile(&u, "1985-11-20", "21:15").await;
    let c = p.conversation(&u, json!({})).await;
    let a = p
        .answer(
            &u,
            c["id"].as_str().unwrap(),
            "What does my chart say about my career?",
        )
        .await;
    assert_eq!(a["status"], "complete");
    assert_eq!(a["provider"], "local");
    assert!(a["credits_charged"].as_i64().unwrap() > 0);
    assert_eq!(
        p.balance(&u).await,
        30 - a["credits_charged"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_pays_nothing() {
    let fake = fake_openai::start(Behaviour::StallsAfterASentence);
    let p = spawn(Options::openai_at(&fake.base_url)).await;
    let u = p.user();
    p.fund(&u, 30).await;
    p.profile(&u, "1985-11-20", "21:15").await;
    let c = p.conversation(&u, json!({})).await;
    let cid = c["id"].as_str().unwrap();
    let resp = p
        .http
        .post(
            p.guidance
                .url(&format!("/api/v1/guidance/conversations/{cid}/messages")),
        )
        .header("X-Internal-Token", p.token("guidance", &u))
        .header("Accept", "text/event-stream")
        .json(&json!({"content": "Tell me about my career"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // The first sentence arrives while the credits are still held...
    let mut body = Box::pin(resp.bytes_stream());
    let first = crate::helpers::first_event(&mut body).await;
    assert!(first.starts_with("event: delta"), "{first}");
    assert!(first.contains("Namaste"), "{first}");
    assert_eq!(p.active_holds(&u).await, 1);
    // ...then the client goes away before `done`.
    drop(body);
    assert!(
        testkit::wait_until(Duration::from_secs(30), || async {
            p.active_holds(&u).await == 0
        })
        .await,
        "the hold was not released"
    );
    assert_eq!(p.released_holds(&u).await, 1);
    assert_eq!(p.balance(&u).await, 30);
    assert!(
        testkit::wait_until(Duration::from_secs(10), || async {
            p.messages(cid).await.last().map(|m| m.1.clone()) == Some("cancelled".into())
        })
        .await,
        "{:?}",
        p.messages(cid).await
    );
    p.ledger_is_balanced().await;
}
