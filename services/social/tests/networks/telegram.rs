//! Telegram: a fake Bot API (`/bot<token>/sendPhoto|sendVideo|sendMessage`
//! with the `ok` envelope) and the client.

use crate::fakes::{self, deliver, params, Fault, Script, Server};
use crate::{fast_retry, gaps, marker, png, start, TG_TOKEN};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use social::networks::{
    Media, NetworkError, OutgoingPost, Publisher, Telegram, TelegramChannel, TelegramConfig,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const CHANNEL: &str = "@jyotiflow_daily";

#[derive(Clone, Debug)]
pub struct Sent {
    pub method: String,
    pub chat_id: String,
    pub caption: String,
    pub file: Option<(String, String, Vec<u8>)>,
    pub file_url: Option<String>,
}

#[derive(Default)]
pub struct TgState {
    pub sent: Mutex<Vec<Sent>>,
    /// The bot was removed from the channel.
    pub kicked: AtomicBool,
    pub script: Script,
}

pub struct FakeTelegram {
    pub server: Server,
    pub state: Arc<TgState>,
}

impl FakeTelegram {
    pub fn sent(&self) -> Vec<Sent> {
        self.state.sent.lock().unwrap().clone()
    }
}

fn refuse(code: u16, description: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
        .json(json!({"ok": false, "error_code": code, "description": description}))
}

async fn method(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    s: web::Data<Arc<TgState>>,
) -> HttpResponse {
    let (bot, method) = path.into_inner();
    if bot != format!("bot{TG_TOKEN}") {
        return refuse(401, "Unauthorized");
    }
    let p = params(&req, &body);
    let field = match method.as_str() {
        "sendPhoto" => "photo",
        "sendVideo" => "video",
        "sendMessage" => "text",
        _ => return refuse(404, "Not Found"),
    };
    let fault = s.script.next();
    if let Some(r) = fault.as_ref().and_then(Fault::response) {
        return r;
    }
    if p.get("chat_id") != Some(CHANNEL) {
        return refuse(400, "Bad Request: chat not found");
    }
    if s.kicked.load(Ordering::SeqCst) {
        return refuse(403, "Forbidden: bot is not a member of the channel chat");
    }
    let caption = if field == "text" {
        p.get("text").unwrap_or("").to_owned()
    } else {
        p.get("caption").unwrap_or("").to_owned()
    };
    let limit = if field == "text" { 4096 } else { 1024 };
    if caption.encode_utf16().count() > limit {
        return refuse(400, "Bad Request: message caption is too long");
    }
    let file = p
        .files
        .get(field)
        .map(|f| (f.file_name.clone(), f.content_type.clone(), f.data.clone()));
    let file_url = p.get(field).filter(|_| field != "text").map(str::to_owned);
    if field != "text" && file.is_none() && file_url.is_none() {
        return refuse(
            400,
            &format!("Bad Request: there is no {field} in the request"),
        );
    }
    let message_id = {
        let mut sent = s.sent.lock().unwrap();
        sent.push(Sent {
            method: method.clone(),
            chat_id: CHANNEL.into(),
            caption: caption.clone(),
            file,
            file_url,
        });
        100 + sent.len() as i64
    };
    let ok = HttpResponse::Ok().json(json!({"ok": true, "result": {
        "message_id": message_id,
        "sender_chat": {"id": -1001234567890i64, "title": "JyotiFlow Daily", "username": "jyotiflow_daily", "type": "channel"},
        "chat": {"id": -1001234567890i64, "title": "JyotiFlow Daily", "username": "jyotiflow_daily", "type": "channel"},
        "date": 1735689600,
        "caption": caption,
    }}));
    deliver(fault, ok).await
}

pub fn fake() -> FakeTelegram {
    let state = Arc::new(TgState::default());
    let data = web::Data::new(state.clone());
    let server = fakes::serve(move |cfg| {
        cfg.app_data(data.clone())
            .route("/{bot}/{method}", web::post().to(method));
    });
    FakeTelegram { server, state }
}

pub fn client(f: &FakeTelegram, token: &str, timeout_ms: u64) -> Telegram {
    Telegram::new(
        &TelegramConfig {
            base_url: f.server.base_url.clone(),
            timeout_ms,
            retry: fast_retry(),
        },
        TelegramChannel {
            chat_id: CHANNEL.into(),
            bot_token: token.into(),
        },
    )
    .unwrap()
}

fn photo_post(key: &str) -> OutgoingPost {
    OutgoingPost::text(marker(key), "இன்றைய பஞ்சாங்கம் 🙏").with_media(Media::image_bytes(
        png(),
        "image/png",
        "card.png",
    ))
}

#[tokio::test]
async fn sends_a_photo_to_the_channel() {
    start();
    let f = fake();
    let tg = client(&f, TG_TOKEN, 5_000);
    let post = photo_post("tg-photo");
    let p = tg.publish(&post).await.unwrap();
    let sent = f.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "sendPhoto");
    assert_eq!(sent[0].chat_id, CHANNEL);
    assert_eq!(
        sent[0].caption,
        format!("இன்றைய பஞ்சாங்கம் 🙏\n\n{}", post.marker.tag())
    );
    let (name, ct, data) = sent[0].file.clone().unwrap();
    assert_eq!((name.as_str(), ct.as_str()), ("card.png", "image/png"));
    assert_eq!(data, png());
    assert_eq!(p.provider_post_id, "101");
    assert_eq!(p.url.as_deref(), Some("https://t.me/jyotiflow_daily/101"));
}

