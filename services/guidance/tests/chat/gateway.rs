//! Answers streamed end to end through the gateway, as the web app gets them.

use crate::fake_openai::{self, Behaviour};
use crate::helpers::{parse_sse, spawn, Options, Platform, User};
use common::{Principal, Role, UserId};
use serde_json::{json, Value};
use std::time::Duration;

/// Registers through the gateway; returns the user and their access token.
async fn register(p: &Platform) -> (User, String) {
    let gw = p.gateway.as_ref().unwrap();
    let r = p
        .http
        .post(gw.url("/api/v1/auth/register"))
        .json(&json!({
            "email": format!("seeker-{}@example.com", uuid::Uuid::new_v4().simple()),
            "password": "a quiet lotus 108",
            "display_name": "Seeker"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let id: UserId = serde_json::from_value(body["user"]["id"].clone()).unwrap();
    let user = User {
        id,
        principal: Principal {
            user_id: id,
            roles: vec![Role::User],
        },
    };
    (user, body["access_token"].as_str().unwrap().to_owned())
}

async fn post(p: &Platform, token: &str, path: &str, body: Value) -> reqwest::Response {
    p.http
        .post(p.gateway.as_ref().unwrap().url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A user with a chart and credits, and a conversation, all through the gateway.
async fn seeker(p: &Platform, credits: i64) -> (User, String, String) {
    let (u, token) = register(p).await;
    p.fund(&u, credits).await;
    // Registration also brings the welcome grant (20 in these tests).
    assert!(
        testkit::wait_until(Duration::from_secs(20), || async {
            p.balance(&u).await == credits + 20
        })
        .await,
        "the welcome grant did not arrive"
    );
    let r = post(
        p,
        &token,
        "/api/v1/profiles",
        json!({"name": "Me", "birth": {"date": "1992-02-14", "time": "04:45", "place_id": 1264527}}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = post(p, &token, "/api/v1/guidance/conversations", json!({})).await;
    assert_eq!(r.status(), 201);
    let c: Value = r.json().await.unwrap();
    (u, token, c["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn an_answer_streams_through_the_gateway_and_is_charged_when_done() {
    let p = spawn(Options {
        gateway: true,
        ..Options::default()
    })
    .await;
    let (u, token, cid) = seeker(&p, 60).await;
    let before = p.balance(&u).await;
    let resp = p
        .http
        .post(
            p.gateway
                .as_ref()
                .unwrap()
                .url(&format!("/api/v1/guidance/conversations/{cid}/messages")),
        )
        .bearer_auth(&token)
        .header("Accept", "text/event-stream")
        .json(&json!({"content": "What does my chart say about my marriage?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let text = resp.text().await.unwrap();
    let events = parse_sse(&text);
    let (last, deltas) = events.split_last().expect("events");
    assert!(!deltas.is_empty(), "{text}");
    assert!(deltas
        .iter()
        .all(|(e, d)| e == "delta" && d["text"].is_string()));
    assert_eq!(last.0, "done", "{text}");
    let done = &last.1;
    assert!(done.get("text").is_none(), "done carries no text");
    let charged = done["credits_charged"].as_i64().unwrap();
    assert!(charged > 0);
    assert!(done["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(!done["sources"].as_array().unwrap().is_empty());
    assert!(!done["chart_facts"].as_array().unwrap().is_empty());
    assert_eq!(p.balance(&u).await, before - charged);
    assert_eq!(p.active_holds(&u).await, 0);
    // What streamed is what was stored.
    let streamed: String = deltas
        .iter()
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    let r = p
        .http
        .get(
            p.gateway
                .as_ref()
                .unwrap()
                .url(&format!("/api/v1/guidance/conversations/{cid}")),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let detail: Value = r.json().await.unwrap();
    assert_eq!(detail["messages"][1]["content"], json!(streamed));
    assert_eq!(detail["messages"][1]["message_id"], Value::Null);
    assert_eq!(detail["messages"][1]["id"], done["message_id"]);
}

#[tokio::test]
async fn the_gateway_passes_each_event_on_as_it_is_written() {
    // The provider writes one sentence and then nothing: the client can only
    // see it if no hop buffers the stream.
    let fake = fake_openai::start(Behaviour::StallsAfterASentence);
    let p = spawn(Options {
        gateway: true,
        ..Options::openai_at(&fake.base_url)
    })
    .await;
    let (u, token, cid) = seeker(&p, 60).await;
    let resp = p
        .http
        .post(
            p.gateway
                .as_ref()
                .unwrap()
                .url(&format!("/api/v1/guidance/conversations/{cid}/messages")),
        )
        .bearer_auth(&token)
        .header("Accept", "text/event-stream")
        .json(&json!({"content": "Tell me about my career"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = Box::pin(resp.bytes_stream());
    let first = crate::helpers::first_event(&mut body).await;
    assert!(first.starts_with("event: delta"), "{first}");
    assert!(first.contains("Namaste"), "{first}");
    // Leaving through the gateway releases the hold too.
    drop(body);
    assert!(
        testkit::wait_until(Duration::from_secs(30), || async {
            p.active_holds(&u).await == 0
        })
        .await,
        "the hold was not released"
    );
    assert_eq!(p.balance(&u).await, 80);
}
