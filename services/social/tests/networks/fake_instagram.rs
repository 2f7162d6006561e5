//! A fake Instagram Graph API content-publishing flow (containers that
//! finish after some polls, `media_publish`, media listing), for the client
//! tests (`instagram.rs`) and the service tests.

use crate::fakes::{self, bearer, deliver, params, Fault, Script, Server};
use crate::IG_TOKEN;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub const IG_USER: &str = "17841400000000001";

#[derive(Clone, Debug)]
pub struct Container {
    pub id: String,
    pub image_url: String,
    pub caption: String,
    /// Status checks answered so far.
    pub polls: usize,
    pub published: bool,
}

#[derive(Clone, Debug)]
pub struct IgMedia {
    pub id: String,
    pub caption: String,
    pub container: String,
}

pub struct IgState {
    pub containers: Mutex<Vec<Container>>,
    pub media: Mutex<Vec<IgMedia>>,
    /// Polls answered IN_PROGRESS before FINISHED.
    pub in_progress_polls: usize,
    /// The final state instead of FINISHED (ERROR, EXPIRED).
    pub final_state: &'static str,
    pub status_checks: AtomicUsize,
    pub replies: Mutex<Vec<(String, String)>>,
    pub script: Script,
}

pub struct FakeInstagram {
    pub server: Server,
    pub state: Arc<IgState>,
}

