//! Local servers that speak the providers' documented protocols: ElevenLabs
//! text-to-speech and D-ID talks, with the failures the tests need
//! (transient 503s, permanent refusals, a request held open).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

fn serve(
    configure: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
) -> (String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), handle)
}

/// How the fake ElevenLabs answers.
#[derive(Clone, Copy, Debug)]
pub enum Eleven {
    /// The first `n` requests answer this status, then audio.
    FailsFirst(usize, u16),
    /// Every request answers this status.
    AlwaysFails(u16),
    /// Requests wait until [`FakeEleven::open`], then get audio.
    Held,
}

pub struct FakeEleven {
    pub base_url: String,
    pub hits: Arc<AtomicUsize>,
    /// (path, xi-api-key, body) of each request.
    pub requests: Arc<Mutex<Vec<(String, String, Value)>>>,
    gate: watch::Sender<bool>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeEleven {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Lets held requests (and all later ones) through.
    pub fn open(&self) {
        let _ = self.gate.send(true);
    }
}

impl Drop for FakeEleven {
    fn drop(&mut self) {
        let _ = self.gate.send(true);
        let h = self.handle.clone();
        tokio::spawn(async move { h.stop(false).await });
    }
}

struct ElevenState {
    behaviour: Eleven,
    audio: Vec<u8>,
    hits: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<(String, String, Value)>>>,
    gate: watch::Receiver<bool>,
}

async fn tts(req: HttpRequest, body: web::Bytes, s: web::Data<ElevenState>) -> HttpResponse {
    let n = s.hits.fetch_add(1, Ordering::SeqCst);
    let key = req
        .headers()
        .get("xi-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.requests
        .lock()
        .unwrap()
        .push((req.uri().to_string(), key.clone(), json.clone()));
    if key != "test-eleven-key" {
        return HttpResponse::Unauthorized()
            .json(json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}));
    }
    if json["text"].as_str().unwrap_or("").is_empty() || json["model_id"].as_str().is_none() {
        return HttpResponse::BadRequest().json(
            json!({"detail": {"status": "invalid", "message": "text and model_id are required"}}),
        );
    }
    let fail = |status: u16| {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(
            json!({"detail": {"status": "error", "message": format!("fake failure {status}")}}),
        )
    };
    match s.behaviour {
        Eleven::AlwaysFails(status) => return fail(status),
        Eleven::FailsFirst(k, status) if n < k => return fail(status),
        Eleven::Held => {
            let mut gate = s.gate.clone();
            let _ = gate.wait_for(|open| *open).await;
        }
        _ => {}
    }
    HttpResponse::Ok()
        .content_type("audio/mpeg")
        .body(s.audio.clone())
}

/// Starts a fake ElevenLabs that answers with `audio` (MP3 bytes).
pub fn eleven(behaviour: Eleven, audio: Vec<u8>) -> FakeEleven {
    let hits = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (gate, rx) = watch::channel(false);
    let state = web::Data::new(ElevenState {
        behaviour,
        audio,
        hits: hits.clone(),
        requests: requests.clone(),
        gate: rx,
    });
    let (base_url, handle) = serve(move |cfg| {
        cfg.app_data(state.clone())
            .route("/v1/text-to-speech/{voice}", web::post().to(tts));
    });
    FakeEleven {
        base_url,
        hits,
        requests,
        gate,
        handle,
    }
}

pub struct FakeDId {
    pub base_url: String,
    /// Bodies of `POST /talks`.
    pub created: Arc<Mutex<Vec<Value>>>,
    /// `GET /talks/{id}` requests.
    pub polls: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for FakeDId {
    fn drop(&mut self) {
        let h = self.handle.clone();
        tokio::spawn(async move { h.stop(false).await });
    }
}

struct DIdState {
    base_url: Mutex<String>,
    video: Vec<u8>,
    created: Arc<Mutex<Vec<Value>>>,
    polls: Arc<AtomicUsize>,
}

fn authorised(req: &HttpRequest) -> bool {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some("Basic test-did-key")
}

async fn create_talk(req: HttpRequest, body: web::Bytes, s: web::Data<DIdState>) -> HttpResponse {
    if !authorised(&req) {
        return HttpResponse::Unauthorized()
            .json(json!({"kind": "AuthorizationError", "description": "bad key"}));
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ok = v["source_url"]
        .as_str()
        .is_some_and(|u| u.starts_with("http"))
        && v["script"]["type"] == "text"
        && v["script"]["input"].as_str().is_some_and(|t| !t.is_empty());
    if !ok {
        return HttpResponse::BadRequest()
            .json(json!({"kind": "ValidationError", "description": "invalid talk"}));
    }
    s.created.lock().unwrap().push(v);
    HttpResponse::Created().json(json!({"id": "tlk_test-1", "status": "created", "object": "talk"}))
}

async fn get_talk(req: HttpRequest, id: web::Path<String>, s: web::Data<DIdState>) -> HttpResponse {
    if !authorised(&req) {
        return HttpResponse::Unauthorized().finish();
    }
    if id.as_str() != "tlk_test-1" {
        return HttpResponse::NotFound()
            .json(json!({"kind": "NotFoundError", "description": "no talk"}));
    }
    let n = s.polls.fetch_add(1, Ordering::SeqCst);
    match n {
        // A transient failure first: the client retries it.
        0 => HttpResponse::ServiceUnavailable().json(json!({"description": "busy"})),
        1 => HttpResponse::Ok().json(json!({"id": "tlk_test-1", "status": "started"})),
        _ => {
            let base = s.base_url.lock().unwrap().clone();
            HttpResponse::Ok().json(json!({
                "id": "tlk_test-1", "status": "done",
                "result_url": format!("{base}/files/tlk_test-1.mp4"),
            }))
        }
    }
}

async fn file(s: web::Data<DIdState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("video/mp4")
        .body(s.video.clone())
}

/// Starts a fake D-ID whose finished talk is `video` (MP4 bytes).
pub fn did(video: Vec<u8>) -> FakeDId {
    let created = Arc::new(Mutex::new(Vec::new()));
    let polls = Arc::new(AtomicUsize::new(0));
    let state = web::Data::new(DIdState {
        base_url: Mutex::new(String::new()),
        video,
        created: created.clone(),
        polls: polls.clone(),
    });
    let s2 = state.clone();
    let (base_url, handle) = serve(move |cfg| {
        cfg.app_data(s2.clone())
            .route("/talks", web::post().to(create_talk))
            .route("/talks/{id}", web::get().to(get_talk))
            .route("/files/{name}", web::get().to(file));
    });
    *state.base_url.lock().unwrap() = base_url.clone();
    FakeDId {
        base_url,
        created,
        polls,
        handle,
    }
}
