//! NATS credentials from config (user/password, token, NKey) against
//! private nats-servers that require them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use platform::config::{ConfigError, Environment, NatsConfig, Validate};
use platform::health::nats_connected;
use platform::nats::{request, CallContext};
use secrecy::SecretString;
use std::time::Duration;
use testkit::{NatsAuth, NatsServer};

#[derive(Default)]
struct Creds {
    user: Option<&'static str>,
    password: Option<String>,
    token: Option<String>,
    nkey_seed: Option<String>,
}

fn nats_config(url: String, c: Creds) -> NatsConfig {
    NatsConfig {
        url,
        prefix: String::new(),
        request_timeout_ms: 2000,
        connect_timeout_ms: 1000,
        user: c.user.map(str::to_owned),
        password: c.password.map(SecretString::from),
        token: c.token.map(SecretString::from),
        nkey_seed: c.nkey_seed.map(SecretString::from),
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// As a service does: platform::nats::connect, then a request (answered on
/// the same connection, which orders the subscription before the request).
async fn connect_and_request(cfg: &NatsConfig) {
    let client = platform::nats::connect(cfg, &unique("svc")).await.unwrap();
    assert!(
        testkit::wait_until(Duration::from_secs(5), || async { nats_connected(&client) }).await,
        "connects with the right credentials"
    );
    let mut sub = client.subscribe("auth.echo.run").await.unwrap();
    let answering = {
        let client = client.clone();
        tokio::spawn(async move {
            let m = sub.next().await.unwrap();
            client.publish(m.reply.unwrap(), m.payload).await.unwrap();
            client.flush().await.unwrap();
        })
    };
    let reply: serde_json::Value = request(
        &client,
        "auth.echo.run",
        &CallContext::default(),
        &serde_json::json!({"hello": "nats"}),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(reply, serde_json::json!({"hello": "nats"}));
    answering.await.unwrap();
}

/// With credentials the server refuses, the client never connects (readiness
/// stays false) and the refusal is logged, naming the method, without the secret.
async fn refused(cfg: &NatsConfig, method: &str, secrets: &[&str]) {
    testkit::init_logs();
    let name = unique("refused");
    let client = platform::nats::connect(cfg, &name).await.unwrap();
    let logged = testkit::wait_until(Duration::from_secs(10), || {
        let name = name.clone();
        async move {
            testkit::logs().lines().any(|l| {
                l.contains(&name)
                    && l.contains("nats refused this service's credentials")
                    && l.contains("authorization violation")
                    && l.contains(&format!("\"auth_method\":\"{method}\""))
            })
        }
    })
    .await;
    assert!(logged, "the refusal is logged:\n{}", testkit::logs());
    // Still not connected a while later (several retries).
    assert!(
        !testkit::wait_until(Duration::from_millis(1500), || async {
            nats_connected(&client)
        })
        .await
    );
    let logs = testkit::logs();
    for s in secrets {
        assert!(!logs.contains(s), "a secret was logged");
    }
}

#[tokio::test]
async fn user_and_password() {
    let password = unique("right-password");
    let nats = NatsServer::start_with_auth(&NatsAuth::UserPassword {
        user: "gateway".into(),
        password: password.clone(),
    })
    .unwrap();
    let good = Creds {
        user: Some("gateway"),
        password: Some(password.clone()),
        ..Default::default()
    };
    connect_and_request(&nats_config(nats.url(), good)).await;

    let wrong = unique("wrong-password");
    let bad = Creds {
        user: Some("gateway"),
        password: Some(wrong.clone()),
        ..Default::default()
    };
    refused(
        &nats_config(nats.url(), bad),
        "user/password",
        &[&wrong, &password],
    )
    .await;
    // No credentials at all: refused too.
    refused(
        &nats_config(nats.url(), Creds::default()),
        "none",
        &[&password],
    )
    .await;
}

#[tokio::test]
async fn token() {
    let token = unique("right-token");
    let nats = NatsServer::start_with_auth(&NatsAuth::Token(token.clone())).unwrap();
    let good = Creds {
        token: Some(token.clone()),
        ..Default::default()
    };
    connect_and_request(&nats_config(nats.url(), good)).await;

    let wrong = unique("wrong-token");
    let bad = Creds {
        token: Some(wrong.clone()),
        ..Default::default()
    };
    refused(&nats_config(nats.url(), bad), "token", &[&wrong, &token]).await;
}

#[tokio::test]
async fn nkey() {
    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().unwrap();
    let nats = NatsServer::start_with_auth(&NatsAuth::NKey {
        public_key: user.public_key(),
    })
    .unwrap();
    let good = Creds {
        nkey_seed: Some(seed.clone()),
        ..Default::default()
    };
    connect_and_request(&nats_config(nats.url(), good)).await;

    // Another key pair: the server does not know its public key.
    let stranger = nkeys::KeyPair::new_user().seed().unwrap();
    let bad = Creds {
        nkey_seed: Some(stranger.clone()),
        ..Default::default()
    };
    refused(&nats_config(nats.url(), bad), "nkey", &[&stranger, &seed]).await;
}

/// A service without sections of its own.
#[derive(serde::Deserialize)]
struct NoSections {}

impl Validate for NoSections {
    fn validate(&self, _env: Environment) -> Result<(), ConfigError> {
        Ok(())
    }
}

fn load(env: &str, nats: &[(&str, &str)]) -> Result<platform::config::BaseConfig, ConfigError> {
    let mut overrides = vec![("env".to_owned(), env.to_owned())];
    if env == "production" {
        let (seed, _) = platform::auth::generate_key().unwrap();
        overrides.push(("internal_auth.signing_key".to_owned(), seed));
    }
    for (k, v) in nats {
        overrides.push(((*k).to_owned(), (*v).to_owned()));
    }
    platform::config::load::<NoSections>("nats_auth_test", 8080, &overrides, Ok).map(|(b, _)| b)
}

fn invalid_key(r: Result<platform::config::BaseConfig, ConfigError>) -> (String, String) {
    match r {
        Err(e @ ConfigError::Invalid { .. }) => {
            let text = e.to_string();
            let ConfigError::Invalid { key, .. } = e else {
                unreachable!()
            };
            (key, text)
        }
        Err(e) => panic!("not a validation error: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn config_allows_one_method_and_refuses_placeholders_in_production() {
    let long = "x".repeat(40);
    let seed = nkeys::KeyPair::new_user().seed().unwrap();

    // Each method alone is accepted, and the secrets never print.
    for creds in [
        vec![("nats.user", "gateway"), ("nats.password", long.as_str())],
        vec![("nats.token", long.as_str())],
        vec![("nats.nkey_seed", seed.as_str())],
    ] {
        let cfg = load("production", &creds).unwrap();
        let printed = format!("{cfg:?}");
        assert!(
            !printed.contains(&long) && !printed.contains(&seed),
            "{printed}"
        );
    }
    assert!(load("production", &[]).unwrap().nats.auth().is_ok());

    // Two methods: the error names the key.
    let (key, _) = invalid_key(load(
        "development",
        &[
            ("nats.user", "gateway"),
            ("nats.password", "p"),
            ("nats.token", "t"),
        ],
    ));
    assert_eq!(key, "nats.token");
    let (key, _) = invalid_key(load(
        "development",
        &[("nats.token", "t"), ("nats.nkey_seed", seed.as_str())],
    ));
    assert_eq!(key, "nats.nkey_seed");
    // A user without its password, and the other way round.
    let (key, _) = invalid_key(load("development", &[("nats.user", "gateway")]));
    assert_eq!(key, "nats.password");
    let (key, _) = invalid_key(load("development", &[("nats.password", "p")]));
    assert_eq!(key, "nats.user");

    // The shipped development placeholders work in development only.
    let placeholder = "insecure-dev-nats-gateway-password-change-me";
    let dev = [("nats.user", "gateway"), ("nats.password", placeholder)];
    assert!(load("development", &dev).is_ok());
    let (key, text) = invalid_key(load("production", &dev));
    assert_eq!(key, "nats.password");
    assert!(text.contains("insecure development default"), "{text}");
    assert!(!text.contains(placeholder));
    let (key, _) = invalid_key(load(
        "production",
        &[("nats.token", "insecure-dev-nats-token-change-me-000000")],
    ));
    assert_eq!(key, "nats.token");
    let (key, _) = invalid_key(load("production", &[("nats.token", "short")]));
    assert_eq!(key, "nats.token");

    // An NKey seed must be a user seed; the error does not quote it.
    let not_a_seed = "SUAM-not-really-a-seed-but-long-enough-for-production-00";
    let (key, text) = invalid_key(load("development", &[("nats.nkey_seed", not_a_seed)]));
    assert_eq!(key, "nats.nkey_seed");
    assert!(!text.contains(not_a_seed), "{text}");
    let account_seed = nkeys::KeyPair::new_account().seed().unwrap();
    let (key, _) = invalid_key(load(
        "development",
        &[("nats.nkey_seed", account_seed.as_str())],
    ));
    assert_eq!(key, "nats.nkey_seed");

    // Credentials do not go into the URL (it is printed).
    let (key, _) = invalid_key(load(
        "development",
        &[("nats.url", "nats://gateway:secret@nats:4222")],
    ));
    assert_eq!(key, "nats.url");
}
