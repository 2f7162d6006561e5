//! A fake Telegram Bot API (`/bot<token>/sendPhoto|sendVideo|sendMessage`
//! with the `ok` envelope), for the client tests (`telegram.rs`) and the
//! service tests.

use crate::fakes::{self, deliver, params, Fault, Script, Server};
use crate::TG_TOKEN;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
