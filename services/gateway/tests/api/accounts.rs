use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn register_returns_user_and_tokens_and_normalizes_email() {
    let app = spawn_app().await;
    let body = app.register("  Mira.Devi@Example.COM ").await;
    assert_eq!(body["user"]["email"], "Mira.Devi@Example.COM");
    assert_eq!(body["user"]["display_name"], "Test User");
    assert_eq!(body["user"]["roles"], json!(["user"]));
    assert_eq!(body["expires_in"], 900);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 40);
    uuid::Uuid::parse_str(body["user"]["id"].as_str().unwrap()).unwrap();

    // The same address in another case is the same account.
    let r = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "mira.devi@example.com", "password": PASSWORD, "display_name": "X"}),
        )
        .await;
    let (status, e) = error_code(r).await;
    assert_eq!((status, e["code"].as_str().unwrap()), (409, "email_taken"));

    // Login works with the normalized address.
    let r = app.login("MIRA.devi@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let login: serde_json::Value = r.json().await.unwrap();
    assert_eq!(login["user"]["id"], body["user"]["id"]);
    let me: serde_json::Value = app
        .get_with_token("/api/v1/me", login["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], body["user"]["id"]);
    assert_eq!(me["email"], "Mira.Devi@Example.COM");
}

#[tokio::test]
async fn registration_validation_names_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD, "display_name": "A"}),
            "email",
        ),
        (
            json!({"email": "a@b.co", "password": "short", "display_name": "A"}),
            "password",
        ),
        (
            json!({"email": "a@b.co", "password": "password123", "display_name": "A"}),
            "password",
        ),
        (
            json!({"email": "a@b.co", "password": PASSWORD, "display_name": "   "}),
            "display_name",
        ),
    ];
    for (body, field) in cases {
        let r = app.post_json("/api/v1/auth/register", &body).await;
        let (status, e) = error_code(r).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(e["code"], "validation_failed");
        assert_eq!(e["field"], field, "{body}");
    }
    let db = app.db().await;
    let n: i64 = db
        .query_one("SELECT count(*) FROM gateway.users", &[])
        .await
        .unwrap()
        .get(0);
    let o: i64 = db
        .query_one("SELECT count(*) FROM gateway.outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!((n, o), (0, 0));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("kiran@example.com").await;
    let a = error_code(app.login("kiran@example.com", "not the password").await).await;
    let b = error_code(app.login("nobody@example.com", PASSWORD).await).await;
    assert_eq!(a.0, 401);
    assert_eq!(a.0, b.0);
    assert_eq!(a.1["code"], "invalid_credentials");
    assert_eq!(a.1["code"], b.1["code"]);
    assert_eq!(a.1["message"], b.1["message"]);
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_dies() {
    let app = spawn_app().await;
    let reg = app.register("ravi@example.com").await;
    let first = reg["refresh_token"].as_str().unwrap().to_owned();
    let r = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": first}))
        .await;
    assert_eq!(r.status(), 200);
    let pair: serde_json::Value = r.json().await.unwrap();
    let second = pair["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        app.get_with_token("/api/v1/me", pair["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );

    // Presenting the rotated token again is reuse: the whole family is revoked.
    let (status, e) = error_code(
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": first}))
            .await,
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str().unwrap()),
        (401, "refresh_token_reused")
    );
    let (status, _) = error_code(
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": second}))
            .await,
    )
    .await;
    assert_eq!(status, 401, "the descendant token must die with its family");

    // Another login (another family) is unaffected.
    let other: serde_json::Value = app
        .login("ravi@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": other["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = spawn_app().await;
    let reg = app.register("lata@example.com").await;
    let rt = reg["refresh_token"].clone();
    let r = app
        .post_json("/api/v1/auth/logout", &json!({"refresh_token": rt}))
        .await;
    assert_eq!(r.status(), 204);
    let (status, e) = error_code(
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": rt}))
            .await,
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str().unwrap()),
        (401, "invalid_token")
    );
}

#[tokio::test]
async fn change_password_signs_out_other_sessions() {
    let app = spawn_app().await;
    let reg = app.register("dev@example.com").await;
    let access = reg["access_token"].as_str().unwrap();
    let new_password = "a brighter lotus 109";
    let r = app
        .http
        .post(app.url("/api/v1/me/password"))
        .bearer_auth(access)
        .json(&json!({"current_password": "wrong one here", "new_password": new_password}))
        .send()
        .await
        .unwrap();
    let (status, e) = error_code(r).await;
    assert_eq!(
        (status, e["field"].as_str().unwrap()),
        (401, "current_password")
    );
    let r = app
        .http
        .post(app.url("/api/v1/me/password"))
        .bearer_auth(access)
        .json(&json!({"current_password": PASSWORD, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.login("dev@example.com", PASSWORD).await.status(), 401);
    assert_eq!(
        app.login("dev@example.com", new_password).await.status(),
        200
    );
    let r = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": reg["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn create_admin_command_makes_an_admin_from_stdin() {
    let app = spawn_app().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["create-admin", "--email", "root@jyotiflow.example"])
        .env("JYOTIFLOW__DATABASE__URL", &app.database_url)
        .env("JYOTIFLOW__AUTH__ARGON2_MEMORY_KIB", "8192")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"an admin's long passphrase\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = app
        .login("root@jyotiflow.example", "an admin's long passphrase")
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["user"]["roles"], json!(["user", "admin"]));
}
