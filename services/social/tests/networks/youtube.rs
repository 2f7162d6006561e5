//! YouTube: a fake Data API v3 with the resumable upload protocol (session
//! URI in `Location`, chunked `PUT`s answered `308` with `Range`, status
//! queries with `Content-Range: bytes */total`) and the client.

use crate::fakes::{self, bearer, params, Fault, Script, Server};
use crate::{fast_retry, gaps, marker, start, YT_TOKEN};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use social::networks::youtube::CHUNK_QUANTUM;
use social::networks::{
    Media, NetworkError, OutgoingPost, Publisher, YouTube, YouTubeChannel, YouTubeConfig,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub total: usize,
    pub content_type: String,
    pub metadata: Value,
    pub received: Vec<u8>,
    pub video: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Video {
    pub id: String,
    pub metadata: Value,
    pub bytes: Vec<u8>,
}

/// What happens to one data `PUT` (numbered from 0).
#[derive(Clone, Debug)]
pub enum PutFault {
    /// Keep only the first `keep` bytes, then hang (the connection "dies").
    Interrupt { keep: usize, hang: Duration },
    /// Take everything, then answer late.
    AcceptThenDelay(Duration),
    /// Answer this, keeping nothing.
    Status(u16),
}

#[derive(Default)]
pub struct YtState {
    pub base_url: Mutex<String>,
    pub sessions: Mutex<Vec<Session>>,
    pub videos: Mutex<Vec<Video>>,
    /// `Content-Range` of every `PUT`.
    pub puts: Mutex<Vec<String>>,
    pub put_faults: Mutex<HashMap<usize, PutFault>>,
    pub data_puts: Mutex<usize>,
    pub replies: Mutex<Vec<Value>>,
    /// Faults for session creation.
    pub script: Script,
}

pub struct FakeYouTube {
    pub server: Server,
    pub state: Arc<YtState>,
}

impl FakeYouTube {
    pub fn videos(&self) -> Vec<Video> {
        self.state.videos.lock().unwrap().clone()
    }
    pub fn puts(&self) -> Vec<String> {
        self.state.puts.lock().unwrap().clone()
    }
    pub fn fail_put(&self, n: usize, f: PutFault) {
        self.state.put_faults.lock().unwrap().insert(n, f);
    }
}

fn google_error(status: u16, message: &str, reason: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(json!({
        "error": {"code": status, "message": message,
                  "errors": [{"message": message, "domain": "global", "reason": reason}]}
    }))
}

/// The refusal of a missing or wrong token.
fn refused(req: &HttpRequest) -> Option<HttpResponse> {
    if bearer(req).as_deref() == Some(YT_TOKEN) {
        None
    } else {
        Some(HttpResponse::Unauthorized().json(json!({"error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError", "location": "Authorization", "locationType": "header"}],
            "status": "UNAUTHENTICATED"
        }})))
    }
}

async fn start_session(
    req: HttpRequest,
    body: web::Bytes,
    s: web::Data<Arc<YtState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    let p = params(&req, &body);
    if p.get("uploadType") != Some("resumable") || p.get("part") != Some("snippet,status") {
        return google_error(
            400,
            "uploadType=resumable and part=snippet,status expected",
            "badRequest",
        );
    }
    if let Some(r) = s.script.next().as_ref().and_then(Fault::response) {
        return r;
    }
    let header = |h: &str| {
        req.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(total), Some(content_type)) = (
        header("x-upload-content-length").and_then(|v| v.parse::<usize>().ok()),
        header("x-upload-content-type"),
    ) else {
        return google_error(
            400,
            "X-Upload-Content-Length and -Type are required",
            "badRequest",
        );
    };
    if p.json["snippet"]["title"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        return google_error(
            400,
            "The request metadata does not specify a valid video title.",
            "invalidTitle",
        );
    }
    let mut sessions = s.sessions.lock().unwrap();
    let id = format!("AEnB2Uup{}", sessions.len() + 1);
    sessions.push(Session {
        id: id.clone(),
        total,
        content_type,
        metadata: p.json.clone(),
        received: Vec::new(),
        video: None,
    });
    let base = s.base_url.lock().unwrap().clone();
    HttpResponse::Ok()
        .insert_header((
            "Location",
            format!("{base}/upload/youtube/v3/videos?uploadType=resumable&upload_id={id}"),
        ))
        .finish()
}

