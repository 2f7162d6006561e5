//! A chat session through the gateway, as the web app drives it, and
//! Agora's notices reaching media on the gateway's public route.

use crate::helpers::*;
use crate::support::{spawn, Options, Platform, User};
use common::{Principal, Role, UserId};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn register(p: &Platform, name: &str) -> (User, String) {
    let gw = p.gateway.as_ref().unwrap();
    let r = p
        .http
        .post(gw.url("/api/v1/auth/register"))
        .json(&json!({
            "email": format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple()),
            "password": "a quiet lotus 108",
            "display_name": name
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

async fn call(
    p: &Platform,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = p
        .http
        .request(method, p.gateway.as_ref().unwrap().url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn a_chat_session_through_the_gateway() {
    let p = spawn(Options {
        media: live_config(1),
        gateway: true,
        ..Options::default()
    })
    .await;
    let (user, ut) = register(&p, "seeker").await;
    let (reader, rt) = register(&p, "guide").await;
    p.fund(&user, 60).await;
    // The admin grant (as the admin console sends it, signed by the gateway).
    let admin = p.admin();
    let r = p
        .send(
            Method::PUT,
            &format!("/api/v1/admin/media/readers/{}", reader.id),
            &admin,
            Some(&json!({"display_name": "Guide"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = call(
        &p,
        &rt,
        Method::PUT,
        "/api/v1/live/readers/me/status",
        Some(json!({"status": "online"})),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = call(&p, &ut, Method::GET, "/api/v1/live/readers", None).await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["readers"][0]["display_name"], "Guide");
    let r = call(
        &p,
        &ut,
        Method::POST,
        "/api/v1/live/sessions",
        Some(json!({"reader_id": reader.id, "kind": "chat"})),
    )
    .await;
    assert_eq!(r.status(), 201);
    let s: Value = r.json().await.unwrap();
    let id = s["id"].as_str().unwrap().to_owned();
    // The user's event stream, through the gateway.
    let mut stream = p
        .http
        .get(
            p.gateway
                .as_ref()
                .unwrap()
                .url(&format!("/api/v1/live/sessions/{id}/events")),
        )
        .bearer_auth(&ut)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    for who in [&rt, &ut] {
        if who == &rt {
            let r = call(
                &p,
                who,
                Method::POST,
                &format!("/api/v1/live/sessions/{id}/accept"),
                None,
            )
            .await;
            assert_eq!(r.status(), 200);
        }
        let r = call(
            &p,
            who,
            Method::POST,
            &format!("/api/v1/live/sessions/{id}/heartbeat"),
            None,
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    let r = call(
        &p,
        &rt,
        Method::POST,
        &format!("/api/v1/live/sessions/{id}/messages"),
        Some(json!({"body": "Namaste. Let us look at your tenth house."})),
    )
    .await;
    assert_eq!(r.status(), 201);
    // accepted, joined, joined, started, minute 1 and the reader's message
    // arrive as they happen.
    let mut text = String::new();
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(c) = stream.chunk().await.unwrap() {
            text.push_str(std::str::from_utf8(&c).unwrap());
            if text.contains("event: message") && text.contains("event: minute_billed") {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(got, Ok(true)), "{text}");
    assert!(text.contains("tenth house"));
    let r = call(
        &p,
        &ut,
        Method::POST,
        &format!("/api/v1/live/sessions/{id}/end"),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = settled(&p, &user, &id).await;
    let minutes = v["billed_minutes"].as_i64().unwrap();
    assert!(minutes >= 1);
    assert_eq!(p.balance(&user).await, (60 - 3 * minutes, 0));
    // Another user gets 404 through the gateway too.
    let (_, ot) = register(&p, "other").await;
    let r = call(
        &p,
        &ot,
        Method::GET,
        &format!("/api/v1/live/sessions/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status(), 404);
    // Agora's notices need no user: the gateway's public route reaches media,
    // which checks the signature itself.
    let body = serde_json::to_vec(&json!({
        "noticeId": "gw-1", "productId": 1, "eventType": 101, "notifyMs": 1,
        "payload": {"channelName": "jf-none", "ts": 1}
    }))
    .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let sig = hex::encode(mac.finalize().into_bytes());
    let url = p.gateway.as_ref().unwrap().url("/api/v1/live/agora/events");
    let r = p
        .http
        .post(&url)
        .header("Agora-Signature-V2", sig)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["duplicate"], false);
    let r = p
        .http
        .post(&url)
        .header("Agora-Signature-V2", "00")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    p.ledger_is_balanced().await;
}

/// A PNG of `w`x`h` (ffmpeg), padded with zeros to `len` bytes.
fn png(w: u32, h: u32, len: usize) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("media-gw-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("i.png");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color=c=orange:s={w}x{h},format=rgb24"))
        .args(["-frames:v", "1"])
        .arg(&f)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not make a PNG");
    let mut bytes = std::fs::read(&f).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes.resize(len.max(bytes.len()), 0);
    bytes
}

#[tokio::test]
async fn admins_upload_avatar_images_larger_than_other_bodies_through_the_gateway() {
    let p = spawn(Options {
        gateway: true,
        ..Options::default()
    })
    .await;
    let gw = p.gateway.as_ref().unwrap();
    // An admin account: registered, promoted, signed in again.
    let email = format!("admin-{}@example.com", uuid::Uuid::new_v4().simple());
    let r = p
        .http
        .post(gw.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": "a quiet lotus 108", "display_name": "Admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let user_token = body["access_token"].as_str().unwrap().to_owned();
    let id = uuid::Uuid::parse_str(body["user"]["id"].as_str().unwrap()).unwrap();
    p.db()
        .await
        .execute(
            "UPDATE gateway.users SET roles = ARRAY['user', 'admin'] WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let r = p
        .http
        .post(gw.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": "a quiet lotus 108"}))
        .send()
        .await
        .unwrap();
    let admin: Value = r.json().await.unwrap();
    let admin = admin["access_token"].as_str().unwrap().to_owned();
    let upload = |token: &str, bytes: Vec<u8>| {
        p.http
            .post(gw.url("/api/v1/admin/media/avatar-images"))
            .bearer_auth(token)
            .header("content-type", "image/png")
            .body(bytes)
            .send()
    };
    // 300 KB: above the gateway's usual 256 KiB, within the images' 5 MiB.
    let r = upload(&admin, png(64, 64, 300_000)).await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // Not an admin: refused before the body is read.
    let r = upload(&user_token, png(64, 64, 300_000)).await.unwrap();
    assert_eq!(r.status(), 403);
    // Beyond the route's limit: 413 from the gateway.
    let r = upload(&admin, vec![0u8; 6 * 1024 * 1024]).await.unwrap();
    assert_eq!(r.status(), 413);
    // Every other route keeps the usual limit.
    let r = p
        .http
        .post(gw.url("/api/v1/live/sessions"))
        .bearer_auth(&user_token)
        .header("content-type", "application/json")
        .body(vec![b' '; 300_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}
