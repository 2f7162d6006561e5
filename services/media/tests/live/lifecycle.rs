//! Requests, answers, time-outs, refusals and ratings.

use crate::helpers::*;
use crate::support::{spawn, Options};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const CHAT: i64 = 3;

#[tokio::test]
async fn decline_and_timeout_release_everything() {
    let mut cfg = live_config(1);
    cfg.push(("live.accept_timeout_secs", "2".into()));
    let p = spawn(Options {
        media: cfg,
        ..Options::default()
    })
    .await;
    let user = p.user();
    let reader = reader(&p, "Guru Devi").await;
    p.fund(&user, 50).await;
    // Declined.
    let s = request(&p, &user, &reader, "chat").await;
    let id = s["id"].as_str().unwrap().to_owned();
    assert_eq!(p.balance(&user).await, (50 - 5 * CHAT, 5 * CHAT));
    // Only the reader answers.
    assert_eq!(post(&p, &user, &id, "accept").await.status(), 403);
    let mut ev = follow(&p, &user, &id).await;
    let r = post(&p, &reader, &id, "decline").await;
    assert_eq!(r.status(), 200);
    let (_, ended) = ev.until(Duration::from_secs(20), |k, _| k == "ended").await;
    assert_eq!(ended["reason"], "declined");
    assert_eq!(ended["minutes"], 0);
    assert_eq!(ended["credits"], 0);
    assert_eq!(p.balance(&user).await, (50, 0));
    // A declined session cannot be accepted.
    assert_eq!(post(&p, &reader, &id, "accept").await.status(), 409);
    // Timed out: nobody answers within 2 s.
    let s = request(&p, &user, &reader, "chat").await;
    let id = s["id"].as_str().unwrap().to_owned();
    let mut ev = follow(&p, &user, &id).await;
    let (_, ended) = ev.until(Duration::from_secs(20), |k, _| k == "ended").await;
    assert_eq!(ended["reason"], "timed_out");
    settled(&p, &user, &id).await;
    assert_eq!(p.balance(&user).await, (50, 0));
    let (active, captured, released) = p.holds(&user).await;
    assert_eq!((active, captured, released), (0, 0, 2));
    // The user may cancel before the answer.
    let s = request(&p, &user, &reader, "chat").await;
    let id = s["id"].as_str().unwrap().to_owned();
    let v: Value = post(&p, &user, &id, "end").await.json().await.unwrap();
    assert_eq!(v["end_reason"], "cancelled");
    settled(&p, &user, &id).await;
    assert_eq!(p.balance(&user).await, (50, 0));
    // Ending again changes nothing.
    let v: Value = post(&p, &user, &id, "end").await.json().await.unwrap();
    assert_eq!(v["end_reason"], "cancelled");
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn refusals_change_nothing() {
    let p = spawn(Options {
        media: vec![("live.tick_interval_ms", "100".into())],
        ..Options::default()
    })
    .await;
    let user = p.user();
    let other = p.user();
    let reader = reader(&p, "Guru Esha").await;
    // Not enough for the first block of five minutes: 402, no session.
    p.fund(&user, 2 * CHAT).await;
    let r = p
        .send(
            Method::POST,
            "/api/v1/live/sessions",
            &user,
            Some(&json!({"reader_id": reader.id, "kind": "chat"})),
        )
        .await;
    assert_eq!(r.status(), 402);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_credits");
    let list: Value = p
        .send(Method::GET, "/api/v1/live/sessions", &user, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 0);
    assert_eq!(p.balance(&user).await, (2 * CHAT, 0));
    p.fund(&user, 100).await;
    // Agora is not configured here: calls are unavailable, and say so.
    let r = p
        .send(
            Method::POST,
            "/api/v1/live/sessions",
            &user,
            Some(&json!({"reader_id": reader.id, "kind": "video"})),
        )
        .await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "provider_not_configured");
    // Bad input.
    for (body, status) in [
        (json!({"reader_id": reader.id, "kind": "telepathy"}), 422),
        (json!({"reader_id": user.id, "kind": "chat"}), 422),
        (
            json!({"reader_id": uuid::Uuid::new_v4(), "kind": "chat"}),
            404,
        ),
        (json!({"reader_id": reader.id}), 400),
        (json!({"reader_id": reader.id, "kind": "chat", "x": 1}), 400),
    ] {
        let r = p
            .send(Method::POST, "/api/v1/live/sessions", &user, Some(&body))
            .await;
        assert_eq!(r.status(), status, "{body}: {}", r.text().await.unwrap());
    }
    // An offline reader cannot be requested.
    let r = p
        .send(
            Method::PUT,
            "/api/v1/live/readers/me/status",
            &reader,
            Some(&json!({"status": "offline"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = p
        .send(
            Method::POST,
            "/api/v1/live/sessions",
            &user,
            Some(&json!({"reader_id": reader.id, "kind": "chat"})),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(p.balance(&user).await, (100 + 2 * CHAT, 0));
    // Only participants see a session; one open session per user.
    p.send(
        Method::PUT,
        "/api/v1/live/readers/me/status",
        &reader,
        Some(&json!({"status": "online"})),
    )
    .await;
    let s = request(&p, &user, &reader, "chat").await;
    let id = s["id"].as_str().unwrap();
    for path in ["", "/events", "/messages"] {
        let r = p
            .send(
                Method::GET,
                &format!("/api/v1/live/sessions/{id}{path}"),
                &other,
                None,
            )
            .await;
        assert_eq!(r.status(), 404, "{path}");
    }
    assert_eq!(post(&p, &other, id, "end").await.status(), 404);
    assert_eq!(post(&p, &other, id, "heartbeat").await.status(), 404);
    let r = p
        .send(
            Method::POST,
            "/api/v1/live/sessions",
            &user,
            Some(&json!({"reader_id": reader.id, "kind": "chat"})),
        )
        .await;
    assert_eq!(r.status(), 409);
    // Not a reader: 403 for the reader's own endpoints.
    let r = p
        .send(Method::GET, "/api/v1/live/readers/me", &user, None)
        .await;
    assert_eq!(r.status(), 403);
    // Users list readers; only admins grant the role.
    let list: Value = p
        .send(Method::GET, "/api/v1/live/readers", &other, None)
        .await
        .json()
        .await
        .unwrap();
    let readers = list["readers"].as_array().unwrap();
    assert_eq!(readers.len(), 1);
    assert_eq!(readers[0]["display_name"], "Guru Esha");
    assert_eq!(readers[0]["service_codes"]["chat"], "live_chat");
    let r = p
        .send(
            Method::PUT,
            &format!("/api/v1/admin/media/readers/{}", other.id),
            &user,
            Some(&json!({"display_name": "Me"})),
        )
        .await;
    assert_eq!(r.status(), 403);
    let admin = p.admin();
    let r = p
        .send(
            Method::PUT,
            &format!("/api/v1/admin/media/readers/{}", other.id),
            &admin,
            Some(&json!({"display_name": "X", "languages": ["xx"]})),
        )
        .await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "languages");
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn silence_ends_a_session_and_the_user_rates_it() {
    let mut cfg = live_config(1);
    cfg.push(("live.heartbeat_timeout_secs", "3".into()));
    let p = spawn(Options {
        media: cfg,
        ..Options::default()
    })
    .await;
    let user = p.user();
    let reader = reader(&p, "Guru Gita").await;
    p.fund(&user, 100).await;
    let id = started(&p, &user, &reader, "chat").await;
    let mut ev = follow(&p, &user, &id).await;
    // Nobody sends heartbeats any more.
    let (_, ended) = ev.until(Duration::from_secs(30), |k, _| k == "ended").await;
    assert_eq!(ended["reason"], "no_heartbeat");
    let minutes = ended["minutes"].as_i64().unwrap();
    // Billed up to the last heartbeat, not to the moment silence was noticed.
    assert!((1..=2).contains(&minutes), "{ended}");
    let v = settled(&p, &user, &id).await;
    assert_eq!(p.balance(&user).await, (100 - minutes * CHAT, 0));
    assert_eq!(v["credits_captured"].as_i64().unwrap(), minutes * CHAT);
    // Rating: the user, once, 1 to 5.
    assert_eq!(
        rate(&p, &id, &user, json!({"rating": 6})).await.status(),
        422
    );
    assert_eq!(
        rate(&p, &id, &reader, json!({"rating": 5})).await.status(),
        403
    );
    let r = rate(
        &p,
        &id,
        &user,
        json!({"rating": 4, "review": "Calm and clear."}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rating"], 4);
    assert_eq!(
        rate(&p, &id, &user, json!({"rating": 5})).await.status(),
        409
    );
    let list: Value = p
        .send(Method::GET, "/api/v1/live/readers", &user, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["readers"][0]["rating"], 4.0);
    assert_eq!(list["readers"][0]["ratings"], 1);
    // The reader sees it in their list.
    let mine: Value = p
        .send(
            Method::GET,
            "/api/v1/live/sessions?role=reader&status=ended",
            &reader,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["sessions"][0]["id"], id.as_str());
    assert_eq!(mine["sessions"][0]["you_are"], "reader");
    p.ledger_is_balanced().await;
}

async fn rate(
    p: &crate::support::Platform,
    id: &str,
    who: &crate::support::User,
    body: Value,
) -> reqwest::Response {
    p.send(
        Method::POST,
        &format!("/api/v1/live/sessions/{id}/rating"),
        who,
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn media_is_discoverable_and_answers_the_monitor() {
    let p = spawn(Options::default()).await;
    let nc = async_nats::connect(&p.nats_url).await.unwrap();
    let reply = nc.request("$SRV.INFO.media", "".into()).await.unwrap();
    let info: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(info["name"], "media");
    let addr = info["metadata"]["http_address"].as_str().unwrap();
    assert!(addr.ends_with(&format!(":{}", p.media.port)), "{info}");
    assert!(info["metadata"]["db_pool_max"].as_str().is_some(), "{info}");
    // The outbox backlog, for the monitor only.
    let as_service = |name: &str| {
        platform::nats::Bus::new(
            nc.clone(),
            platform::auth::InternalAuth::development(name).unwrap(),
            "",
            Duration::from_secs(5),
        )
    };
    let ctx = platform::nats::CallContext::default();
    let stats: platform::outbox::OutboxStats = as_service("monitor")
        .request("media.outbox.stats", None, &ctx, &json!({}))
        .await
        .unwrap();
    assert_eq!(stats.pending, 0);
    assert_eq!(stats.failing, 0);
    assert!(stats.oldest_pending_age_secs.is_none());
    let refused = as_service("charts")
        .request::<_, Value>("media.outbox.stats", None, &ctx, &json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code,
        common::ErrorCode::Forbidden,
        "{}",
        refused.message
    );
    // Schema drift against what `migrate` recorded: none, then exactly what
    // was done behind its back.
    let monitor = as_service("monitor");
    let check = || async {
        monitor
            .request::<_, platform::migrate::SchemaCheck>(
                "media.schema.check",
                None,
                &ctx,
                &json!({}),
            )
            .await
            .unwrap()
    };
    let c = check().await;
    assert!(c.recorded_at.is_some());
    assert_eq!(c.differences, vec![], "{c:?}");
    let db = p.db().await;
    db.batch_execute(
        "DROP INDEX media.live_sessions_user_idx;
         ALTER TABLE media.readers ADD COLUMN nickname text;",
    )
    .await
    .unwrap();
    let mut d = check().await.differences;
    d.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(
        (d[0].kind.as_str(), d[0].name.as_str(), d[0].change.as_str()),
        ("index", "live_sessions_user_idx", "missing")
    );
    assert!(
        d[0].expected
            .as_deref()
            .unwrap()
            .contains("(user_id, id DESC)"),
        "{d:?}"
    );
    assert_eq!(
        (d[1].kind.as_str(), d[1].name.as_str(), d[1].change.as_str()),
        ("column", "readers.nickname", "extra")
    );
    assert_eq!(d[1].actual.as_deref(), Some("text"));
    // Repairs: only a missing index, constraint or trigger, from the record.
    let repair = |body: Value| {
        let monitor = &monitor;
        let ctx = &ctx;
        async move {
            monitor
                .request::<_, Value>("media.schema.repair", None, ctx, &body)
                .await
        }
    };
    let dry = repair(json!({"kind": "index", "name": "live_sessions_user_idx", "dry_run": true}))
        .await
        .unwrap();
    assert!(dry["statements"][0]
        .as_str()
        .unwrap()
        .starts_with("CREATE INDEX live_sessions_user_idx"));
    assert_eq!(
        check().await.differences.len(),
        2,
        "a dry run changes nothing"
    );
    let column = repair(json!({"kind": "column", "name": "readers.nickname"}))
        .await
        .unwrap_err();
    assert_eq!(column.code, common::ErrorCode::Conflict);
    repair(json!({"kind": "index", "name": "live_sessions_user_idx"}))
        .await
        .unwrap();
    db.batch_execute("ALTER TABLE media.readers DROP CONSTRAINT readers_status_check")
        .await
        .unwrap();
    let done = repair(json!({"kind": "constraint", "name": "readers.readers_status_check"}))
        .await
        .unwrap();
    assert!(
        done["statements"][0]
            .as_str()
            .unwrap()
            .ends_with("NOT VALID"),
        "{done}"
    );
    let left = check().await.differences;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].name, "readers.nickname");
}
