//! Instagram: a fake Graph API content-publishing flow (containers that
//! finish after some polls, `media_publish`, media listing) and the client.

use crate::fakes::{self, bearer, deliver, params, Fault, Script, Server};
use crate::{fast_retry, marker, start, IG_TOKEN};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use social::networks::{
    Instagram, InstagramAccount, InstagramConfig, Media, NetworkError, OutgoingPost, Publisher,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

pub fn client(f: &FakeInstagram, token: &str, timeout_ms: u64) -> Instagram {
    client_with(f, token, timeout_ms, 3_000)
}

pub fn client_with(
    f: &FakeInstagram,
    token: &str,
    timeout_ms: u64,
    poll_max_wait_ms: u64,
) -> Instagram {
    Instagram::new(
        &InstagramConfig {
            base_url: format!("{}/v21.0", f.server.base_url),
            timeout_ms,
            retry: fast_retry(),
            poll_interval_ms: 20,
            poll_max_interval_ms: 80,
            poll_max_wait_ms,
            lookup_limit: 25,
        },
        InstagramAccount {
            ig_user_id: IG_USER.into(),
            access_token: token.into(),
        },
    )
    .unwrap()
}

fn image_post(key: &str, caption: &str) -> OutgoingPost {
    OutgoingPost::text(marker(key), caption).with_media(Media::image_url(
        "https://cdn.jyotiflow.app/cards/today.jpg",
        "image/jpeg",
    ))
}

#[tokio::test]
async fn publishes_after_the_container_finishes() {
    start();
    let f = fake(2, "FINISHED");
    let ig = client(&f, IG_TOKEN, 5_000);
    let post = image_post("ig-ok", "Today's nakshatra: Rohini #astrology");
    let p = ig.publish(&post).await.unwrap();
    let media = f.media();
    assert_eq!(media.len(), 1);
    assert_eq!(p.provider_post_id, media[0].id);
    assert_eq!(
        p.url.as_deref(),
        Some(format!("https://www.instagram.com/p/{}/", media[0].id).as_str())
    );
    let c = f.containers();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].image_url, "https://cdn.jyotiflow.app/cards/today.jpg");
    assert_eq!(
        c[0].caption,
        format!(
            "Today's nakshatra: Rohini #astrology\n\n{}",
            post.marker.tag()
        )
    );
    // IN_PROGRESS twice, then FINISHED.
    assert_eq!(f.state.status_checks.load(Ordering::SeqCst), 3);
    let found = ig.find(&post.marker).await.unwrap().unwrap();
    assert_eq!(found, p);
}

