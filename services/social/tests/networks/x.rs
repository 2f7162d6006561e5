//! X: a fake API v2 (media upload, posts, user timeline, public metrics)
//! and the client.

use crate::fakes::{self, bearer, deliver, params, Fault, Script, Server};
use crate::{fast_retry, gaps, marker, png, start, X_TOKEN};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde_json::{json, Value};
use social::networks::{Media, NetworkError, OutgoingPost, Publisher, XAccount, XConfig, X};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const USER: &str = "1500000000000000001";

#[derive(Clone, Debug)]
pub struct Post {
    pub id: String,
    pub text: String,
    pub media_ids: Vec<String>,
}

#[derive(Default)]
pub struct XState {
    pub uploads: Mutex<Vec<(String, Vec<u8>, String)>>,
    pub posts: Mutex<Vec<Post>>,
    pub script: Script,
}

pub struct FakeX {
    pub server: Server,
    pub state: Arc<XState>,
}

impl FakeX {
    pub fn posts(&self) -> Vec<Post> {
        self.state.posts.lock().unwrap().clone()
    }
}

fn problem(status: u16, title: &str, detail: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(json!({
        "title": title, "detail": detail, "type": "about:blank", "status": status
    }))
}

/// The refusal of a missing or wrong token.
fn refused(req: &HttpRequest) -> Option<HttpResponse> {
    if bearer(req).as_deref() == Some(X_TOKEN) {
        None
    } else {
        Some(problem(401, "Unauthorized", "Unauthorized"))
    }
}

async fn upload(req: HttpRequest, body: web::Bytes, s: web::Data<Arc<XState>>) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    let p = params(&req, &body);
    let bytes = p
        .get("media")
        .and_then(|m| base64::engine::general_purpose::STANDARD.decode(m).ok());
    let (Some(bytes), Some("tweet_image")) = (bytes, p.get("media_category")) else {
        return HttpResponse::BadRequest().json(json!({
            "errors": [{"message": "media and media_category are required"}],
            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"
        }));
    };
    let mut u = s.uploads.lock().unwrap();
    let id = format!("{}", 1880000000000000000u64 + u.len() as u64 + 1);
    u.push((
        id.clone(),
        bytes,
        p.get("media_type").unwrap_or("").to_owned(),
    ));
    HttpResponse::Ok().json(json!({"data": {
        "id": id, "media_key": format!("3_{id}"), "size": u.last().unwrap().1.len(),
        "expires_after_secs": 86400, "image": {"image_type": "image/png", "w": 1080, "h": 1080}
    }}))
}

async fn create(req: HttpRequest, body: web::Bytes, s: web::Data<Arc<XState>>) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    let fault = s.script.next();
    if let Some(r) = fault.as_ref().and_then(Fault::response) {
        return r;
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(text) = v["text"].as_str() else {
        return problem(400, "Invalid Request", "text is required");
    };
    let media_ids: Vec<String> = v["media"]["media_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let known = {
        let uploads = s.uploads.lock().unwrap();
        media_ids.iter().all(|m| uploads.iter().any(|u| u.0 == *m))
    };
    if !known {
        return problem(400, "Invalid Request", "Your media IDs are invalid.");
    }
    let id = {
        let mut posts = s.posts.lock().unwrap();
        if posts.iter().any(|p| p.text == text) {
            return problem(
                403,
                "Forbidden",
                "You are not allowed to create a Tweet with duplicate content.",
            );
        }
        let id = format!("{}", 1900000000000000000u64 + posts.len() as u64 + 1);
        posts.push(Post {
            id: id.clone(),
            text: text.to_owned(),
            media_ids,
        });
        id
    };
    deliver(
        fault,
        HttpResponse::Created()
            .json(json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}})),
    )
    .await
}

async fn timeline(
    req: HttpRequest,
    user: web::Path<String>,
    s: web::Data<Arc<XState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    if *user != USER {
        return problem(404, "Not Found Error", "Could not find user");
    }
    let p = params(&req, &[]);
    let n: usize = match p.get("max_results").and_then(|m| m.parse().ok()) {
        Some(n) if (5..=100).contains(&n) => n,
        _ => {
            return problem(
                400,
                "Invalid Request",
                "max_results must be between 5 and 100",
            )
        }
    };
    let posts = s.posts.lock().unwrap();
    if posts.is_empty() {
        return HttpResponse::Ok().json(json!({"meta": {"result_count": 0}}));
    }
    let data: Vec<Value> = posts
        .iter()
        .rev()
        .take(n)
        .map(|p| json!({"id": p.id, "text": p.text, "created_at": "2025-01-01T06:00:00.000Z", "edit_history_tweet_ids": [p.id]}))
        .collect();
    HttpResponse::Ok().json(json!({"data": data, "meta": {"result_count": data.len()}}))
}

async fn lookup(
    req: HttpRequest,
    id: web::Path<String>,
    s: web::Data<Arc<XState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    let posts = s.posts.lock().unwrap();
    let Some(p) = posts.iter().find(|p| p.id == *id) else {
        return HttpResponse::Ok().json(
            json!({"errors": [{"title": "Not Found Error", "detail": "Could not find tweet"}]}),
        );
    };
    HttpResponse::Ok().json(json!({"data": {
        "id": p.id, "text": p.text,
        "public_metrics": {"retweet_count": 4, "reply_count": 2, "like_count": 31, "quote_count": 1, "bookmark_count": 0, "impression_count": 900}
    }}))
}

pub fn fake() -> FakeX {
    let state = Arc::new(XState::default());
    let data = web::Data::new(state.clone());
    let server = fakes::serve(move |cfg| {
        cfg.app_data(data.clone())
            .route("/2/media/upload", web::post().to(upload))
            .route("/2/tweets", web::post().to(create))
            .route("/2/tweets/{id}", web::get().to(lookup))
            .route("/2/users/{id}/tweets", web::get().to(timeline));
    });
    FakeX { server, state }
}

