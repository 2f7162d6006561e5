//! The OpenAI-compatible API the service serves on its own port, used by
//! the openai provider and by plain HTTP clients.

use crate::helpers::{collect, model_path, request};
use guidance::llm::{LlmError, Provider};
use std::time::Duration;

struct App {
    api: String,
    main: String,
    running: testkit::Running,
    state: actix_web::web::Data<guidance::state::AppState>,
    http: reqwest::Client,
    _backing: (Option<testkit::TestDb>, Option<testkit::NatsServer>),
}

async fn spawn_app(extra: &[(&str, String)]) -> App {
    let backing = testkit::Backing::new(None, None)
        .await
        .expect("database and NATS");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut o: Vec<(&str, String)> = vec![
        ("llm.local.gguf", model_path()),
        // The service also loads its embedding model and glossary at start.
        (
            "embedding.model_dir",
            root.join("../../.local/models/all-minilm-l6-v2")
                .display()
                .to_string(),
        ),
        (
            "knowledge.glossary",
            root.join("glossary.tsv").display().to_string(),
        ),
        ("llm.local.max_tokens", "16".into()),
        ("llm_api.port", "0".into()),
    ];
    o.extend(extra.iter().cloned());
    let (base, cfg) = guidance::load_config(&backing.overrides(&o)).expect("config");
    platform::cli::migrate(&base, guidance::MIGRATIONS)
        .await
        .expect("migrate");
    let app = guidance::Application::build(base, cfg)
        .await
        .expect("build");
    let api_port = app.llm_api_port().expect("the API is enabled");
    let state = app.state();
    let running =
        testkit::Running::spawn(app.port(), app.shutdown_token(), app.run_until_stopped());
    App {
        api: format!("http://127.0.0.1:{api_port}"),
        main: running.address.clone(),
        running,
        state,
        http: platform::http_client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client"),
        _backing: (backing.db, backing.nats),
    }
}

fn openai_at(base_url: &str) -> guidance::llm::openai::OpenAiProvider {
    crate::openai::provider(
        base_url,
        &[
            ("llm.openai.max_retries", "0"),
            ("llm.openai.read_timeout_ms", "30000"),
        ],
    )
}

#[tokio::test]
async fn the_openai_provider_streams_an_answer_from_the_services_own_api() {
    let app = spawn_app(&[]).await;
    let p = openai_at(&format!("{}/v1", app.api));
    let s = p
        .generate(request(
            "What is the Sun's sign in Vedic astrology called?",
            12,
        ))
        .await
        .expect("generate");
    let (deltas, usage) = collect(s).await;
    assert!(!deltas.is_empty());
    assert!(!deltas.concat().trim().is_empty());
    // The usage came from the server (stream_options.include_usage).
    assert!(usage.prompt_tokens > 10, "{usage:?}");
    assert!((1..=12).contains(&usage.completion_tokens), "{usage:?}");
}

#[tokio::test]
async fn chat_completions_without_streaming_models_and_errors() {
    let app = spawn_app(&[]).await;
    let r = app
        .http
        .post(format!("{}/v1/chat/completions", app.api))
        .json(&serde_json::json!({
            "model": "anything",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}],
            "max_tokens": 8,
            "temperature": 0
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or("")
        .is_empty());
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap_or(0) <= 8);
    assert!(["stop", "length"].contains(&v["choices"][0]["finish_reason"].as_str().unwrap_or("")));

    let models: serde_json::Value = app
        .http
        .get(format!("{}/v1/models", app.api))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(models["data"][0]["id"], guidance::llm_api::MODEL_ID);

    for (body, field) in [
        (serde_json::json!({"messages": []}), "messages"),
        (
            serde_json::json!({"messages": [{"role": "tool", "content": "x"}]}),
            "role",
        ),
        (
            serde_json::json!({"messages": [{"role": "user", "content": "x"}], "temperature": 5}),
            "temperature",
        ),
        (
            serde_json::json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}),
            "max_tokens",
        ),
        (serde_json::json!({"messages": "nope"}), "malformed"),
    ] {
        let r = app
            .http
            .post(format!("{}/v1/chat/completions", app.api))
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 400, "{body}");
        assert!(r.headers().contains_key("x-request-id"));
        let e: serde_json::Value = r.json().await.expect("json");
        assert_eq!(e["error"]["code"], "bad_request");
        assert_eq!(e["error"]["type"], "invalid_request_error");
        assert!(
            e["error"]["message"].as_str().unwrap_or("").contains(field),
            "{e}"
        );
    }
    let r = app
        .http
        .get(format!("{}/v1/nothing", app.api))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let e: serde_json::Value = r.json().await.expect("json");
    assert_eq!(e["error"]["code"], "not_found");
    // The API is not on the main port.
    let r = app
        .http
        .get(format!("{}/v1/models", app.main))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn streaming_is_server_sent_events_ending_with_done() {
    let app = spawn_app(&[]).await;
    let r = app
        .http
        .post(format!("{}/v1/chat/completions", app.api))
        .json(&serde_json::json!({
            "messages": [{"role": "user", "content": "नमस्ते! Say hello in Hindi."}],
            "max_tokens": 8,
            "stream": true,
            "stream_options": {"include_usage": true}
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/event-stream"));
    let body = r.text().await.expect("body");
    let events: Vec<&str> = body.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert!(events.iter().all(|e| e.starts_with("data: ")), "{body}");
    assert_eq!(events.last().copied(), Some("data: [DONE]"));
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(&e["data: ".len()..]).expect("chunk JSON"))
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    let finish: Vec<_> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish.len(), 1);
    let usage = &chunks[chunks.len() - 1]["usage"];
    assert!(
        usage["completion_tokens"].as_u64().unwrap_or(0) >= 1,
        "{body}"
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!text.is_empty());
}

#[tokio::test]
async fn shutdown_stops_the_api_and_metrics_are_registered() {
    let mut app = spawn_app(&[]).await;
    // The service's chain (built from its configuration) answers, and its
    // metrics are on the service's /metrics.
    assert_eq!(app.state.llm.providers(), vec!["local"]);
    let (provider, s) = app
        .state
        .llm
        .generate(request("Hello", 4))
        .await
        .expect("answer");
    assert_eq!(provider, "local");
    let _ = collect(s).await;
    let m = app
        .http
        .get(format!("{}/metrics", app.main))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(
        m.contains("# TYPE jyotiflow_llm_time_to_first_token_seconds histogram"),
        "{m}"
    );
    assert!(
        m.contains(r#"jyotiflow_llm_time_to_first_token_seconds_count{service="guidance",provider="local"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"jyotiflow_llm_generated_tokens_total{service="guidance",provider="local"}"#)
    );
    assert_eq!(
        app.http
            .get(format!("{}/v1/models", app.api))
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    app.running.stop().await;
    let r = app.http.get(format!("{}/v1/models", app.api)).send().await;
    assert!(r.is_err(), "the API still answers after shutdown");
}

#[tokio::test]
async fn without_the_model_the_api_says_so() {
    let app = spawn_app(&[("llm.local.gguf", "/nonexistent/model.gguf".into())]).await;
    let r = app
        .http
        .post(format!("{}/v1/chat/completions", app.api))
        .json(&serde_json::json!({"messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 503);
    let e: serde_json::Value = r.json().await.expect("json");
    assert_eq!(e["error"]["code"], "service_unavailable");
    // And the openai provider pointed at it fails before any token.
    let p = openai_at(&format!("{}/v1", app.api));
    assert!(matches!(
        p.generate(request("hi", 4)).await,
        Err(LlmError::Provider { .. })
    ));
}