#[tokio::test]
async fn sends_a_video_and_a_text_message() {
    start();
    let f = fake();
    let tg = client(&f, TG_TOKEN, 5_000);
    let post = OutgoingPost::text(marker("tg-video"), "Aarti").with_media(Media::video_bytes(
        vec![0u8; 4096],
        "video/mp4",
        "aarti.mp4",
    ));
    tg.publish(&post).await.unwrap();
    tg.publish(&OutgoingPost::text(marker("tg-text"), "Good morning"))
        .await
        .unwrap();
    let sent = f.sent();
    assert_eq!(sent[0].method, "sendVideo");
    assert_eq!(sent[0].file.as_ref().unwrap().2.len(), 4096);
    assert_eq!(sent[1].method, "sendMessage");
    assert!(sent[1].caption.starts_with("Good morning\n\n#jf"));
}

#[tokio::test]
async fn sends_a_photo_by_url() {
    start();
    let f = fake();
    let tg = client(&f, TG_TOKEN, 5_000);
    let post = OutgoingPost::text(marker("tg-url"), "Card").with_media(Media::image_url(
        "https://cdn.jyotiflow.app/c.png",
        "image/png",
    ));
    tg.publish(&post).await.unwrap();
    let sent = f.sent();
    assert_eq!(
        sent[0].file_url.as_deref(),
        Some("https://cdn.jyotiflow.app/c.png")
    );
    assert!(sent[0].file.is_none());
}

#[tokio::test]
async fn a_wrong_token_is_expired_credentials_and_a_kicked_bot_unauthorized() {
    start();
    let f = fake();
    let tg = client(&f, "123:revoked", 5_000);
    let e = tg.publish(&photo_post("tg-401")).await.unwrap_err();
    assert_eq!(
        e,
        NetworkError::ExpiredCredentials {
            network: social::networks::Network::Telegram,
            provider_message: "Unauthorized".into()
        }
    );
    f.state.kicked.store(true, Ordering::SeqCst);
    let tg = client(&f, TG_TOKEN, 5_000);
    let e = tg.publish(&photo_post("tg-403")).await.unwrap_err();
    match e {
        NetworkError::Unauthorized {
            provider_message, ..
        } => {
            assert_eq!(
                provider_message,
                "Forbidden: bot is not a member of the channel chat"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(f.sent().is_empty());
}

#[tokio::test]
async fn flood_wait_is_waited_for() {
    start();
    let f = fake();
    f.state.script.push(Fault::status(
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}),
    ));
    let tg = client(&f, TG_TOKEN, 5_000);
    tg.publish(&photo_post("tg-429")).await.unwrap();
    assert_eq!(f.sent().len(), 1);
    let g = gaps(&f.state.script.arrivals());
    assert_eq!(g.len(), 1);
    assert!(g[0] >= Duration::from_secs(1), "{g:?}");
    assert!(g[0] < Duration::from_millis(2_500), "{g:?}");
}

#[tokio::test]
async fn a_timeout_is_unconfirmed_and_never_resent() {
    start();
    let f = fake();
    f.state
        .script
        .push(Fault::AcceptThenDelay(Duration::from_millis(4_000)));
    let tg = client(&f, TG_TOKEN, 1_500);
    let mut post = photo_post("tg-timeout");
    let e = tg.publish(&post).await.unwrap_err();
    match &e {
        NetworkError::Unconfirmed { reason, .. } => {
            assert!(reason.contains("timed out"), "{reason}");
            assert!(reason.contains(&post.marker.tag()), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.state.script.arrivals().len(), 1, "not sent again");
    // The scheduler's retry with prior_attempt is refused without sending.
    post.prior_attempt = true;
    let e = tg.publish(&post).await.unwrap_err();
    assert!(matches!(e, NetworkError::Unconfirmed { .. }), "{e:?}");
    tokio::time::sleep(Duration::from_millis(4_300)).await;
    assert_eq!(f.sent().len(), 1);
    assert_eq!(f.state.script.arrivals().len(), 1);
    // Telegram cannot look posts up.
    assert!(matches!(
        tg.find(&post.marker).await,
        Err(NetworkError::Unsupported { .. })
    ));
}

#[tokio::test]
async fn a_server_error_is_unconfirmed_but_a_refusal_is_rejected() {
    start();
    let f = fake();
    f.state.script.push(Fault::status(
        502,
        json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
    ));
    let tg = client(&f, TG_TOKEN, 5_000);
    let e = tg.publish(&photo_post("tg-502")).await.unwrap_err();
    assert!(matches!(e, NetworkError::Unconfirmed { .. }), "{e:?}");
    assert_eq!(f.state.script.arrivals().len(), 1);

    let e = tg
        .publish(&OutgoingPost::text(marker("tg-long"), "அ".repeat(4090)))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Telegram message allows 4096 UTF-16 code units"),
        "{e}"
    );
}

#[tokio::test]
async fn metrics_and_comments_are_unsupported() {
    start();
    let f = fake();
    let tg = client(&f, TG_TOKEN, 5_000);
    assert!(matches!(
        tg.metrics("101").await,
        Err(NetworkError::Unsupported { .. })
    ));
    assert!(matches!(
        tg.comments("101").await,
        Err(NetworkError::Unsupported { .. })
    ));
    assert!(matches!(
        tg.reply("1", "x").await,
        Err(NetworkError::Unsupported { .. })
    ));
}
