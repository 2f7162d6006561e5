//! Issue 8: login and sign-up throttles that cannot be raced, access-token
//! revocation shared by replicas, trusted proxies, rate limits on proxied
//! routes, clean-up, and no secrets in debug logs.

use crate::helpers::*;
use serde_json::json;
use std::time::{Duration, Instant};

async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app
        .http
        .get(format!(
            "http://127.0.0.1:{}/metrics",
            app.metrics_port.unwrap()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Issue 8.5: fifty concurrent wrong passwords for one account: at most
/// five are checked at all, and the pool keeps serving other requests.
#[tokio::test]
async fn concurrent_guesses_cannot_pass_the_lockout_and_do_not_starve_the_pool() {
    let app = spawn_with(Options {
        overrides: vec![
            ("database.max_connections", "2".into()),
            // The real cost, so a held connection would be held for a while.
            ("auth.argon2_memory_kib", "19456".into()),
            ("auth.argon2_iterations", "2".into()),
        ],
        ..Default::default()
    })
    .await;
    let reg = app.register("target@example.com").await;
    let access = reg["access_token"].as_str().unwrap().to_owned();
    let before = metric(&app, "jyotiflow_password_verifications_total").await;
    let guesses: Vec<_> = (0..50)
        .map(|i| {
            let http = app.http.clone();
            let url = app.url("/api/v1/auth/login");
            tokio::spawn(async move {
                http.post(url)
                    .json(&json!({"email": "target@example.com", "password": format!("wrong guess {i:02}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    // Meanwhile the signed-in user keeps working.
    let mut me = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let r = app.get_with_token("/api/v1/me", &access).await;
        me.push((r.status().as_u16(), t.elapsed()));
    }
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let checked = metric(&app, "jyotiflow_password_verifications_total").await - before;
    assert!(checked <= 5.0, "{checked} passwords were checked");
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count() as f64,
        checked
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count() as f64,
        50.0 - checked
    );
    for (status, took) in me {
        assert_eq!(status, 200);
        // Well inside the pool's wait timeout (1 s in these tests): nobody
        // waited for a connection held by a hashing login.
        assert!(took < Duration::from_millis(900), "/me took {took:?}");
    }
}

/// Issue 8.5: sign-ups and password changes are throttled too.
#[tokio::test]
async fn registration_and_password_changes_are_throttled() {
    let app = spawn_with(Options {
        overrides: vec![
            ("throttle.register_max_per_account", "2".into()),
            ("throttle.register_max_per_address", "4".into()),
            ("throttle.account_max_failures", "3".into()),
        ],
        ..Default::default()
    })
    .await;
    let body = |email: &str| json!({"email": email, "password": PASSWORD, "display_name": "T"});
    // Per email: the first succeeds, the second is taken, the third refused.
    assert_eq!(
        app.post_json("/api/v1/auth/register", &body("same@example.com"))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.post_json("/api/v1/auth/register", &body("same@example.com"))
            .await
            .status(),
        409
    );
    let r = app
        .post_json("/api/v1/auth/register", &body("same@example.com"))
        .await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // Per address: a fourth sign-up goes through, the fifth does not.
    assert_eq!(
        app.post_json("/api/v1/auth/register", &body("other1@example.com"))
            .await
            .status(),
        201
    );
    let r = app
        .post_json("/api/v1/auth/register", &body("other2@example.com"))
        .await;
    assert_eq!(error_code(r).await.0, 429);
    let users: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM gateway.users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 2, "refused sign-ups wrote nothing");

    // Guessing the current password on a stolen session: three guesses, then 429.
    let reg = app
        .login("same@example.com", PASSWORD)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let access = reg["access_token"].as_str().unwrap();
    for i in 0..3 {
        let r = app
            .http
            .post(app.url("/api/v1/me/password"))
            .bearer_auth(access)
            .json(&json!({"current_password": format!("guess number {i}"), "new_password": "a new lotus 2026"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = app
        .http
        .post(app.url("/api/v1/me/password"))
        .bearer_auth(access)
        .json(&json!({"current_password": PASSWORD, "new_password": "a new lotus 2026"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.0, 429, "even the right password waits");
}

/// Issue 8.8: logout and password change revoke access tokens at once, on
/// every gateway replica.
#[tokio::test]
async fn logout_and_password_change_revoke_access_tokens_on_every_replica() {
    let a = spawn_app().await;
    // A second replica on the same database and NATS.
    let b = spawn_with(Options {
        database_url: Some(a.database_url.clone()),
        nats_url: Some(a.nats_url.clone()),
        skip_migrate: true,
        ..Default::default()
    })
    .await;
    let reg = a.register("revoke@example.com").await;
    let access = reg["access_token"].as_str().unwrap().to_owned();
    let other = a
        .login("revoke@example.com", PASSWORD)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let other_access = other["access_token"].as_str().unwrap().to_owned();
    for app in [&a, &b] {
        assert_eq!(
            app.get_with_token("/api/v1/me", &access).await.status(),
            200
        );
    }
    // Logout on replica A with the session's access token.
    let r = a
        .http
        .post(a.url("/api/v1/auth/logout"))
        .bearer_auth(&access)
        .json(&json!({"refresh_token": reg["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, e) = error_code(a.get_with_token("/api/v1/me", &access).await).await;
    assert_eq!(
        (status, e["code"].as_str().unwrap()),
        (401, "invalid_token")
    );
    assert!(
        testkit::wait_until(Duration::from_secs(3), || {
            let r = b.get_with_token("/api/v1/me", &access);
            async move { r.await.status() == 401 }
        })
        .await,
        "replica B still accepts the revoked token"
    );
    // The other session's token still works...
    assert_eq!(
        b.get_with_token("/api/v1/me", &other_access).await.status(),
        200
    );
    // ...until the password changes (on replica B).
    let r = b
        .http
        .post(b.url("/api/v1/me/password"))
        .bearer_auth(&other_access)
        .json(&json!({"current_password": PASSWORD, "new_password": "a fresh lotus 2026"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        testkit::wait_until(Duration::from_secs(3), || {
            let r = a.get_with_token("/api/v1/me", &other_access);
            async move { r.await.status() == 401 }
        })
        .await,
        "replica A still accepts a token from before the password change"
    );
    // A token issued after the change works everywhere.
    let fresh = a
        .login("revoke@example.com", "a fresh lotus 2026")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let fresh = fresh["access_token"].as_str().unwrap();
    for app in [&a, &b] {
        assert_eq!(app.get_with_token("/api/v1/me", fresh).await.status(), 200);
    }
}

/// Issue 8.8: `X-Forwarded-For` is believed only from configured proxies,
/// and then only its rightmost entry that is not a proxy itself.
#[tokio::test]
async fn forwarded_for_is_trusted_only_from_configured_proxies() {
    async fn login(app: &TestApp, xff: &str) -> u16 {
        app.http
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", xff)
            .json(&json!({"email": "nobody@example.com", "password": "whatever pass"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
    async fn count(app: &TestApp, key: &str) -> i32 {
        app.db()
            .await
            .query_opt(
                "SELECT failures FROM gateway.login_throttle WHERE key = $1",
                &[&key],
            )
            .await
            .unwrap()
            .map(|r| r.get::<_, i32>(0))
            .unwrap_or(0)
    }
    // Not configured: the header is ignored, the peer is the client.
    let app = spawn_app().await;
    assert_eq!(login(&app, "203.0.113.9").await, 401);
    assert_eq!(count(&app, "addr:203.0.113.9").await, 0);
    assert_eq!(count(&app, "addr:127.0.0.1").await, 1);
    // Loopback is our proxy: the rightmost entry it did not write itself is
    // the client, whatever the client put to its left.
    let app = spawn_with(Options {
        overrides: vec![(
            "throttle.trusted_proxies",
            "127.0.0.1/32, 10.0.0.0/8".into(),
        )],
        ..Default::default()
    })
    .await;
    assert_eq!(
        login(&app, "198.51.100.1, 203.0.113.9, 10.1.2.3").await,
        401
    );
    assert_eq!(count(&app, "addr:203.0.113.9").await, 1);
    assert_eq!(count(&app, "addr:198.51.100.1").await, 0);
    assert_eq!(count(&app, "addr:10.1.2.3").await, 0);
}

/// Issue 8.8: a token bucket per address (and per user) on proxied routes.
#[tokio::test]
async fn proxied_routes_are_rate_limited_with_retry_after() {
    let app = spawn_with(Options {
        overrides: vec![
            ("rate_limit.per_address_per_sec", "1".into()),
            ("rate_limit.per_address_burst", "5".into()),
            // Nothing listens there: a request that gets through is a 502.
            ("upstreams.charts", "http://127.0.0.1:9".into()),
        ],
        ..Default::default()
    })
    .await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..8 {
        let r = app
            .http
            .get(app.url("/api/v1/places?q=chen"))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 502).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(retry_after.as_deref(), Some("1"));
    // The gateway's own routes are not proxied and not limited this way.
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Issue 8.8: expired refresh tokens and stale throttle rows are deleted.
#[tokio::test]
async fn expired_rows_are_cleaned_up() {
    let app = spawn_with(Options {
        overrides: vec![
            ("cleanup.interval_ms", "200".into()),
            ("cleanup.refresh_token_retention_secs", "0".into()),
        ],
        ..Default::default()
    })
    .await;
    let reg = app.register("tidy@example.com").await;
    let db = app.db().await;
    db.batch_execute(
        "UPDATE gateway.refresh_tokens SET expires_at = now() - interval '1 hour';
         INSERT INTO gateway.login_throttle (key, window_start, failures)
           VALUES ('addr:stale', now() - interval '2 days', 3), ('addr:fresh', now(), 1);",
    )
    .await
    .unwrap();
    assert!(
        testkit::wait_until(Duration::from_secs(10), || {
            let db = &db;
            async move {
                let r = db
                    .query_one(
                        "SELECT (SELECT count(*) FROM gateway.refresh_tokens),
                                (SELECT count(*) FROM gateway.login_throttle WHERE key = 'addr:stale')",
                        &[],
                    )
                    .await
                    .unwrap();
                r.get::<_, i64>(0) == 0 && r.get::<_, i64>(1) == 0
            }
        })
        .await
    );
    let fresh: i64 = db
        .query_one(
            "SELECT count(*) FROM gateway.login_throttle WHERE key = 'addr:fresh'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(fresh, 1);
    let _ = reg;
}

/// Issue 8.8: no password, token or key in the logs, even at debug level
/// (the gateway as a real process, its output captured).
#[tokio::test]
async fn secrets_never_reach_debug_logs() {
    let db = testkit::TestDb::create().await.unwrap();
    let nats = testkit::NatsServer::start().unwrap();
    let port = testkit::free_port();
    let log_path = std::env::temp_dir().join(format!("gw-debug-{}.log", uuid::Uuid::new_v4()));
    let (seed, _) = platform::auth::generate_key().unwrap();
    let jwt_secret = "jwt-secret-for-the-debug-log-test-0123456789";
    let env = [
        ("JYOTIFLOW__ENV", "test".to_owned()),
        ("JYOTIFLOW__DATABASE__URL", db.url.clone()),
        ("JYOTIFLOW__NATS__URL", nats.url()),
        ("JYOTIFLOW__HTTP__PORT", port.to_string()),
        ("JYOTIFLOW__HTTP__METRICS_ADDRESS", "127.0.0.1:0".into()),
        ("JYOTIFLOW__TELEMETRY__LOG_LEVEL", "debug".into()),
        ("JYOTIFLOW__INTERNAL_AUTH__SIGNING_KEY", seed.clone()),
        ("JYOTIFLOW__AUTH__JWT_SECRET", jwt_secret.into()),
        ("JYOTIFLOW__AUTH__ARGON2_MEMORY_KIB", "8192".into()),
        ("JYOTIFLOW__AUTH__ARGON2_ITERATIONS", "1".into()),
    ];
    let run = |args: &[&str], log: Option<&std::path::Path>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"));
        c.args(args).env_remove("TEST_LOG");
        for (k, v) in &env {
            c.env(k, v);
        }
        if let Some(p) = log {
            let f = std::fs::File::create(p).unwrap();
            c.stdout(f.try_clone().unwrap()).stderr(f);
        }
        c
    };
    assert!(run(&["migrate"], None).output().unwrap().status.success());
    let mut child = run(&["serve"], Some(&log_path)).spawn().unwrap();
    let http = platform::http_client::client();
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        testkit::wait_until(Duration::from_secs(20), || {
            let r = http.get(format!("{base}/readyz")).send();
            async move { matches!(r.await, Ok(r) if r.status() == 200) }
        })
        .await
    );
    let password = "saffron-debug-passphrase-91";
    let new_password = "saffron-debug-passphrase-92";
    let reg: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "debug@example.com", "password": password, "display_name": "D"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = reg["access_token"].as_str().unwrap().to_owned();
    let refresh = reg["refresh_token"].as_str().unwrap().to_owned();
    let _ = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "debug@example.com", "password": "saffron-wrong-passphrase-93"}))
        .send()
        .await
        .unwrap();
    let rotated: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/me/password"))
        .bearer_auth(rotated["access_token"].as_str().unwrap())
        .json(&json!({"current_password": password, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // A proxied call carries an internal token upstream (nothing listens there).
    let _ = http
        .get(format!("{base}/api/v1/charts/x"))
        .bearer_auth(&access)
        .send()
        .await;
    let _ = child.kill();
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        logs.contains("DEBUG") || logs.contains("\"debug\""),
        "debug logging was not on"
    );
    for secret in [
        password,
        new_password,
        "saffron-wrong-passphrase-93",
        access.as_str(),
        refresh.as_str(),
        rotated["access_token"].as_str().unwrap(),
        rotated["refresh_token"].as_str().unwrap(),
        jwt_secret,
        seed.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret appeared in the debug logs"
        );
    }
    // Internal tokens are signed JWS: none of them may be logged either.
    assert!(
        !logs.contains("eyJhbGciOiJFZERTQSI"),
        "an internal token was logged"
    );
}