fn incomplete(received: usize) -> HttpResponse {
    let mut r = HttpResponse::build(actix_web::http::StatusCode::PERMANENT_REDIRECT);
    if received > 0 {
        r.insert_header(("Range", format!("bytes=0-{}", received - 1)));
    }
    r.finish()
}

fn video_json(v: &Video) -> Value {
    json!({"kind": "youtube#video", "id": v.id, "snippet": v.metadata["snippet"], "status": {"uploadStatus": "uploaded", "privacyStatus": v.metadata["status"]["privacyStatus"]}})
}

async fn put(req: HttpRequest, body: web::Bytes, s: web::Data<Arc<YtState>>) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    let p = params(&req, &[]);
    let range = req
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    s.puts.lock().unwrap().push(range.clone());
    let upload_id = p.get("upload_id").unwrap_or("").to_owned();
    let Some(spec) = range.strip_prefix("bytes ") else {
        return google_error(400, "Content-Range is required", "badContent");
    };
    let (span, total) = spec.split_once('/').unwrap_or(("", ""));
    let total: usize = total.parse().unwrap_or(0);

    let fault = {
        let sessions = s.sessions.lock().unwrap();
        let Some(sess) = sessions.iter().find(|x| x.id == upload_id) else {
            return HttpResponse::NotFound().body("Not Found");
        };
        if total != sess.total {
            return google_error(400, "the total size changed", "badContent");
        }
        if span == "*" {
            // A status query.
            if !body.is_empty() {
                return google_error(400, "a status query has no body", "badContent");
            }
            return match &sess.video {
                Some(id) => {
                    let v = s
                        .videos
                        .lock()
                        .unwrap()
                        .iter()
                        .find(|v| v.id == *id)
                        .unwrap()
                        .clone();
                    HttpResponse::Ok().json(video_json(&v))
                }
                None => incomplete(sess.received.len()),
            };
        }
        drop(sessions);
        let mut n = s.data_puts.lock().unwrap();
        let f = s.put_faults.lock().unwrap().remove(&n);
        *n += 1;
        f
    };
    if let Some(PutFault::Status(code)) = fault {
        if code == 404 {
            return HttpResponse::NotFound().body("Not Found");
        }
        return google_error(code, "Backend Error", "backendError");
    }
    let (first, last) = span.split_once('-').unwrap_or(("", ""));
    let (Ok(first), Ok(last)) = (first.parse::<usize>(), last.parse::<usize>()) else {
        return google_error(400, "bad Content-Range", "badContent");
    };
    if last < first || last - first + 1 != body.len() {
        return google_error(400, "Content-Range does not match the body", "badContent");
    }
    let (answer, delay) = {
        let mut sessions = s.sessions.lock().unwrap();
        let sess = sessions.iter_mut().find(|x| x.id == upload_id).unwrap();
        if first != sess.received.len() {
            return incomplete(sess.received.len());
        }
        let keep = match &fault {
            Some(PutFault::Interrupt { keep, .. }) => (*keep).min(body.len()),
            _ => body.len(),
        };
        sess.received.extend_from_slice(&body[..keep]);
        if let Some(PutFault::Interrupt { hang, .. }) = fault {
            (google_error(503, "Backend Error", "backendError"), hang)
        } else if sess.received.len() == sess.total {
            let mut videos = s.videos.lock().unwrap();
            let v = Video {
                id: format!("dQw4w9WgXc{}", videos.len() + 1),
                metadata: sess.metadata.clone(),
                bytes: sess.received.clone(),
            };
            sess.video = Some(v.id.clone());
            let answer = HttpResponse::Created().json(video_json(&v));
            videos.push(v);
            let delay = match fault {
                Some(PutFault::AcceptThenDelay(d)) => d,
                _ => Duration::ZERO,
            };
            (answer, delay)
        } else {
            (incomplete(sess.received.len()), Duration::ZERO)
        }
    };
    tokio::time::sleep(delay).await;
    answer
}