impl FakeInstagram {
    pub fn media(&self) -> Vec<IgMedia> {
        self.state.media.lock().unwrap().clone()
    }
    pub fn containers(&self) -> Vec<Container> {
        self.state.containers.lock().unwrap().clone()
    }
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> HttpResponse {
    let mut e =
        json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Ig1"});
    if let Some(s) = subcode {
        e["error_subcode"] = json!(s);
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({ "error": e }))
}

/// The refusal of a missing or wrong token.
fn refused(req: &HttpRequest) -> Option<HttpResponse> {
    if bearer(req).as_deref() == Some(IG_TOKEN) {
        None
    } else {
        Some(graph_error(
            400,
            190,
            Some(460),
            "Error validating access token: The session has been invalidated because the user changed their password.",
        ))
    }
}

fn media_json(m: &IgMedia) -> Value {
    json!({
        "id": m.id,
        "caption": m.caption,
        "permalink": format!("https://www.instagram.com/p/{}/", m.id),
        "timestamp": "2025-01-01T06:00:00+0000",
        "like_count": 108,
        "comments_count": 9,
    })
}

async fn post_edge(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    s: web::Data<Arc<IgState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    let (node, edge) = path.into_inner();
    let p = params(&req, &body);
    if !req
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"))
    {
        return graph_error(400, 100, None, "(#100) expected a JSON body");
    }
    match (node.as_str(), edge.as_str()) {
        (IG_USER, "media") => {
            let Some(url) = p.get("image_url") else {
                return graph_error(400, 100, None, "(#100) The parameter image_url is required");
            };
            let mut c = s.containers.lock().unwrap();
            let id = format!("{}", 18000000000000000u64 + c.len() as u64 + 1);
            c.push(Container {
                id: id.clone(),
                image_url: url.to_owned(),
                caption: p.get("caption").unwrap_or("").to_owned(),
                polls: 0,
                published: false,
            });
            HttpResponse::Ok().json(json!({ "id": id }))
        }
        (IG_USER, "media_publish") => {
            let fault = s.script.next();
            if let Some(r) = fault.as_ref().and_then(Fault::response) {
                return r;
            }
            let id = {
                let creation = p.get("creation_id").unwrap_or("").to_owned();
                let mut cs = s.containers.lock().unwrap();
                let Some(c) = cs.iter_mut().find(|c| c.id == creation) else {
                    return graph_error(400, 100, Some(33), "Unsupported post request.");
                };
                if c.published {
                    return graph_error(
                        400,
                        9007,
                        Some(2207027),
                        "The media has already been published",
                    );
                }
                if c.polls <= s.in_progress_polls || s.final_state != "FINISHED" {
                    return graph_error(400, 9007, Some(2207027), "Media ID is not available");
                }
                c.published = true;
                let mut media = s.media.lock().unwrap();
                let id = format!("{}", 17900000000000000u64 + media.len() as u64 + 1);
                media.push(IgMedia {
                    id: id.clone(),
                    caption: c.caption.clone(),
                    container: c.id.clone(),
                });
                id
            };
            deliver(fault, HttpResponse::Ok().json(json!({ "id": id }))).await
        }
        (comment, "replies") => {
            let mut r = s.replies.lock().unwrap();
            r.push((
                comment.to_owned(),
                p.get("message").unwrap_or("").to_owned(),
            ));
            HttpResponse::Ok().json(json!({ "id": format!("1790{}", r.len()) }))
        }
        _ => graph_error(400, 100, None, "Unsupported post request."),
    }
}

async fn get_node(
    req: HttpRequest,
    node: web::Path<String>,
    s: web::Data<Arc<IgState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    let p = params(&req, &[]);
    let fields = p.get("fields").unwrap_or("").to_owned();
    if let Some(c) = s
        .containers
        .lock()
        .unwrap()
        .iter_mut()
        .find(|c| c.id == *node)
    {
        if !fields.contains("status_code") {
            return graph_error(400, 100, None, "(#100) fields must name status_code");
        }
        s.status_checks.fetch_add(1, Ordering::SeqCst);
        c.polls += 1;
        let code = if c.published {
            "PUBLISHED"
        } else if c.polls <= s.in_progress_polls {
            "IN_PROGRESS"
        } else {
            s.final_state
        };
        let status = match code {
            "ERROR" => "Error: 2207026: unsupported image format",
            _ => code,
        };
        return HttpResponse::Ok()
            .json(json!({ "status_code": code, "status": status, "id": c.id }));
    }
    if let Some(m) = s.media.lock().unwrap().iter().find(|m| m.id == *node) {
        return HttpResponse::Ok().json(media_json(m));
    }
    graph_error(
        400,
        100,
        Some(33),
        "Unsupported get request. Object does not exist",
    )
}

async fn get_edge(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: web::Data<Arc<IgState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    let (node, edge) = path.into_inner();
    let p = params(&req, &[]);
    match (node.as_str(), edge.as_str()) {
        (IG_USER, "media") => {
            let limit: usize = p.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
            let data: Vec<Value> = s.media.lock().unwrap().iter().rev().take(limit).map(media_json).collect();
            HttpResponse::Ok().json(json!({ "data": data, "paging": {} }))
        }
        (_, "insights") => {
            if p.get("metric") != Some("views") {
                return graph_error(400, 100, None, "(#100) metric must be views");
            }
            HttpResponse::Ok().json(json!({"data": [{
                "name": "views", "period": "lifetime", "values": [{"value": 1234}],
                "title": "Views", "id": format!("{node}/insights/views/lifetime")
            }]}))
        }
        (_, "comments") => HttpResponse::Ok().json(json!({"data": [
            {"id": "17858893269000001", "text": "வணக்கம் 🙏", "username": "devotee_ta", "timestamp": "2025-01-01T07:00:00+0000"}
        ]})),
        _ => graph_error(400, 100, None, "Unsupported get request."),
    }
}

pub fn fake(in_progress_polls: usize, final_state: &'static str) -> FakeInstagram {
    let state = Arc::new(IgState {
        containers: Mutex::default(),
        media: Mutex::default(),
        in_progress_polls,
        final_state,
        status_checks: AtomicUsize::new(0),
        replies: Mutex::default(),
        script: Script::default(),
    });
    let data = web::Data::new(state.clone());
    let server = fakes::serve(move |cfg| {
        cfg.app_data(data.clone())
            .route("/v21.0/{node}/{edge}", web::post().to(post_edge))
            .route("/v21.0/{node}/{edge}", web::get().to(get_edge))
            .route("/v21.0/{node}", web::get().to(get_node));
    });
    FakeInstagram { server, state }
}
