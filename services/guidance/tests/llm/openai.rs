//! The openai provider against small local servers that speak the
//! chat-completions protocol (status codes, SSE, stalls).

use crate::helpers::{collect, request};
use actix_web::{web, HttpResponse};
use futures_util::StreamExt;
use guidance::llm::openai::OpenAiProvider;
use guidance::llm::{Chunk, LlmError, Provider, Usage};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const SSE_OK: &str = concat!(
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n",
    ": a comment line\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" வணக்கம்\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2,\"total_tokens\":14}}\n\n",
    "data: [DONE]\n\n",
);

#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Answers `status` to the first `n` requests, then `SSE_OK`.
    FailFirst { n: usize, status: u16 },
    /// Sends one delta, then nothing more (the connection stays open).
    Stall,
    /// One delta, then the connection ends without `[DONE]`.
    Truncated,
}

pub struct Mock {
    pub base_url: String,
    pub hits: Arc<AtomicUsize>,
    /// The Authorization header of the last request.
    pub auth: Arc<std::sync::Mutex<Option<String>>>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let h = self.handle.clone();
        tokio::spawn(async move { h.stop(false).await });
    }
}

struct MockState {
    behaviour: Behaviour,
    hits: Arc<AtomicUsize>,
    auth: Arc<std::sync::Mutex<Option<String>>>,
}

async fn completions(
    req: actix_web::HttpRequest,
    body: web::Json<serde_json::Value>,
    s: web::Data<MockState>,
) -> HttpResponse {
    let n = s.hits.fetch_add(1, Ordering::SeqCst);
    *s.auth.lock().expect("lock") = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(body["stream"], true);
    assert!(body["messages"].as_array().is_some_and(|m| !m.is_empty()));
    match s.behaviour {
        Behaviour::FailFirst { n: fails, status } if n < fails => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
                .json(serde_json::json!({"error": {"message": "try again later", "type": "x"}}))
        }
        Behaviour::FailFirst { .. } => HttpResponse::Ok()
            .content_type("text/event-stream")
            .body(SSE_OK),
        Behaviour::Stall => {
            let first = web::Bytes::from_static(
                b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            );
            let s = futures_util::stream::once(async move { Ok::<_, actix_web::Error>(first) })
                .chain(futures_util::stream::pending());
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .streaming(s)
        }
        Behaviour::Truncated => HttpResponse::Ok()
            .content_type("text/event-stream")
            .body("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"),
    }
}

pub fn start_mock(behaviour: Behaviour) -> Mock {
    let hits = Arc::new(AtomicUsize::new(0));
    let auth = Arc::new(std::sync::Mutex::new(None));
    let state = web::Data::new(MockState {
        behaviour,
        hits: hits.clone(),
        auth: auth.clone(),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .route("/v1/chat/completions", web::post().to(completions))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Mock {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        hits,
        auth,
        handle,
    }
}

pub fn provider(base_url: &str, extra: &[(&str, &str)]) -> OpenAiProvider {
    let mut o = vec![
        ("llm.openai.base_url", base_url),
        ("llm.openai.max_retries", "2"),
        ("llm.openai.read_timeout_ms", "2000"),
        ("llm.openai.connect_timeout_ms", "500"),
    ];
    o.extend_from_slice(extra);
    let cfg = crate::helpers::config(&o);
    OpenAiProvider::new(&cfg.llm.openai)
        .expect("client")
        .with_min_backoff(Duration::from_millis(10))
}

#[tokio::test]
async fn streams_deltas_and_the_usage() {
    let mock = start_mock(Behaviour::FailFirst { n: 0, status: 500 });
    let p = provider(&mock.base_url, &[]);
    let (deltas, usage) = collect(p.generate(request("hi", 16)).await.expect("generate")).await;
    assert_eq!(deltas, vec!["Hello".to_owned(), " வணக்கம்".to_owned()]);
    assert_eq!(
        usage,
        Usage {
            prompt_tokens: 12,
            completion_tokens: 2
        }
    );
    assert_eq!(mock.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retries_429_and_5xx_before_the_first_token() {
    for status in [429, 503] {
        let mock = start_mock(Behaviour::FailFirst { n: 2, status });
        let p = provider(&mock.base_url, &[]);
        let (deltas, _) = collect(p.generate(request("hi", 16)).await.expect("generate")).await;
        assert_eq!(deltas.concat(), "Hello வணக்கம்");
        assert_eq!(mock.hits.load(Ordering::SeqCst), 3, "status {status}");
    }
}

#[tokio::test]
async fn gives_up_after_max_retries() {
    let mock = start_mock(Behaviour::FailFirst {
        n: 100,
        status: 500,
    });
    let p = provider(&mock.base_url, &[("llm.openai.max_retries", "1")]);
    match p.generate(request("hi", 16)).await {
        Err(LlmError::Provider { message, .. }) => {
            assert!(message.contains("500"), "{message}");
            assert!(message.contains("try again later"), "{message}");
        }
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("expected an error"),
    }
    assert_eq!(mock.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let mock = start_mock(Behaviour::FailFirst {
        n: 100,
        status: 400,
    });
    let p = provider(&mock.base_url, &[]);
    assert!(p.generate(request("hi", 16)).await.is_err());
    assert_eq!(mock.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stalled_stream_fails_after_the_read_timeout() {
    let mock = start_mock(Behaviour::Stall);
    let p = provider(&mock.base_url, &[("llm.openai.read_timeout_ms", "300")]);
    let mut s = p.generate(request("hi", 16)).await.expect("generate");
    assert_eq!(
        s.next().await.expect("item").expect("ok"),
        Chunk::Delta("Hi".into())
    );
    let t = std::time::Instant::now();
    let e = s.next().await.expect("item").expect_err("a stall error");
    assert!(e.to_string().contains("stalled"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(s.next().await.is_none());
    // Not retried: a token had been sent.
    assert_eq!(mock.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stream_cut_short_is_an_error_not_an_answer() {
    let mock = start_mock(Behaviour::Truncated);
    let p = provider(&mock.base_url, &[]);
    let mut s = p.generate(request("hi", 16)).await.expect("generate");
    assert!(matches!(s.next().await, Some(Ok(Chunk::Delta(_)))));
    assert!(matches!(s.next().await, Some(Err(_))));
}

#[tokio::test]
async fn the_api_key_is_sent_as_a_bearer_token() {
    let mock = start_mock(Behaviour::FailFirst { n: 0, status: 500 });
    let p = provider(&mock.base_url, &[("llm.openai.api_key", "sk-test-123")]);
    let _ = collect(p.generate(request("hi", 16)).await.expect("generate")).await;
    assert_eq!(
        mock.auth.lock().expect("lock").as_deref(),
        Some("Bearer sk-test-123")
    );
}

#[tokio::test]
async fn without_a_base_url_it_is_not_configured() {
    let p = provider("", &[]);
    assert!(matches!(
        p.generate(request("hi", 4)).await,
        Err(LlmError::NotConfigured(_))
    ));
}
