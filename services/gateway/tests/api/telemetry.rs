use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

/// Starts an HTTP server that records request bodies (an OTLP collector) or
/// the `traceparent` header (an upstream), answering 200.
fn recorder() -> (String, Seen, actix_web::dev::ServerHandle) {
    let seen: Seen = Arc::default();
    let data = web::Data::new(seen.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).default_service(web::to(
            |req: HttpRequest, body: web::Bytes, seen: web::Data<Seen>| async move {
                let mut rec = body.to_vec();
                if let Some(tp) = req.headers().get("traceparent") {
                    rec = tp.as_bytes().to_vec();
                }
                seen.lock().unwrap().push(rec);
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body("{}")
            },
        ))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), seen, handle)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The gateway joins the caller's trace, passes it on to the upstream, and
/// exports its spans over OTLP; SIGTERM flushes them.
#[tokio::test]
async fn traces_continue_across_the_gateway_and_are_exported() {
    testkit::init_logs();
    let db = testkit::TestDb::create().await.unwrap();
    let nats = testkit::NatsServer::start().unwrap();
    let (collector, exported, collector_handle) = recorder();
    let (upstream, upstream_seen, upstream_handle) = recorder();
    let o = crate::helpers::overrides(&db.url, &nats.url(), &[]);
    let (base, _) = gateway::load_config(&o).unwrap();
    platform::cli::migrate(&base, gateway::MIGRATIONS)
        .await
        .unwrap();

    let port = testkit::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("serve")
        .env("JYOTIFLOW__DATABASE__URL", &db.url)
        .env("JYOTIFLOW__NATS__URL", nats.url())
        .env("JYOTIFLOW__HTTP__PORT", port.to_string())
        .env("JYOTIFLOW__HTTP__WORKERS", "1")
        .env("JYOTIFLOW__TELEMETRY__OTLP_ENDPOINT", &collector)
        .env("JYOTIFLOW__UPSTREAMS__CHARTS", &upstream)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let http = platform::http_client::client();
    let ready = testkit::wait_until(Duration::from_secs(10), || {
        let http = http.clone();
        async move {
            matches!(http.get(format!("http://127.0.0.1:{port}/readyz")).send().await, Ok(r) if r.status() == 200)
        }
    })
    .await;
    assert!(ready, "gateway did not become ready");

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = http
        .get(format!("http://127.0.0.1:{port}/api/v1/places?q=pune"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let forwarded = String::from_utf8(upstream_seen.lock().unwrap()[0].clone()).unwrap();
    assert!(
        forwarded.starts_with(&format!("00-{trace_id}-")),
        "upstream got {forwarded}"
    );
    assert!(
        !forwarded.contains("00f067aa0ba902b7"),
        "the gateway's own span must be the parent"
    );

    // SIGTERM: graceful shutdown flushes the exporter.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "gateway exited with {exit}");
    let bodies = exported.lock().unwrap().clone();
    let trace_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_id[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let found = bodies
        .iter()
        .any(|b| b.windows(16).any(|w| w == trace_bytes.as_slice()));
    assert!(
        found,
        "no exported span carries trace {trace_id} ({} exports: {:?})",
        bodies.len(),
        bodies
            .iter()
            .map(|b| hex(&b[..b.len().min(8)]))
            .collect::<Vec<_>>()
    );
    collector_handle.stop(false).await;
    upstream_handle.stop(false).await;
}
