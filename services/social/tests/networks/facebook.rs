//! Facebook Pages: a fake Graph API (`/v21.0/...`) and the client against it.

use crate::fakes::{self, bearer, deliver, params, Fault, Script, Server};
use crate::{fast_retry, gaps, marker, png, start, FB_TOKEN};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use social::networks::{
    Facebook, FacebookConfig, FacebookPage, Media, NetworkError, OutgoingPost, Publisher,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

pub fn client(f: &FakeFacebook, token: &str, timeout_ms: u64) -> Facebook {
    Facebook::new(
        &FacebookConfig {
            base_url: format!("{}/v21.0", f.server.base_url),
            timeout_ms,
            retry: fast_retry(),
            lookup_limit: 25,
        },
        FacebookPage {
            page_id: PAGE.into(),
            access_token: token.into(),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn publishes_a_link_post_and_reads_it_back() {
    start();
    let f = fake();
    let fb = client(&f, FB_TOKEN, 5_000);
    let m = marker("fb-link");
    let mut post = OutgoingPost::text(m.clone(), "Today's panchang: Ekadashi");
    post.link = Some("https://jyotiflow.app/panchang/today".into());
    let p = fb.publish(&post).await.unwrap();
    let posts = f.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(p.provider_post_id, posts[0].id);
    assert_eq!(
        posts[0].message,
        format!("Today's panchang: Ekadashi\n\n{}", m.tag())
    );
    assert_eq!(
        posts[0].link.as_deref(),
        Some("https://jyotiflow.app/panchang/today")
    );
    assert_eq!(
        p.url.as_deref(),
        Some(format!("https://www.facebook.com/{}", posts[0].id).as_str())
    );

    let back = fb.post(&p.provider_post_id).await.unwrap();
    assert_eq!(back.message.as_deref(), Some(posts[0].message.as_str()));
    let found = fb.find(&m).await.unwrap().unwrap();
    assert_eq!(found.provider_post_id, p.provider_post_id);
    assert!(found.url.unwrap().contains("/posts/"));
    assert_eq!(fb.find(&marker("other")).await.unwrap(), None);
}

#[tokio::test]
async fn publishes_a_photo_by_upload_and_by_url() {
    start();
    let f = fake();
    let fb = client(&f, FB_TOKEN, 5_000);
    let post = OutgoingPost::text(marker("fb-photo"), "Rahu kaal card")
        .with_media(Media::image_bytes(png(), "image/png", "card.png"));
    let p = fb.publish(&post).await.unwrap();
    let posts = f.posts();
    assert_eq!(posts[0].photo.as_deref(), Some(png().as_slice()));
    assert!(posts[0].message.starts_with("Rahu kaal card\n\n#jf"));
    assert_eq!(
        p.provider_post_id, posts[0].id,
        "the Page post id, not the photo id"
    );

    let post = OutgoingPost::text(marker("fb-photo-url"), "By URL").with_media(Media::image_url(
        "https://cdn.jyotiflow.app/c.png",
        "image/png",
    ));
    fb.publish(&post).await.unwrap();
    assert_eq!(
        f.posts()[1].photo_url.as_deref(),
        Some("https://cdn.jyotiflow.app/c.png")
    );
}

#[tokio::test]
async fn expired_token_is_expired_credentials() {
    start();
    let f = fake();
    let fb = client(&f, "EAAold-expired-token", 5_000);
    let e = fb
        .publish(&OutgoingPost::text(marker("fb-expired"), "x"))
        .await
        .unwrap_err();
    match &e {
        NetworkError::ExpiredCredentials {
            provider_message, ..
        } => {
            assert!(
                provider_message.contains("Session has expired"),
                "{provider_message}"
            );
            assert!(provider_message.contains("code 190"), "{provider_message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(f.posts().is_empty());
    assert_eq!(
        f.state.script.arrivals().len(),
        0,
        "not retried: the fake never got past auth"
    );
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_waited_for() {
    start();
    let f = fake();
    f.state.script.push(Fault::Answer {
        status: 429,
        headers: vec![("Retry-After", "1".into())],
        body: json!({"error": {"message": "(#32) Page request limit reached", "type": "OAuthException", "code": 32}}),
    });
    let fb = client(&f, FB_TOKEN, 5_000);
    let p = fb
        .publish(&OutgoingPost::text(marker("fb-429"), "after the wait"))
        .await
        .unwrap();
    assert_eq!(f.posts().len(), 1);
    assert_eq!(p.provider_post_id, f.posts()[0].id);
    let g = gaps(&f.state.script.arrivals());
    assert_eq!(g.len(), 1);
    assert!(g[0] >= Duration::from_millis(1_000), "{g:?}");
    assert!(g[0] < Duration::from_millis(2_500), "{g:?}");
}

#[tokio::test]
async fn graph_rate_limit_codes_back_off_without_retry_after() {
    start();
    let f = fake();
    f.state.script.push(Fault::status(
        400,
        json!({"error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4, "is_transient": true}}),
    ));
    let fb = client(&f, FB_TOKEN, 5_000);
    fb.publish(&OutgoingPost::text(marker("fb-code4"), "x"))
        .await
        .unwrap();
    assert_eq!(f.posts().len(), 1);
    assert_eq!(f.state.script.arrivals().len(), 2);
}

#[tokio::test]
async fn a_refusal_is_rejected_with_the_graph_message_and_not_retried() {
    start();
    let f = fake();
    f.state.script.push(Fault::status(
        400,
        json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100, "error_subcode": 1349125}}),
    ));
    let fb = client(&f, FB_TOKEN, 5_000);
    let e = fb
        .publish(&OutgoingPost::text(marker("fb-400"), "x"))
        .await
        .unwrap_err();
    match e {
        NetworkError::Rejected {
            status: Some(400),
            provider_message,
            ..
        } => assert_eq!(
            provider_message,
            "(#100) Invalid parameter [code 100, subcode 1349125]"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.state.script.arrivals().len(), 1);
}

#[tokio::test]
async fn a_timeout_after_acceptance_does_not_post_twice() {
    start();
    let f = fake();
    f.state
        .script
        .push(Fault::AcceptThenDelay(Duration::from_millis(4_000)));
    let fb = client(&f, FB_TOKEN, 1_500);
    let p = fb
        .publish(&OutgoingPost::text(marker("fb-timeout"), "only once"))
        .await
        .unwrap();
    let posts = f.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(f.state.script.arrivals().len(), 1, "no second POST");
    assert_eq!(p.provider_post_id, posts[0].id);
}

#[tokio::test]
async fn a_prior_attempt_is_looked_up_first() {
    start();
    let f = fake();
    let fb = client(&f, FB_TOKEN, 5_000);
    let m = marker("fb-prior");
    let first = fb
        .publish(&OutgoingPost::text(m.clone(), "hello"))
        .await
        .unwrap();
    let mut again = OutgoingPost::text(m, "hello");
    again.prior_attempt = true;
    let second = fb.publish(&again).await.unwrap();
    assert_eq!(first.provider_post_id, second.provider_post_id);
    assert_eq!(f.posts().len(), 1);
}

#[tokio::test]
async fn too_long_text_is_refused_before_sending() {
    start();
    let f = fake();
    let fb = client(&f, FB_TOKEN, 5_000);
    let e = fb
        .publish(&OutgoingPost::text(marker("fb-long"), "x".repeat(63_200)))
        .await
        .unwrap_err();
    assert!(matches!(e, NetworkError::Limit(_)), "{e:?}");
    assert!(e.to_string().contains("63206"), "{e}");
    assert_eq!(f.state.script.arrivals().len(), 0);
}

#[tokio::test]
async fn metrics_comments_and_replies() {
    start();
    let f = fake();
    let fb = client(&f, FB_TOKEN, 5_000);
    let p = fb
        .publish(&OutgoingPost::text(marker("fb-metrics"), "x"))
        .await
        .unwrap();
    let m = fb.metrics(&p.provider_post_id).await.unwrap();
    assert_eq!(m.reactions, Some(42));
    assert_eq!(m.comments, Some(2));
    assert_eq!(m.shares, Some(3));
    assert_eq!(m.views, None);
    let c = fb.comments(&p.provider_post_id).await.unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].text, "ॐ नमः शिवाय");
    assert_eq!(c[0].author.as_deref(), Some("Devotee Two"));
    let id = fb.reply(&c[0].id, "🙏 Thank you").await.unwrap();
    assert!(id.contains("_r1"));
    assert_eq!(
        f.state.replies.lock().unwrap()[0],
        (c[0].id.clone(), "🙏 Thank you".to_owned())
    );
}