async fn api_get(
    req: HttpRequest,
    what: web::Path<String>,
    s: web::Data<Arc<YtState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    let p = params(&req, &[]);
    match what.as_str() {
        "channels" if p.get("mine") == Some("true") => HttpResponse::Ok().json(json!({
            "kind": "youtube#channelListResponse",
            "items": [{"id": "UCjyotiflow", "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": "UUjyotiflow"}}}]
        })),
        "playlistItems" if p.get("playlistId") == Some("UUjyotiflow") => {
            let items: Vec<Value> = s.videos.lock().unwrap().iter().rev().map(|v| json!({
                "snippet": {"title": v.metadata["snippet"]["title"], "description": v.metadata["snippet"]["description"],
                            "resourceId": {"kind": "youtube#video", "videoId": v.id}}
            })).collect();
            HttpResponse::Ok().json(json!({"items": items}))
        }
        "videos" if p.get("part") == Some("statistics") => {
            let id = p.get("id").unwrap_or("");
            let items: Vec<Value> = s.videos.lock().unwrap().iter().filter(|v| v.id == id).map(|v| json!({
                "id": v.id, "statistics": {"viewCount": "1500", "likeCount": "77", "favoriteCount": "0", "commentCount": "5"}
            })).collect();
            HttpResponse::Ok().json(json!({"items": items}))
        }
        "commentThreads" => HttpResponse::Ok().json(json!({"items": [{
            "id": "UgxThread1",
            "snippet": {"videoId": p.get("videoId"), "totalReplyCount": 0, "topLevelComment": {
                "id": "UgxThread1",
                "snippet": {"textDisplay": "Jai Shri Ram", "textOriginal": "Jai Shri Ram", "authorDisplayName": "@devotee", "publishedAt": "2025-01-01T07:00:00Z"}
            }}
        }]})),
        _ => google_error(400, "unexpected request", "badRequest"),
    }
}

async fn comment_insert(
    req: HttpRequest,
    body: web::Bytes,
    s: web::Data<Arc<YtState>>,
) -> HttpResponse {
    if let Some(r) = refused(&req) {
        return r;
    }
    let p = params(&req, &body);
    if p.get("part") != Some("snippet") || p.json["snippet"]["parentId"].as_str().is_none() {
        return google_error(400, "snippet.parentId is required", "badRequest");
    }
    let mut r = s.replies.lock().unwrap();
    r.push(p.json.clone());
    HttpResponse::Ok().json(json!({"kind": "youtube#comment", "id": format!("UgxThread1.reply{}", r.len()), "snippet": p.json["snippet"]}))
}

pub fn fake() -> FakeYouTube {
    let state = Arc::new(YtState::default());
    let data = web::Data::new(state.clone());
    let server = fakes::serve(move |cfg| {
        cfg.app_data(data.clone())
            .route("/upload/youtube/v3/videos", web::post().to(start_session))
            .route("/upload/youtube/v3/videos", web::put().to(put))
            .route("/youtube/v3/comments", web::post().to(comment_insert))
            .route("/youtube/v3/{what}", web::get().to(api_get));
    });
    *state.base_url.lock().unwrap() = server.base_url.clone();
    FakeYouTube { server, state }
}