#[tokio::test]
async fn a_container_error_is_rejected_with_its_status() {
    start();
    let f = fake(1, "ERROR");
    let ig = client(&f, IG_TOKEN, 5_000);
    let e = ig.publish(&image_post("ig-error", "x")).await.unwrap_err();
    match e {
        NetworkError::Rejected {
            provider_message, ..
        } => {
            assert!(provider_message.contains("ERROR"), "{provider_message}");
            assert!(provider_message.contains("2207026"), "{provider_message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(f.media().is_empty());
}

#[tokio::test]
async fn an_expired_container_is_rejected() {
    start();
    let f = fake(0, "EXPIRED");
    let ig = client(&f, IG_TOKEN, 5_000);
    let e = ig
        .publish(&image_post("ig-expired", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, NetworkError::Rejected { provider_message, .. } if provider_message.contains("EXPIRED")),
        "{e:?}"
    );
}

#[tokio::test]
async fn polling_is_bounded() {
    start();
    let f = fake(usize::MAX, "FINISHED");
    // A short bound: 300 ms.
    let cfg_client = client_with(&f, IG_TOKEN, 5_000, 300);
    let e = cfg_client
        .publish(&image_post("ig-slow", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, NetworkError::Unavailable { reason, .. } if reason.contains("IN_PROGRESS")),
        "{e:?}"
    );
    let checks = f.state.status_checks.load(Ordering::SeqCst);
    assert!((3..=12).contains(&checks), "{checks}");
}

#[tokio::test]
async fn expired_token_is_expired_credentials() {
    start();
    let f = fake(0, "FINISHED");
    let ig = client(&f, "EAAstale", 5_000);
    let e = ig.publish(&image_post("ig-401", "x")).await.unwrap_err();
    match e {
        NetworkError::ExpiredCredentials {
            provider_message, ..
        } => {
            assert!(
                provider_message.contains("changed their password"),
                "{provider_message}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_waited_for() {
    start();
    let f = fake(0, "FINISHED");
    f.state.script.push(Fault::Answer {
        status: 429,
        headers: vec![("Retry-After", "1".into())],
        body: json!({"error": {"message": "Application request limit reached", "type": "OAuthException", "code": 4}}),
    });
    let ig = client(&f, IG_TOKEN, 5_000);
    ig.publish(&image_post("ig-429", "x")).await.unwrap();
    assert_eq!(f.media().len(), 1);
    let g = crate::gaps(&f.state.script.arrivals());
    assert_eq!(g.len(), 1);
    assert!(g[0] >= Duration::from_secs(1), "{g:?}");
}

#[tokio::test]
async fn a_timeout_after_publishing_does_not_post_twice() {
    start();
    let f = fake(0, "FINISHED");
    f.state
        .script
        .push(Fault::AcceptThenDelay(Duration::from_millis(4_000)));
    let ig = client(&f, IG_TOKEN, 1_500);
    let post = image_post("ig-timeout", "once only");
    let p = ig.publish(&post).await.unwrap();
    let media = f.media();
    assert_eq!(media.len(), 1, "{media:?}");
    assert_eq!(f.containers().len(), 1, "no second container");
    assert_eq!(media[0].container, f.containers()[0].id);
    assert_eq!(
        f.state.script.arrivals().len(),
        1,
        "no second media_publish"
    );
    assert_eq!(p.provider_post_id, media[0].id);
}

#[tokio::test]
async fn an_image_url_is_required() {
    start();
    let f = fake(0, "FINISHED");
    let ig = client(&f, IG_TOKEN, 5_000);
    let post = OutgoingPost::text(marker("ig-bytes"), "x").with_media(Media::image_bytes(
        vec![1, 2, 3],
        "image/jpeg",
        "a.jpg",
    ));
    let e = ig.publish(&post).await.unwrap_err();
    assert!(matches!(e, NetworkError::Invalid { .. }), "{e:?}");
    assert!(f.containers().is_empty());
}

#[tokio::test]
async fn hashtag_limit_is_checked_before_sending() {
    start();
    let f = fake(0, "FINISHED");
    let ig = client(&f, IG_TOKEN, 5_000);
    let tags: String = (0..30).map(|i| format!("#t{i} ")).collect();
    // 30 tags plus the marker's.
    let e = ig.publish(&image_post("ig-tags", &tags)).await.unwrap_err();
    assert!(
        e.to_string().contains("30 hashtags; this text has 31"),
        "{e}"
    );
    assert!(f.containers().is_empty());
}

#[tokio::test]
async fn metrics_comments_and_replies() {
    start();
    let f = fake(0, "FINISHED");
    let ig = client(&f, IG_TOKEN, 5_000);
    let p = ig.publish(&image_post("ig-metrics", "x")).await.unwrap();
    let m = ig.metrics(&p.provider_post_id).await.unwrap();
    assert_eq!(m.reactions, Some(108));
    assert_eq!(m.comments, Some(9));
    assert_eq!(m.views, Some(1234));
    assert_eq!(m.shares, None);
    let c = ig.comments(&p.provider_post_id).await.unwrap();
    assert_eq!(c[0].text, "வணக்கம் 🙏");
    assert_eq!(c[0].author.as_deref(), Some("devotee_ta"));
    let id = ig.reply(&c[0].id, "நன்றி").await.unwrap();
    assert_eq!(id, "17901");
    assert_eq!(
        f.state.replies.lock().unwrap()[0],
        ("17858893269000001".to_owned(), "நன்றி".to_owned())
    );
}
