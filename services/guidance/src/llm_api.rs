//! The local model as an OpenAI-compatible API, for other tools (and to
//! test the `openai` provider against a real server):
//!
//! * `POST /v1/chat/completions`: streamed (`"stream": true`: Server-Sent
//!   Events, `data: {chunk}` per delta, then `data: [DONE]`) or not;
//!   `stream_options.include_usage` adds a last chunk with the usage.
//! * `GET /v1/models`: the one model served.
//!
//! It listens on `llm_api.port` (bound like the main port, on `http.host`),
//! is not routed by the gateway and has no authentication of its own: keep
//! the port inside the cluster. It is a second actix server, started by
//! [`start`] and stopped gracefully when the service shuts down. Errors use
//! the platform's shape, which is also OpenAI's (`{"error": {"code",
//! "message", "type", "request_id"}}`).

use crate::llm::local::LocalProvider;
use crate::llm::wire::{
    AssistantMessage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Choice,
    ChunkChoice, Delta, ModelCard, ModelList, WireUsage,
};
use crate::llm::{ChatMessage, ChatRequest, Chunk, LlmError, Provider, Usage};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use futures_util::StreamExt;
use platform::runtime::Runtime;
use std::sync::Arc;

/// The model id `GET /v1/models` lists and answers name.
pub const MODEL_ID: &str = "smollm2-135m-instruct";

struct ApiState {
    local: Option<Arc<LocalProvider>>,
    created: i64,
}

/// Starts the API when enabled; returns its port.
pub fn start(runtime: &mut Runtime, state: web::Data<AppState>) -> anyhow::Result<Option<u16>> {
    if !state.cfg.llm_api.enabled {
        return Ok(None);
    }
    let http = &runtime.config.http;
    let wanted = state.cfg.llm_api.port;
    let (listener, port) = platform::http::bind(&http.host, wanted).map_err(|e| {
        anyhow::anyhow!(
            "llm_api.port {wanted} on {}: {e} (tests: set llm_api.port = 0 or llm_api.enabled = false)",
            http.host
        )
    })?;
    let api = web::Data::new(ApiState {
        local: state.llm.local(),
        created: chrono::Utc::now().timestamp(),
    });
    let metrics = web::Data::new(runtime.metrics.clone());
    let body_limit = http.body_limit_bytes;
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(actix_web::middleware::from_fn(platform::http::observe))
            .app_data(metrics.clone())
            .app_data(api.clone())
            .app_data(web::PayloadConfig::new(body_limit))
            .configure(routes)
            .default_service(web::to(not_found))
    })
    .disable_signals()
    .workers(1)
    .shutdown_timeout(http.shutdown_timeout_secs)
    .listen(listener)?
    .run();
    let handle = server.handle();
    let shutdown = runtime.shutdown.clone();
    runtime.spawn(move |background| async move {
        let mut task = tokio::spawn(server);
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = background.cancelled() => {}
            r = &mut task => {
                if let Ok(Err(e)) = r {
                    tracing::error!(error = %e, "the OpenAI-compatible API stopped");
                }
                return;
            }
        }
        // Stop taking requests; answers being streamed finish.
        handle.stop(true).await;
        let _ = task.await;
        tracing::info!("OpenAI-compatible API stopped");
    });
    tracing::info!(port, "OpenAI-compatible API of the local model listening");
    Ok(Some(port))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/chat/completions", web::post().to(chat_completions))
        .route("/v1/models", web::get().to(models));
}

fn error(status: StatusCode, code: &str, kind: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({
        "error": {
            "code": code,
            "message": message.into(),
            "type": kind,
            "request_id": platform::http::current_request_id(),
        }
    }))
}

fn invalid(message: impl Into<String>) -> HttpResponse {
    error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "invalid_request_error",
        message,
    )
}

fn llm_error(e: &LlmError) -> HttpResponse {
    match e {
        LlmError::PromptTooLong => error(
            StatusCode::BAD_REQUEST,
            "context_length_exceeded",
            "invalid_request_error",
            e.to_string(),
        ),
        LlmError::NotConfigured(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "server_error",
            "the local model is not installed on this server",
        ),
        _ => {
            tracing::error!(error = %e, "local generation failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "server_error",
                "the model could not answer",
            )
        }
    }
}

async fn not_found() -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "invalid_request_error",
        "no such resource",
    )
}

async fn models(api: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok().json(ModelList {
        object: "list".into(),
        data: vec![ModelCard {
            id: MODEL_ID.into(),
            object: "model".into(),
            created: api.created,
            owned_by: "jyotiflow".into(),
        }],
    })
}