pub fn client(f: &FakeYouTube, token: &str, upload_timeout_ms: u64) -> YouTube {
    YouTube::new(
        &YouTubeConfig {
            base_url: f.server.base_url.clone(),
            timeout_ms: 5_000,
            upload_timeout_ms,
            chunk_size: CHUNK_QUANTUM,
            retry: fast_retry(),
            privacy_status: "unlisted".into(),
            ..YouTubeConfig::default()
        },
        YouTubeChannel {
            access_token: token.into(),
        },
    )
    .unwrap()
}

/// 600 KiB of "video": three chunks of 256 KiB, 256 KiB and 88 KiB.
pub fn video() -> Vec<u8> {
    (0..614_400u32).map(|i| (i * 7 % 256) as u8).collect()
}

fn video_post(key: &str) -> OutgoingPost {
    let mut p = OutgoingPost::text(
        marker(key),
        "Daily panchang for 1 January\nTithi, nakshatra and yoga.",
    )
    .with_media(Media::video_bytes(video(), "video/mp4", "panchang.mp4"));
    p.title = Some("Panchang — 1 January".into());
    p
}

#[tokio::test]
async fn uploads_in_chunks_through_308_resume_incomplete() {
    start();
    let f = fake();
    let yt = client(&f, YT_TOKEN, 5_000);
    let post = video_post("yt-ok");
    let p = yt.publish(&post).await.unwrap();
    let videos = f.videos();
    assert_eq!(videos.len(), 1);
    assert_eq!(p.provider_post_id, videos[0].id);
    assert_eq!(
        p.url.as_deref(),
        Some(format!("https://www.youtube.com/watch?v={}", videos[0].id).as_str())
    );
    assert_eq!(videos[0].bytes, video());
    assert_eq!(
        f.puts(),
        vec![
            "bytes 0-262143/614400",
            "bytes 262144-524287/614400",
            "bytes 524288-614399/614400"
        ]
    );
    let meta = &videos[0].metadata;
    assert_eq!(meta["snippet"]["title"], "Panchang — 1 January");
    assert!(meta["snippet"]["description"]
        .as_str()
        .unwrap()
        .ends_with(&post.marker.tag()));
    assert_eq!(meta["snippet"]["tags"][0], post.marker.as_str());
    assert_eq!(meta["status"]["privacyStatus"], "unlisted");
    assert_eq!(
        f.state.sessions.lock().unwrap()[0].content_type,
        "video/mp4"
    );
    assert_eq!(yt.find(&post.marker).await.unwrap(), Some(p));
}

#[tokio::test]
async fn resumes_after_an_interrupted_put() {
    start();
    let f = fake();
    f.fail_put(
        1,
        PutFault::Interrupt {
            keep: 100_000,
            hang: Duration::from_millis(4_000),
        },
    );
    let yt = client(&f, YT_TOKEN, 1_500);
    let p = yt.publish(&video_post("yt-resume")).await.unwrap();
    let videos = f.videos();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].bytes, video(), "the resumed upload is byte-exact");
    assert_eq!(p.provider_post_id, videos[0].id);
    assert_eq!(
        f.puts(),
        vec![
            "bytes 0-262143/614400",
            "bytes 262144-524287/614400",
            "bytes */614400",
            "bytes 362144-614399/614400",
        ]
    );
    assert_eq!(
        f.state.sessions.lock().unwrap().len(),
        1,
        "the same session"
    );
}

#[tokio::test]
async fn a_lost_final_answer_is_recovered_from_the_session() {
    start();
    let f = fake();
    f.fail_put(2, PutFault::AcceptThenDelay(Duration::from_millis(4_000)));
    let yt = client(&f, YT_TOKEN, 1_500);
    let p = yt.publish(&video_post("yt-lost")).await.unwrap();
    assert_eq!(f.videos().len(), 1);
    assert_eq!(p.provider_post_id, f.videos()[0].id);
    assert_eq!(
        f.puts().last().unwrap(),
        "bytes */614400",
        "asked, did not upload again"
    );
    assert_eq!(f.puts().len(), 4);
}

