//! A small local server that speaks the chat-completions protocol, for the
//! cases the real model cannot be made to produce on demand: a provider
//! that fails, and one that stalls after its first sentence.

use actix_web::{web, HttpResponse};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Every request answers 500.
    Fails,
    /// One whole sentence, then the stream stays open without another byte.
    StallsAfterASentence,
}

pub struct FakeOpenAi {
    /// The base URL the provider is configured with (`…/v1`).
    pub base_url: String,
    pub hits: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        let h = self.handle.clone();
        tokio::spawn(async move { h.stop(false).await });
    }
}

struct State {
    behaviour: Behaviour,
    hits: Arc<AtomicUsize>,
}

async fn completions(s: web::Data<State>) -> HttpResponse {
    s.hits.fetch_add(1, Ordering::SeqCst);
    match s.behaviour {
        Behaviour::Fails => HttpResponse::InternalServerError()
            .json(serde_json::json!({"error": {"message": "boom", "type": "server_error"}})),
        Behaviour::StallsAfterASentence => {
            let first = web::Bytes::from_static(
                b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Namaste, dear one. Your question is a good one. \"}}]}\n\n",
            );
            let body = futures_util::stream::once(async move { Ok::<_, actix_web::Error>(first) })
                .chain(futures_util::stream::pending());
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .streaming(body)
        }
    }
}

pub fn start(behaviour: Behaviour) -> FakeOpenAi {
    let hits = Arc::new(AtomicUsize::new(0));
    let state = web::Data::new(State {
        behaviour,
        hits: hits.clone(),
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
    FakeOpenAi {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        hits,
        handle,
    }
}
