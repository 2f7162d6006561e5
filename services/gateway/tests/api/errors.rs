use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn every_error_has_the_json_shape() {
    let app = spawn_app().await;

    let (s, e) = error_code(
        app.http
            .get(app.url("/no/such/thing"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, e["code"].as_str().unwrap()), (404, "not_found"));

    let (s, e) = error_code(app.http.delete(app.url("/api/v1/me")).send().await.unwrap()).await;
    assert_eq!(
        (s, e["code"].as_str().unwrap()),
        (405, "method_not_allowed")
    );

    let big = "x".repeat(300 * 1024);
    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(format!("{{\"email\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    let (s, e) = error_code(r).await;
    assert_eq!((s, e["code"].as_str().unwrap()), (413, "payload_too_large"));

    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    let (s, e) = error_code(r).await;
    assert_eq!((s, e["code"].as_str().unwrap()), (400, "malformed_json"));

    let r = app
        .post_json("/api/v1/auth/login", &json!({"email": 42, "password": "x"}))
        .await;
    let (s, e) = error_code(r).await;
    assert_eq!(
        (s, e["code"].as_str().unwrap(), e["field"].as_str().unwrap()),
        (400, "malformed_json", "email")
    );

    let r = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "a@b.co", "password": "x"}),
        )
        .await;
    let (s, e) = error_code(r).await;
    assert_eq!((s, e["field"].as_str().unwrap()), (400, "display_name"));

    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    let (s, e) = error_code(r).await;
    assert_eq!(
        (s, e["code"].as_str().unwrap()),
        (415, "unsupported_media_type")
    );

    let r = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "bad", "password": PASSWORD, "display_name": "A"}),
        )
        .await;
    let (s, e) = error_code(r).await;
    assert_eq!(
        (s, e["code"].as_str().unwrap(), e["field"].as_str().unwrap()),
        (422, "validation_failed", "email")
    );

    let r = app.http.get(app.url("/api/v1/me")).send().await.unwrap();
    let (s, e) = error_code(r).await;
    assert_eq!((s, e["code"].as_str().unwrap()), (401, "unauthorized"));
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = app.http.get(app.url("/nothing")).send().await.unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&made).unwrap().get_version_num(), 7);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], made.as_str());
}

#[tokio::test]
async fn openapi_and_metrics_are_served() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/me",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing from OpenAPI");
    }
    app.register("metrics@example.com").await;
    // The gateway faces clients: its metrics are not on the public listener...
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // ...but on a listener of their own.
    let text = app
        .http
        .get(format!(
            "http://127.0.0.1:{}/metrics",
            app.metrics_port.expect("a metrics listener")
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("route=\"/api/v1/auth/register\",status=\"201\""),
        "{text}"
    );
    assert!(text.contains("jyotiflow_db_pool_max_connections"));
    assert!(text.contains("jyotiflow_outbox_pending"));
}
