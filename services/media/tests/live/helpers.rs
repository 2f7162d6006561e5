//! Readers, sessions and their event streams.

use crate::support::{parse_sse, Platform, User};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

pub const APP_ID: &str = "970ca35de60c44645bbae8a215061b33";
pub const APP_CERT: &str = "5cfd2fd1755d40ecb72977518be15d3b";
pub const WEBHOOK_SECRET: &str = "test-agora-notification-secret-0123456789";

/// Media configured for fast tests: `period` seconds a minute.
pub fn live_config(period: u64) -> Vec<(&'static str, String)> {
    vec![
        ("live.billing_period_secs", period.to_string()),
        ("live.tick_interval_ms", "100".into()),
        ("agora.app_id", APP_ID.into()),
        ("agora.app_certificate", APP_CERT.into()),
        ("agora.webhook_secret", WEBHOOK_SECRET.into()),
    ]
}

/// A new reader, granted by an admin and online.
pub async fn reader(p: &Platform, name: &str) -> User {
    let admin = p.admin();
    let r = p.user();
    let res = p
        .send(
            Method::PUT,
            &format!("/api/v1/admin/media/readers/{}", r.id),
            &admin,
            Some(&json!({"display_name": name, "languages": ["en", "ta"], "specialties": ["career"]})),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = p
        .send(
            Method::PUT,
            "/api/v1/live/readers/me/status",
            &r,
            Some(&json!({"status": "online"})),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    r
}

/// Requests a session; returns the response body (asserting 201).
pub async fn request(p: &Platform, user: &User, reader: &User, kind: &str) -> Value {
    let res = p
        .send(
            Method::POST,
            "/api/v1/live/sessions",
            user,
            Some(&json!({"reader_id": reader.id, "kind": kind})),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

pub async fn post(p: &Platform, user: &User, session: &str, action: &str) -> reqwest::Response {
    p.send(
        Method::POST,
        &format!("/api/v1/live/sessions/{session}/{action}"),
        user,
        None,
    )
    .await
}

pub async fn get_session(p: &Platform, user: &User, session: &str) -> Value {
    let r = p
        .send(
            Method::GET,
            &format!("/api/v1/live/sessions/{session}"),
            user,
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Requested, accepted, both joined by heartbeat: billing has started.
pub async fn started(p: &Platform, user: &User, reader: &User, kind: &str) -> String {
    let s = request(p, user, reader, kind).await;
    let id = s["id"].as_str().unwrap().to_owned();
    assert_eq!(post(p, reader, &id, "accept").await.status(), 200);
    assert_eq!(post(p, user, &id, "heartbeat").await.status(), 200);
    let r = post(p, reader, &id, "heartbeat").await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "active", "{v}");
    id
}

/// A session's event stream, read as it comes.
pub struct Events {
    resp: reqwest::Response,
    buf: String,
    pub seen: Vec<(Option<String>, String, Value)>,
}

pub async fn follow(p: &Platform, user: &User, session: &str) -> Events {
    follow_after(p, user, session, None).await
}

pub async fn follow_after(p: &Platform, user: &User, session: &str, last: Option<&str>) -> Events {
    let mut r = p.request(
        "media",
        Method::GET,
        &format!("/api/v1/live/sessions/{session}/events"),
        user,
    );
    if let Some(l) = last {
        r = r.header("Last-Event-ID", l);
    }
    let resp = r.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    Events {
        resp,
        buf: String::new(),
        seen: Vec::new(),
    }
}

impl Events {
    /// Reads until an event satisfies `until` (returning it) or `within` passes.
    pub async fn until<F>(&mut self, within: Duration, mut until: F) -> (String, Value)
    where
        F: FnMut(&str, &Value) -> bool,
    {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Complete events in the buffer first.
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                for ev in parse_sse(&block) {
                    self.seen.push(ev.clone());
                    if until(&ev.1, &ev.2) {
                        return (ev.1, ev.2);
                    }
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .unwrap_or_else(|_| {
                    // The services' first warnings say why, when they know.
                    eprintln!(
                        "service warnings and errors:\n{}",
                        testkit::logs()
                            .lines()
                            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                            .take(5)
                            .collect::<Vec<_>>()
                            .join("\n")
                    );
                    panic!(
                        "no matching event within {within:?}; seen: {:?}",
                        self.kinds()
                    )
                })
                .unwrap();
            match chunk {
                Some(c) => self.buf.push_str(std::str::from_utf8(&c).unwrap()),
                None => panic!("the stream closed; seen: {:?}", self.kinds()),
            }
        }
    }

    pub fn kinds(&self) -> Vec<String> {
        self.seen.iter().map(|e| e.1.clone()).collect()
    }

    /// Minutes of the `minute_billed` events seen, in order.
    pub fn minutes(&self) -> Vec<i64> {
        self.seen
            .iter()
            .filter(|e| e.1 == "minute_billed")
            .map(|e| e.2["minute"].as_i64().unwrap())
            .collect()
    }

    /// Reads the rest of the stream (it closes after `ended`).
    pub async fn rest(mut self, within: Duration) -> Vec<(Option<String>, String, Value)> {
        let deadline = tokio::time::Instant::now() + within;
        let mut stream = self.resp.bytes_stream();
        while let Ok(Some(c)) = tokio::time::timeout_at(deadline, stream.next()).await {
            self.buf.push_str(std::str::from_utf8(&c.unwrap()).unwrap());
        }
        self.seen.extend(parse_sse(&self.buf));
        self.seen
    }
}

/// Media's record of a session's holds: (seq, minutes, amount, status, captured).
pub async fn holds(p: &Platform, session: &str) -> Vec<(i32, i32, i64, String, i64)> {
    let id = uuid::Uuid::parse_str(session).unwrap();
    p.db()
        .await
        .query(
            "SELECT seq, minutes, amount, status, captured FROM media.live_holds WHERE session_id = $1 ORDER BY seq",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

/// Credits pricing captured for a session (its holds' reference).
pub async fn captured_in_pricing(p: &Platform, session: &str) -> i64 {
    p.db()
        .await
        .query_one(
            "SELECT COALESCE(sum(captured), 0)::bigint FROM pricing.holds WHERE reference = $1",
            &[&format!("live:{session}")],
        )
        .await
        .unwrap()
        .get(0)
}

/// Waits for the session to be ended and settled; returns it.
pub async fn settled(p: &Platform, user: &User, session: &str) -> Value {
    let ok = testkit::wait_until(Duration::from_secs(30), || async {
        get_session(p, user, session).await["settled"] == true
    })
    .await;
    let v = get_session(p, user, session).await;
    assert!(ok, "not settled: {v}");
    v
}
