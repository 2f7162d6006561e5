//! A fake Facebook Graph API (`/v21.0/...`): Page feed and photos, posts
//! read back, reactions, comments and replies, token checks (code 190 for
//! an expired token) and scripted faults. Shared by the client tests and
//! the service tests.

use crate::fakes::{self, bearer, deliver, params, Fault, Script, Server};
use crate::FB_TOKEN;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

pub const PAGE: &str = "1122334455";

#[derive(Clone, Debug)]
pub struct FbPost {
    pub id: String,
    pub message: String,
    pub link: Option<String>,
    pub photo: Option<Vec<u8>>,
    pub photo_url: Option<String>,
}

#[derive(Default)]
pub struct FbState {
    pub token: Mutex<String>,
    pub posts: Mutex<Vec<FbPost>>,
    pub replies: Mutex<Vec<(String, String)>>,
    pub script: Script,
}

pub struct FakeFacebook {
    pub server: Server,
    pub state: Arc<FbState>,
}

impl FakeFacebook {
    pub fn posts(&self) -> Vec<FbPost> {
        self.state.posts.lock().unwrap().clone()
    }
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> HttpResponse {
    let mut e =
        json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"});
    if let Some(s) = subcode {
        e["error_subcode"] = json!(s);
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({ "error": e }))
}

/// The Graph API's refusal of a missing or wrong token.
fn refused(req: &HttpRequest, s: &FbState) -> Option<HttpResponse> {
    match bearer(req) {
        Some(t) if t == *s.token.lock().unwrap() => None,
        Some(_) => Some(graph_error(
            400,
            190,
            Some(463),
            "Error validating access token: Session has expired on Tuesday, 01-Jul-25 10:00:00 PDT.",
        )),
        None => Some(graph_error(
            400,
            2500,
            None,
            "An active access token must be used to query information about the current user.",
        )),
    }
}

async fn post_edge(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    s: web::Data<Arc<FbState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req, &s) {
        return r;
    }
    let (node, edge) = path.into_inner();
    let p = params(&req, &body);
    match edge.as_str() {
        "feed" | "photos" => {
            if node != PAGE {
                return graph_error(400, 100, Some(33), "Unsupported post request.");
            }
            let fault = s.script.next();
            if let Some(r) = fault.as_ref().and_then(Fault::response) {
                return r;
            }
            let answer = {
                let mut posts = s.posts.lock().unwrap();
                let n = posts.len() + 1;
                let id = format!("{PAGE}_{}", 9000 + n);
                if edge == "feed" {
                    let Some(message) = p.get("message") else {
                        return graph_error(400, 100, None, "(#100) Missing message or attachment");
                    };
                    posts.push(FbPost {
                        id: id.clone(),
                        message: message.to_owned(),
                        link: p.get("link").map(str::to_owned),
                        photo: None,
                        photo_url: None,
                    });
                    json!({ "id": id })
                } else {
                    let photo = p.files.get("source").map(|f| f.data.clone());
                    let photo_url = p.get("url").map(str::to_owned);
                    if photo.is_none() && photo_url.is_none() {
                        return graph_error(400, 324, None, "(#324) Requires upload file");
                    }
                    posts.push(FbPost {
                        id: id.clone(),
                        message: p.get("caption").unwrap_or("").to_owned(),
                        link: None,
                        photo,
                        photo_url,
                    });
                    json!({ "id": format!("{}", 7000 + n), "post_id": id })
                }
            };
            deliver(fault, HttpResponse::Ok().json(answer)).await
        }
        "comments" => {
            let Some(message) = p.get("message") else {
                return graph_error(400, 100, None, "(#100) Missing message");
            };
            let mut r = s.replies.lock().unwrap();
            r.push((node.clone(), message.to_owned()));
            HttpResponse::Ok().json(json!({ "id": format!("{node}_r{}", r.len()) }))
        }
        _ => graph_error(400, 100, None, "Unknown edge"),
    }
}

fn post_json(p: &FbPost) -> Value {
    json!({
        "id": p.id,
        "message": p.message,
        "permalink_url": format!("https://www.facebook.com/{}/posts/{}", PAGE, p.id.split('_').nth(1).unwrap()),
        "created_time": "2025-01-01T06:00:00+0000",
    })
}

async fn get_node(
    req: HttpRequest,
    node: web::Path<String>,
    s: web::Data<Arc<FbState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req, &s) {
        return r;
    }
    let p = params(&req, &[]);
    let posts = s.posts.lock().unwrap();
    let Some(post) = posts.iter().find(|x| x.id == *node) else {
        return graph_error(
            400,
            100,
            Some(33),
            "Unsupported get request. Object does not exist",
        );
    };
    let fields = p.get("fields").unwrap_or("");
    if fields.contains("reactions.summary(total_count)") {
        return HttpResponse::Ok().json(json!({
            "id": post.id,
            "shares": {"count": 3},
            "reactions": {"data": [], "summary": {"total_count": 42, "viewer_reaction": "NONE"}},
            "comments": {"data": [], "summary": {"order": "ranked", "total_count": 2, "can_comment": true}},
        }));
    }
    HttpResponse::Ok().json(post_json(post))
}

async fn get_edge(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: web::Data<Arc<FbState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req, &s) {
        return r;
    }
    let (node, edge) = path.into_inner();
    let p = params(&req, &[]);
    match edge.as_str() {
        "posts" if node == PAGE => {
            let limit: usize = p.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
            let posts = s.posts.lock().unwrap();
            let data: Vec<Value> = posts.iter().rev().take(limit).map(post_json).collect();
            HttpResponse::Ok().json(json!({ "data": data, "paging": {"cursors": {"before": "a", "after": "b"}} }))
        }
        "comments" => HttpResponse::Ok().json(json!({
            "data": [
                {"id": format!("{node}_c2"), "message": "ॐ नमः शिवाय", "from": {"name": "Devotee Two", "id": "2"}, "created_time": "2025-01-01T07:00:00+0000"},
                {"id": format!("{node}_c1"), "message": "Thank you", "from": {"name": "Devotee One", "id": "1"}, "created_time": "2025-01-01T06:30:00+0000"},
            ],
            "paging": {}
        })),
        _ => graph_error(400, 100, None, "Unknown edge"),
    }
}

pub fn fake() -> FakeFacebook {
    let state = Arc::new(FbState::default());
    *state.token.lock().unwrap() = FB_TOKEN.into();
    let data = web::Data::new(state.clone());
    let server = fakes::serve(move |cfg| {
        cfg.app_data(data.clone())
            .route("/v21.0/{node}/{edge}", web::post().to(post_edge))
            .route("/v21.0/{node}/{edge}", web::get().to(get_edge))
            .route("/v21.0/{node}", web::get().to(get_node));
    });
    FakeFacebook { server, state }
}