pub fn client(f: &FakeX, token: &str, timeout_ms: u64) -> X {
    X::new(
        &XConfig {
            base_url: f.server.base_url.clone(),
            timeout_ms,
            retry: fast_retry(),
            lookup_count: 20,
        },
        XAccount {
            user_id: USER.into(),
            access_token: token.into(),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn publishes_with_an_uploaded_image() {
    start();
    let f = fake();
    let x = client(&f, X_TOKEN, 5_000);
    let post = OutgoingPost::text(
        marker("x-image"),
        "Rahu kaal today 🕉️ https://jyotiflow.app/t",
    )
    .with_media(Media::image_bytes(png(), "image/png", "card.png"));
    let p = x.publish(&post).await.unwrap();
    let posts = f.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(p.provider_post_id, posts[0].id);
    assert_eq!(
        p.url.clone().unwrap(),
        format!("https://x.com/i/web/status/{}", posts[0].id)
    );
    let uploads = f.state.uploads.lock().unwrap().clone();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].1, png());
    assert_eq!(uploads[0].2, "image/png");
    assert_eq!(posts[0].media_ids, vec![uploads[0].0.clone()]);
    assert!(posts[0].text.ends_with(&post.marker.tag()));
    assert_eq!(x.find(&post.marker).await.unwrap().unwrap(), p);
    let m = x.metrics(&p.provider_post_id).await.unwrap();
    assert_eq!(
        (m.reactions, m.comments, m.shares, m.views),
        (Some(31), Some(2), Some(5), Some(900))
    );
}

#[tokio::test]
async fn expired_token_is_expired_credentials() {
    start();
    let f = fake();
    let x = client(&f, "x-expired-token", 5_000);
    let e = x
        .publish(&OutgoingPost::text(marker("x-401"), "x"))
        .await
        .unwrap_err();
    match &e {
        NetworkError::ExpiredCredentials {
            provider_message, ..
        } => assert_eq!(provider_message, "Unauthorized"),
        other => panic!("{other:?}"),
    }
    assert!(e.is_credentials());
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_waited_for() {
    start();
    let f = fake();
    f.state.script.push(Fault::Answer {
        status: 429,
        headers: vec![
            ("Retry-After", "1".into()),
            ("x-rate-limit-limit", "100".into()),
            ("x-rate-limit-remaining", "0".into()),
            ("x-rate-limit-reset", (chrono::Utc::now().timestamp() + 1).to_string()),
        ],
        body: json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
    });
    let x = client(&f, X_TOKEN, 5_000);
    x.publish(&OutgoingPost::text(marker("x-429"), "after the wait"))
        .await
        .unwrap();
    assert_eq!(f.posts().len(), 1);
    let g = gaps(&f.state.script.arrivals());
    assert_eq!(g.len(), 1);
    assert!(g[0] >= Duration::from_secs(1), "{g:?}");
    assert!(g[0] < Duration::from_millis(2_500), "{g:?}");
}

#[tokio::test]
async fn a_rate_limit_beyond_the_bound_is_returned() {
    start();
    let f = fake();
    f.state.script.push(Fault::Answer {
        status: 429,
        headers: vec![("x-rate-limit-reset", (chrono::Utc::now().timestamp() + 900).to_string())],
        body: json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
    });
    let x = client(&f, X_TOKEN, 5_000);
    let e = x
        .publish(&OutgoingPost::text(marker("x-429-long"), "x"))
        .await
        .unwrap_err();
    let after = e.retry_after().unwrap();
    assert!(after > Duration::from_secs(800), "{after:?}");
    assert!(f.posts().is_empty());
}

#[tokio::test]
async fn a_timeout_after_acceptance_does_not_post_twice() {
    start();
    let f = fake();
    f.state
        .script
        .push(Fault::AcceptThenDelay(Duration::from_millis(4_000)));
    let x = client(&f, X_TOKEN, 1_500);
    let p = x
        .publish(&OutgoingPost::text(marker("x-timeout"), "once"))
        .await
        .unwrap();
    let posts = f.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        f.state.script.arrivals().len(),
        1,
        "no second POST /2/tweets"
    );
    assert_eq!(p.provider_post_id, posts[0].id);
}

#[tokio::test]
async fn a_duplicate_refusal_resolves_to_the_existing_post() {
    start();
    let f = fake();
    let x = client(&f, X_TOKEN, 5_000);
    let post = OutgoingPost::text(marker("x-dup"), "same text");
    let first = x.publish(&post).await.unwrap();
    // A second publish (without prior_attempt) hits X's duplicate check.
    let second = x.publish(&post).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(f.posts().len(), 1);
    assert_eq!(f.state.script.arrivals().len(), 2);
}

#[tokio::test]
async fn weighted_length_is_checked_before_sending() {
    start();
    let f = fake();
    let x = client(&f, X_TOKEN, 5_000);
    // 135 CJK characters weigh 270; with "\n\n#jf…" (2 + 11) that is 283.
    let e = x
        .publish(&OutgoingPost::text(marker("x-long"), "日".repeat(135)))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "X post allows 280 weighted characters; this text measures 283"
    );
    assert!(f.state.script.arrivals().is_empty());
}

#[tokio::test]
async fn comments_and_replies_are_unsupported() {
    start();
    let f = fake();
    let x = client(&f, X_TOKEN, 5_000);
    assert!(matches!(
        x.comments("1").await,
        Err(NetworkError::Unsupported { .. })
    ));
    assert!(matches!(
        x.reply("1", "hi").await,
        Err(NetworkError::Unsupported { .. })
    ));
}
