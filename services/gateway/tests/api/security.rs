use crate::helpers::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use gateway::tokens::{AccessClaims, AUDIENCE, ISSUER};
use platform::jwt::KeySet;
use secrecy::SecretString;

const DEV_SECRET: &str = "insecure-dev-jwt-signing-secret-change-me";

fn forge(
    kid: &str,
    secret: &str,
    exp_offset: i64,
    sub: common::UserId,
    roles: Vec<common::Role>,
) -> String {
    let now = chrono::Utc::now().timestamp();
    KeySet::single(kid, SecretString::from(secret.to_owned()))
        .sign(&AccessClaims {
            sub,
            roles,
            iat: now - 10,
            exp: now + exp_offset,
            aud: AUDIENCE.into(),
            iss: ISSUER.into(),
            jti: None,
        })
        .unwrap()
}

#[tokio::test]
async fn bad_tokens_are_rejected() {
    let app = spawn_app().await;
    let reg = app.register("token@example.com").await;
    let good = reg["access_token"].as_str().unwrap().to_owned();
    let user: common::UserId = reg["user"]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.get_with_token("/api/v1/me", &good).await.status(), 200);

    // Same key as the server, but promoted to admin in the payload without re-signing.
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    claims["roles"] = serde_json::json!(["user", "admin"]);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(claims.to_string()),
        parts[2]
    );
    let expired = forge("k1", DEV_SECRET, -1, user, vec![common::Role::User]);
    let wrong_key = forge(
        "k1",
        "some-other-secret-of-sufficient-length!!",
        600,
        user,
        vec![common::Role::User],
    );
    let unknown_kid = forge("k9", DEV_SECRET, 600, user, vec![common::Role::User]);
    let none_header = B64.encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let garbage = "not.a.token".to_owned();

    for (name, token, code) in [
        ("tampered", tampered, "invalid_token"),
        ("expired", expired, "token_expired"),
        ("wrong key", wrong_key, "invalid_token"),
        ("unknown kid", unknown_kid, "invalid_token"),
        ("alg none", alg_none, "invalid_token"),
        ("garbage", garbage, "invalid_token"),
    ] {
        let (status, e) = error_code(app.get_with_token("/api/v1/me", &token).await).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(e["code"], code, "{name}");
    }
}

#[tokio::test]
async fn login_is_throttled_per_account_with_retry_after() {
    let app = spawn_app().await;
    app.register("locked@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            app.login("locked@example.com", "wrong password!")
                .await
                .status(),
            401
        );
    }
    let r = app.login("locked@example.com", PASSWORD).await;
    assert_eq!(
        r.status(),
        429,
        "even the right password waits out the lockout"
    );
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    let (_, e) = error_code(r).await;
    assert_eq!(e["code"], "too_many_requests");
    // Another account from the same address is not locked out by that.
    app.register("free@example.com").await;
    assert_eq!(app.login("free@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn login_is_throttled_per_client_address() {
    let app = spawn_with(Options {
        overrides: vec![("throttle.address_max_failures", "3".into())],
        ..Default::default()
    })
    .await;
    for i in 0..3 {
        let r = app
            .login(&format!("ghost{i}@example.com"), "whatever pass")
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = app.login("ghost-next@example.com", "whatever pass").await;
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let app = spawn_app().await;
    let password = "saffron-secret-passphrase-77";
    let r = app
        .post_json(
            "/api/v1/auth/register",
            &serde_json::json!({"email": "logs@example.com", "password": password, "display_name": "L"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    app.login("logs@example.com", "saffron-wrong-passphrase-78")
        .await;
    let logs = testkit::logs();
    assert!(
        logs.contains("account registered"),
        "log capture must be working"
    );
    for secret in [
        password,
        "saffron-wrong-passphrase-78",
        body["access_token"].as_str().unwrap(),
        body["refresh_token"].as_str().unwrap(),
        DEV_SECRET,
    ] {
        assert!(!logs.contains(secret), "a secret appeared in the logs");
    }
}

fn run_gateway(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"));
    c.args(args).env_remove("JYOTIFLOW__ENV");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn production_refuses_default_and_short_secrets() {
    // Without JYOTIFLOW__ENV the gateway runs as production: the shipped
    // development key is refused before anything starts.
    let out = run_gateway(&["migrate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("internal_auth.signing_key"), "{err}");
    for env in ["production", "staging"] {
        let out = run_gateway(&["migrate"], &[("JYOTIFLOW__ENV", env)]);
        assert_eq!(out.status.code(), Some(2), "{env}");
    }

    // A real service key (from `gateway keygen`), and a JWT secret too short.
    let out = run_gateway(&["keygen"], &[]);
    assert!(out.status.success());
    let keygen = String::from_utf8_lossy(&out.stdout);
    let seed = keygen
        .lines()
        .find_map(|l| l.strip_prefix("JYOTIFLOW__INTERNAL_AUTH__SIGNING_KEY="))
        .unwrap()
        .to_owned();
    let out = run_gateway(
        &["migrate"],
        &[
            ("JYOTIFLOW__ENV", "production"),
            ("JYOTIFLOW__INTERNAL_AUTH__SIGNING_KEY", &seed),
            ("JYOTIFLOW__AUTH__JWT_SECRET", "too-short"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("auth.jwt_secret"), "{err}");
    assert!(
        !err.contains("too-short") && !err.contains(&seed),
        "the secret itself must not be printed"
    );
    // The development JWT secret is refused in production too.
    let out = run_gateway(
        &["migrate"],
        &[
            ("JYOTIFLOW__ENV", "production"),
            ("JYOTIFLOW__INTERNAL_AUTH__SIGNING_KEY", &seed),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("auth.jwt_secret"));
    // With real secrets, the configuration is accepted (public-key reads it).
    let out = run_gateway(
        &["public-key"],
        &[
            ("JYOTIFLOW__ENV", "production"),
            ("JYOTIFLOW__INTERNAL_AUTH__SIGNING_KEY", &seed),
            ("JYOTIFLOW__INTERNAL_AUTH__KEY_ID", "gw-2026"),
            (
                "JYOTIFLOW__AUTH__JWT_SECRET",
                "0123456789abcdef0123456789abcdef-strong",
            ),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("gw-2026:"));
}

#[test]
fn environment_overrides_apply_and_bad_values_name_the_key() {
    let out = run_gateway(
        &["healthcheck"],
        &[("JYOTIFLOW__DATABASE__MAX_CONNECTIONS", "lots")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database.max_connections"), "{err}");

    let out = run_gateway(
        &["healthcheck"],
        &[("JYOTIFLOW__DATABASE__MAX_CONNECTIONS", "0")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database.max_connections"), "{err}");

    // A valid override is taken: healthcheck targets the overridden port (nothing listens there).
    let port = testkit::free_port().to_string();
    let out = run_gateway(
        &["healthcheck", "--live"],
        &[
            ("JYOTIFLOW__ENV", "development"),
            ("JYOTIFLOW__HTTP__PORT", &port),
        ],
    );
    assert_eq!(out.status.code(), Some(1));

    let (base, _) = gateway::load_config(&[
        ("env".into(), "test".into()),
        ("database.max_connections".into(), "7".into()),
    ])
    .unwrap();
    assert_eq!(base.database.max_connections, 7);
}
