//! Calls: Agora tokens for the two participants, presence from the
//! Notification Center webhook.

use crate::helpers::*;
use crate::support::{spawn, Options};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

async fn notify(
    p: &crate::support::Platform,
    body: &Value,
    signature: Option<String>,
) -> reqwest::Response {
    let raw = serde_json::to_vec(body).unwrap();
    let sig = signature.unwrap_or_else(|| sign(&raw));
    p.http
        .post(p.media.url("/api/v1/live/agora/events"))
        .header("Agora-Signature-V2", sig)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap()
}

fn notice(id: &str, event: i64, channel: &str, uid: i64, seq: i64) -> Value {
    json!({
        "noticeId": id, "productId": 1, "eventType": event, "notifyMs": 1_700_000_000_000i64,
        "payload": {"channelName": channel, "uid": uid, "clientSeq": seq, "platform": 7, "ts": 1_700_000_000}
    })
}

#[tokio::test]
async fn tokens_and_presence_from_agora_drive_a_video_call() {
    let p = spawn(Options {
        media: live_config(1),
        ..Options::default()
    })
    .await;
    let user = p.user();
    let other = p.user();
    let reader = reader(&p, "Guru Hari").await;
    p.fund(&user, 200).await;
    let s = request(&p, &user, &reader, "video").await;
    assert_eq!(s["price_per_minute"], 8);
    let id = s["id"].as_str().unwrap().to_owned();
    // No token before the reader accepts.
    assert_eq!(tok(&p, &user, &id).await.status(), 409);
    assert_eq!(post(&p, &reader, &id, "accept").await.status(), 200);
    assert_eq!(tok(&p, &other, &id).await.status(), 404);
    let ut: Value = tok(&p, &user, &id).await.json().await.unwrap();
    let rt: Value = tok(&p, &reader, &id).await.json().await.unwrap();
    assert_eq!(ut["app_id"], APP_ID);
    assert_eq!(ut["channel"], rt["channel"]);
    assert_ne!(ut["uid"], rt["uid"]);
    assert!(ut["token"].as_str().unwrap().starts_with("007"));
    assert_ne!(ut["token"], rt["token"]);
    let channel = ut["channel"].as_str().unwrap().to_owned();
    let (uu, ru) = (ut["uid"].as_i64().unwrap(), rt["uid"].as_i64().unwrap());
    let mut ev = follow(&p, &user, &id).await;
    // A forged or unsigned notice is refused and changes nothing.
    let join_user = notice("n-1", 103, &channel, uu, 1);
    let r = notify(&p, &join_user, Some("00".repeat(32))).await;
    assert_eq!(r.status(), 401);
    let r = p
        .http
        .post(p.media.url("/api/v1/live/agora/events"))
        .json(&join_user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(get_session(&p, &user, &id).await["user_joined"], false);
    // Both join by Agora's notices: billing starts.
    let r: Value = notify(&p, &join_user, None).await.json().await.unwrap();
    assert_eq!(r, json!({"duplicate": false, "applied": true}));
    let r: Value = notify(&p, &notice("n-2", 103, &channel, ru, 1), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["applied"], true);
    ev.until(Duration::from_secs(10), |k, _| k == "started")
        .await;
    // The same notice again changes nothing.
    let before = count_non_billing(&p, &id).await;
    let r: Value = notify(&p, &join_user, None).await.json().await.unwrap();
    assert_eq!(r, json!({"duplicate": true, "applied": false}));
    // An older notice arriving late (lower clientSeq) is ignored.
    let r: Value = notify(&p, &notice("n-0", 104, &channel, uu, 0), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["applied"], false);
    let v = get_session(&p, &user, &id).await;
    assert_eq!(v["status"], "active");
    // Neither added an event (billing events aside).
    assert_eq!(count_non_billing(&p, &id).await, before);
    ev.until(Duration::from_secs(20), |k, d| {
        k == "minute_billed" && d["minute"] == 2
    })
    .await;
    assert_eq!(post(&p, &user, &id, "end").await.status(), 200);
    let (_, ended) = ev.until(Duration::from_secs(20), |k, _| k == "ended").await;
    let minutes = ended["minutes"].as_i64().unwrap();
    assert!(minutes >= 2);
    settled(&p, &user, &id).await;
    assert_eq!(p.balance(&user).await, (200 - minutes * 8, 0));
    // Ended: no more tokens.
    assert_eq!(tok(&p, &user, &id).await.status(), 409);
    p.ledger_is_balanced().await;
}

async fn tok(
    p: &crate::support::Platform,
    who: &crate::support::User,
    id: &str,
) -> reqwest::Response {
    p.send(
        Method::GET,
        &format!("/api/v1/live/sessions/{id}/token"),
        who,
        None,
    )
    .await
}

async fn count_non_billing(p: &crate::support::Platform, id: &str) -> i64 {
    p.db()
        .await
        .query_one(
            "SELECT count(*) FROM media.live_events WHERE session_id = $1 AND kind NOT IN ('minute_billed', 'credit_held', 'low_credit')",
            &[&uuid::Uuid::parse_str(id).unwrap()],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_webhook_says_when_it_is_not_configured() {
    let p = spawn(Options::default()).await;
    let r = p
        .http
        .post(p.media.url("/api/v1/live/agora/events"))
        .header("Agora-Signature-V2", "00")
        .json(&json!({"noticeId": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "provider_not_configured");
}