#[tokio::test]
async fn a_server_error_mid_upload_resumes() {
    start();
    let f = fake();
    f.fail_put(1, PutFault::Status(503));
    let yt = client(&f, YT_TOKEN, 5_000);
    yt.publish(&video_post("yt-503")).await.unwrap();
    assert_eq!(f.videos()[0].bytes, video());
    assert_eq!(
        f.puts(),
        vec![
            "bytes 0-262143/614400",
            "bytes 262144-524287/614400",
            "bytes */614400",
            "bytes 262144-524287/614400",
            "bytes 524288-614399/614400",
        ]
    );
}

#[tokio::test]
async fn an_expired_session_starts_over() {
    start();
    let f = fake();
    f.fail_put(1, PutFault::Status(404));
    let yt = client(&f, YT_TOKEN, 5_000);
    yt.publish(&video_post("yt-404")).await.unwrap();
    assert_eq!(f.state.sessions.lock().unwrap().len(), 2);
    assert_eq!(f.videos().len(), 1);
    assert_eq!(f.videos()[0].bytes, video());
}

#[tokio::test]
async fn expired_token_is_expired_credentials() {
    start();
    let f = fake();
    let yt = client(&f, "ya29.expired", 5_000);
    let e = yt.publish(&video_post("yt-401")).await.unwrap_err();
    match e {
        NetworkError::ExpiredCredentials {
            provider_message, ..
        } => {
            assert!(
                provider_message.starts_with("Request had invalid authentication credentials"),
                "{provider_message}"
            );
            assert!(
                provider_message.ends_with("[authError]"),
                "{provider_message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_waited_for() {
    start();
    let f = fake();
    f.state.script.push(Fault::Answer {
        status: 429,
        headers: vec![("Retry-After", "1".into())],
        body: json!({"error": {"code": 429, "message": "Too many requests", "errors": [{"reason": "rateLimitExceeded"}]}}),
    });
    let yt = client(&f, YT_TOKEN, 5_000);
    yt.publish(&video_post("yt-429")).await.unwrap();
    assert_eq!(f.videos().len(), 1);
    let g = gaps(&f.state.script.arrivals());
    assert!(g[0] >= Duration::from_secs(1), "{g:?}");
}

#[tokio::test]
async fn quota_exceeded_is_a_rate_limit() {
    start();
    let f = fake();
    for _ in 0..4 {
        f.state.script.push(Fault::status(
            403,
            json!({"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your quota.", "errors": [{"reason": "quotaExceeded"}]}}),
        ));
    }
    let yt = client(&f, YT_TOKEN, 5_000);
    let e = yt.publish(&video_post("yt-quota")).await.unwrap_err();
    assert!(
        matches!(
            e,
            NetworkError::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(f.state.script.arrivals().len(), 4, "bounded retries");
}

#[tokio::test]
async fn metrics_comments_and_replies() {
    start();
    let f = fake();
    let yt = client(&f, YT_TOKEN, 5_000);
    let p = yt.publish(&video_post("yt-metrics")).await.unwrap();
    let m = yt.metrics(&p.provider_post_id).await.unwrap();
    assert_eq!(
        (m.views, m.reactions, m.comments, m.shares),
        (Some(1500), Some(77), Some(5), None)
    );
    let c = yt.comments(&p.provider_post_id).await.unwrap();
    assert_eq!(c[0].id, "UgxThread1");
    assert_eq!(c[0].text, "Jai Shri Ram");
    let id = yt.reply(&c[0].id, "🙏").await.unwrap();
    assert_eq!(id, "UgxThread1.reply1");
    let r = f.state.replies.lock().unwrap()[0].clone();
    assert_eq!(r["snippet"]["parentId"], "UgxThread1");
    assert_eq!(r["snippet"]["textOriginal"], "🙏");
}