/// The request as the provider takes it, or what is wrong with it (a 400).
fn parse(
    body: &[u8],
    local: &LocalProvider,
) -> Result<(ChatCompletionRequest, ChatRequest), String> {
    let req: ChatCompletionRequest =
        serde_json::from_slice(body).map_err(|e| format!("malformed request: {e}"))?;
    if req.messages.is_empty() {
        return Err("messages must not be empty".into());
    }
    let messages = req
        .messages
        .iter()
        .map(ChatMessage::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(t) = req.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err("temperature must be between 0 and 2".into());
        }
    }
    if let Some(p) = req.top_p {
        if !(p > 0.0 && p <= 1.0) {
            return Err("top_p must be in (0, 1]".into());
        }
    }
    let default_max = local.model().map(|m| m.config().max_tokens).unwrap_or(256);
    let max_tokens = match req.max_completion_tokens.or(req.max_tokens) {
        Some(0) => return Err("max_tokens must be at least 1".into()),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => default_max,
    };
    let chat = ChatRequest {
        messages,
        max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
    };
    Ok((req, chat))
}

fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::now_v7().simple())
}

fn finish_reason(usage: &Usage, max_tokens: usize) -> &'static str {
    if usage.completion_tokens as usize >= max_tokens {
        "length"
    } else {
        "stop"
    }
}

async fn chat_completions(api: web::Data<ApiState>, body: web::Bytes) -> HttpResponse {
    let Some(local) = api.local.clone() else {
        return llm_error(&LlmError::NotConfigured("local".into()));
    };
    let (wire, req) = match parse(&body, &local) {
        Ok(r) => r,
        Err(why) => return invalid(why),
    };
    let max_tokens = req.max_tokens.min(
        local
            .model()
            .map(|m| m.config().max_tokens)
            .unwrap_or(usize::MAX),
    );
    let stream = match local.generate(req).await {
        Ok(s) => s,
        Err(e) => return llm_error(&e),
    };
    let id = completion_id();
    let created = chrono::Utc::now().timestamp();
    if !wire.stream {
        return collect(stream, id, created, max_tokens).await;
    }
    let include_usage = wire.stream_options.is_some_and(|o| o.include_usage);
    let chunk = move |delta: Delta, finish: Option<&str>, usage: Option<WireUsage>| {
        let c = ChatCompletionChunk {
            id: id.clone(),
            object: "chat.completion.chunk".into(),
            created,
            model: MODEL_ID.into(),
            choices: if usage.is_some() && finish.is_none() && delta.content.is_none() {
                Vec::new()
            } else {
                vec![ChunkChoice {
                    index: 0,
                    delta,
                    finish_reason: finish.map(str::to_owned),
                }]
            },
            usage,
        };
        sse(&serde_json::to_string(&c).unwrap_or_default())
    };
    let opening = chunk(
        Delta {
            role: Some("assistant".into()),
            content: Some(String::new()),
        },
        None,
        None,
    );
    let body = futures_util::stream::once(async move { opening }).chain(
        futures_util::stream::unfold((stream, false), move |(mut stream, over)| {
            let chunk = chunk.clone();
            async move {
                if over {
                    return None;
                }
                match stream.next().await {
                    Some(Ok(Chunk::Delta(text))) => Some((
                        chunk(
                            Delta {
                                role: None,
                                content: Some(text),
                            },
                            None,
                            None,
                        ),
                        (stream, false),
                    )),
                    Some(Ok(Chunk::Done(usage))) => {
                        let mut out = chunk(
                            Delta::default(),
                            Some(finish_reason(&usage, max_tokens)),
                            None,
                        );
                        if include_usage {
                            out.extend_from_slice(&chunk(
                                Delta::default(),
                                None,
                                Some(usage.into()),
                            ));
                        }
                        out.extend_from_slice(&sse("[DONE]"));
                        Some((out, (stream, true)))
                    }
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "local generation failed mid-answer");
                        let body = serde_json::json!({"error": {
                            "code": "service_unavailable",
                            "message": "the model stopped answering",
                            "type": "server_error",
                        }});
                        let mut out = sse(&body.to_string());
                        out.extend_from_slice(&sse("[DONE]"));
                        Some((out, (stream, true)))
                    }
                    None => None,
                }
            }
        }),
    );
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(body.map(|b| Ok::<_, actix_web::Error>(web::Bytes::from(b))))
}

fn sse(data: &str) -> Vec<u8> {
    format!("data: {data}\n\n").into_bytes()
}

async fn collect(
    mut stream: crate::llm::ChunkStream,
    id: String,
    created: i64,
    max_tokens: usize,
) -> HttpResponse {
    let mut text = String::new();
    let mut usage = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(Chunk::Delta(t)) => text.push_str(&t),
            Ok(Chunk::Done(u)) => {
                usage = Some(u);
                break;
            }
            Err(e) => return llm_error(&e),
        }
    }
    let usage = usage.unwrap_or_default();
    HttpResponse::Ok().json(ChatCompletion {
        id,
        object: "chat.completion".into(),
        created,
        model: MODEL_ID.into(),
        choices: vec![Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant".into(),
                content: Some(text),
            },
            finish_reason: Some(finish_reason(&usage, max_tokens).into()),
        }],
        usage: Some(usage.into()),
    })
}
