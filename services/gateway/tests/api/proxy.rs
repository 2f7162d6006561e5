use crate::helpers::*;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use std::sync::Arc;
use tokio::sync::Notify;

/// A stand-in upstream service: echoes what it received, answers slowly, or streams events.
struct Upstream {
    url: String,
    release: Arc<Notify>,
    handle: actix_web::dev::ServerHandle,
    /// Every path the upstream received.
    seen: Seen,
}

#[derive(Clone, Default)]
struct Seen(Arc<std::sync::Mutex<Vec<String>>>);

async fn echo(req: HttpRequest, body: web::Bytes, seen: web::Data<Seen>) -> HttpResponse {
    if let Ok(mut v) = seen.0.lock() {
        v.push(req.path().to_owned());
    }
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                serde_json::Value::String(v.to_str().unwrap_or("").to_owned()),
            )
        })
        .collect();
    HttpResponse::Ok().json(serde_json::json!({
        "path": req.path(),
        "query": req.query_string(),
        "method": req.method().as_str(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
}

async fn slow() -> HttpResponse {
    // Deliberately slower than the gateway's read timeout.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    HttpResponse::Ok().finish()
}

async fn sse(release: web::Data<Arc<Notify>>) -> HttpResponse {
    let release = release.get_ref().clone();
    let stream = futures_util::stream::unfold(0u8, move |state| {
        let release = release.clone();
        async move {
            match state {
                0 => Some((
                    Ok::<_, actix_web::Error>(web::Bytes::from_static(b"data: one\n\n")),
                    1,
                )),
                1 => {
                    release.notified().await;
                    Some((Ok(web::Bytes::from_static(b"data: two\n\n")), 2))
                }
                _ => None,
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(stream)
}

async fn start_upstream() -> Upstream {
    let release = Arc::new(Notify::new());
    let data = web::Data::new(release.clone());
    let seen = Seen::default();
    let seen_data = web::Data::new(seen.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(seen_data.clone())
            .route("/api/v1/charts/slow", web::get().to(slow))
            .route("/api/v1/charts/sse", web::get().to(sse))
            .default_service(web::to(echo))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Upstream {
        url: format!("http://127.0.0.1:{port}"),
        release,
        handle,
        seen,
    }
}

async fn app_with_upstream(up: &Upstream) -> TestApp {
    spawn_with(Options {
        overrides: vec![
            ("upstreams.charts", up.url.clone()),
            ("proxy.read_timeout_ms", "500".into()),
            // Nothing listens on port 9 (discard) on a test machine.
            ("upstreams.pricing", "http://127.0.0.1:9".into()),
        ],
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn forwards_with_a_verified_principal_and_strips_client_identity() {
    let up = start_upstream().await;
    let app = app_with_upstream(&up).await;
    let reg = app.register("proxy@example.com").await;
    let token = reg["access_token"].as_str().unwrap();
    // Signed with another service's key, claiming an admin.
    let forged = platform::auth::InternalAuth::development("pricing")
        .unwrap()
        .sign(
            "charts",
            Some(&common::Principal {
                user_id: common::UserId::new(),
                roles: vec![common::Role::Admin],
            }),
        )
        .unwrap();
    let r = app
        .http
        .post(app.url("/api/v1/charts/abc?x=1"))
        .bearer_auth(token)
        .header("x-internal-token", forged.as_str())
        .header("x-user-id", "someone-else")
        .header("x-user-roles", "admin")
        .header("x-request-id", "rid-42")
        .header("content-type", "application/json")
        .body("{\"hello\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "rid-42");
    let echo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(echo["path"], "/api/v1/charts/abc");
    assert_eq!(echo["query"], "x=1");
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "{\"hello\":1}");
    let h = &echo["headers"];
    assert!(h.get("x-user-id").is_none() && h.get("x-user-roles").is_none());
    assert!(
        h.get("authorization").is_none(),
        "the user's bearer token stays at the edge"
    );
    assert_eq!(h["x-request-id"], "rid-42");
    let internal = h["x-internal-token"].as_str().unwrap();
    assert_ne!(internal, forged);
    // The upstream (charts) verifies it with the gateway's public key and
    // finds the gateway calling for the real user; no other service accepts it.
    let charts = platform::auth::InternalAuth::development("charts").unwrap();
    let caller = charts.verify(internal).unwrap();
    assert_eq!(caller.service, "gateway");
    let p = caller.principal.unwrap();
    assert_eq!(p.user_id.to_string(), reg["user"]["id"].as_str().unwrap());
    assert!(!p.is_admin());
    let pricing = platform::auth::InternalAuth::development("pricing").unwrap();
    assert!(pricing.verify(internal).is_err(), "audience is charts only");
    up.handle.stop(false).await;
}

#[tokio::test]
async fn access_levels_are_enforced() {
    let up = start_upstream().await;
    let app = app_with_upstream(&up).await;
    // Public route: no token needed, and no identity is forwarded.
    let r = app
        .http
        .get(app.url("/api/v1/places?q=chen"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echo: serde_json::Value = r.json().await.unwrap();
    assert!(echo["headers"].get("x-internal-token").is_none());
    // User route without a token.
    let (s, _) = error_code(
        app.http
            .get(app.url("/api/v1/charts/1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401);
    // Admin route as a plain user.
    let reg = app.register("plain@example.com").await;
    let r = app
        .get_with_token(
            "/api/v1/admin/charts/cache/stats",
            reg["access_token"].as_str().unwrap(),
        )
        .await;
    let (s, e) = error_code(r).await;
    assert_eq!((s, e["code"].as_str().unwrap()), (403, "forbidden"));
    // An unknown API path is a 404 in the JSON shape.
    let (s, _) = error_code(
        app.http
            .get(app.url("/api/v1/astral-projection"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
    up.handle.stop(false).await;
}

#[tokio::test]
async fn upstream_failures_map_to_502_and_504() {
    let up = start_upstream().await;
    let app = app_with_upstream(&up).await;
    let reg = app.register("gw-errors@example.com").await;
    let token = reg["access_token"].as_str().unwrap();
    let (s, e) = error_code(app.get_with_token("/api/v1/credits/balance", token).await).await;
    assert_eq!((s, e["code"].as_str().unwrap()), (502, "bad_gateway"));
    let started = std::time::Instant::now();
    let (s, e) = error_code(app.get_with_token("/api/v1/charts/slow", token).await).await;
    assert_eq!((s, e["code"].as_str().unwrap()), (504, "gateway_timeout"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "the read timeout must cut the wait"
    );
    up.handle.stop(false).await;
}

#[tokio::test]
async fn server_sent_events_stream_through_unbuffered() {
    let up = start_upstream().await;
    let app = app_with_upstream(&up).await;
    let reg = app.register("sse@example.com").await;
    let r = app
        .get_with_token("/api/v1/charts/sse", reg["access_token"].as_str().unwrap())
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = r.bytes_stream();
    // The first event arrives while the upstream is still holding back the second.
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"data: one\n\n");
    up.release.notify_one();
    let second = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&second[..], b"data: two\n\n");
    up.handle.stop(false).await;
}

/// Issue 8.1: paths are normalised once, routed and authorised on the
/// normalised form, and sent upstream unchanged; nothing reaches an
/// upstream outside the prefix of the route that let it through.
#[tokio::test]
async fn traversal_never_reaches_outside_the_route() {
    let up = start_upstream().await;
    // The same recording upstream stands in for charts and pricing.
    let app = spawn_with(Options {
        overrides: vec![
            ("upstreams.charts", up.url.clone()),
            ("upstreams.pricing", up.url.clone()),
        ],
        ..Default::default()
    })
    .await;
    let reg = app.register("traverse@example.com").await;
    let token = reg["access_token"].as_str().unwrap();
    // Raw requests: an HTTP client library would resolve dot segments itself.
    let port = app
        .address
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap();
    let send = |method: &'static str, path: &'static str, auth: bool| {
        let bearer = auth.then(|| token.to_owned());
        raw_request(port, method, path, bearer)
    };
    // Reported attacks: a user token creating a hold through pricing's
    // internal endpoint, and charts' metrics without any token.
    for (method, path, auth) in [
        (
            "POST",
            "/api/v1/credits/%2e%2e/%2e%2e/%2e%2e/internal/v1/credits/holds",
            true,
        ),
        ("GET", "/api/v1/places/%2e%2e/%2e%2e/%2e%2e/metrics", false),
        (
            "GET",
            "/api/v1/places/%2E%2E/%2E%2E/%2E%2E/openapi.json",
            false,
        ),
        ("GET", "/api/v1/places/..;/..;/..;/metrics", false),
        (
            "GET",
            "/api/v1/places/.%2e/.%2e/.%2e/internal/v1/credits/holds",
            false,
        ),
        ("GET", "/api/v1/places\\..\\..\\..\\metrics", false),
    ] {
        let (status, e) = send(method, path, auth).await;
        assert_eq!(status, 404, "{path}: {e}");
    }
    // Encoded slashes and doubly encoded dots are refused outright.
    for path in [
        "/api/v1/places/%2f..%2f..%2fmetrics",
        "/api/v1/places/%252e%252e/%252e%252e/metrics",
        "/api/v1/places/%5c..%5cmetrics",
        "/api/v1/places/x%00",
        "/api/../../../metrics",
    ] {
        let (status, e) = send("GET", path, false).await;
        assert_eq!(
            (status, e["error"]["code"].as_str().unwrap_or("")),
            (400, "invalid_path"),
            "{path}: {e}"
        );
    }
    // A public route reached through dot segments is still authorised on
    // the normalised path: a user route needs a token even if written as a
    // public one.
    let (status, _) = send("GET", "/api/v1/places/../charts/x", false).await;
    assert_eq!(status, 401);
    let (status, echo) = send("GET", "/api/v1/places/../charts/x", true).await;
    assert_eq!(status, 200);
    assert_eq!(echo["path"], "/api/v1/charts/x");
    // Unreserved escapes are decoded once and sent as the route sees them.
    let (status, echo) = send("GET", "/api/v1/pl%61ces?q=chen", false).await;
    assert_eq!(status, 200);
    assert_eq!(echo["path"], "/api/v1/places");
    assert_eq!(echo["query"], "q=chen");
    let seen = up.seen.0.lock().unwrap().clone();
    assert!(
        seen.iter().all(|p| p.starts_with("/api/v1/")),
        "an upstream saw a path outside the API: {seen:?}"
    );
    assert_eq!(seen, vec!["/api/v1/charts/x", "/api/v1/places"]);
    up.handle.stop(false).await;
}

/// One HTTP/1.1 request with the path exactly as given; (status, JSON body).
async fn raw_request(
    port: u16,
    method: &str,
    path: &str,
    bearer: Option<String>,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(t) = bearer {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if method == "POST" {
        req.push_str(
            "Content-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"amount\": 5}\n",
        );
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    // Chunked bodies from the streaming proxy: take the JSON between the chunk sizes.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.split("\r\n")
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, c)| c)
            .collect::<String>()
    } else {
        body.to_owned()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}
