//! Avatar voice and video jobs end to end: real PostgreSQL, NATS (JetStream
//! work queue), pricing's holds, espeak-ng and ffmpeg; ElevenLabs and D-ID
//! as local servers speaking their protocols.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod failures;
mod fakes;
mod images;
mod jobs;
mod providers;

use reqwest::Method;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{Options, Platform, User};

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("media-avatar-{what}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The platform plus the avatar store's directory.
pub struct Avatar {
    pub p: Platform,
    pub store: TempDir,
}

/// Pricing and media on a fresh database and NATS, with avatar settings
/// that keep tests fast (small videos, short leases and backoffs), then `extra`.
pub async fn spawn(extra: Vec<(&'static str, String)>) -> Avatar {
    let store = TempDir::new("store");
    let mut media: Vec<(&'static str, String)> = vec![
        ("avatar.store.path", store.0.display().to_string()),
        ("avatar.lease_secs", "3".into()),
        ("avatar.sweep_interval_ms", "300".into()),
        ("avatar.retry.min_delay_ms", "20".into()),
        ("avatar.retry.max_delay_ms", "100".into()),
        ("avatar.retry.max_times", "3".into()),
        ("avatar.video.max_side", "96".into()),
        ("avatar.video.fps", "10".into()),
        ("avatar.video.preset", "ultrafast".into()),
        ("avatar.drain_secs", "0".into()),
    ];
    for (k, v) in extra {
        media.retain(|(key, _)| *key != k);
        media.push((k, v));
    }
    let p = support::spawn(Options {
        media,
        ..Default::default()
    })
    .await;
    Avatar { p, store }
}

pub async fn submit(p: &Platform, user: &User, key: &str, body: &Value) -> reqwest::Response {
    p.request("media", Method::POST, "/api/v1/avatars/jobs", user)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Submits and expects 201; the job's id.
pub async fn submit_ok(p: &Platform, user: &User, body: &Value) -> String {
    let r = submit(p, user, &uuid::Uuid::new_v4().to_string(), body).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["state"], "queued", "{v}");
    v["id"].as_str().unwrap().to_owned()
}

pub async fn get_job(p: &Platform, user: &User, id: &str) -> (u16, Value) {
    let r = p
        .send(
            Method::GET,
            &format!("/api/v1/avatars/jobs/{id}"),
            user,
            None,
        )
        .await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Waits until the job has ended (state succeeded, failed or cancelled).
pub async fn wait_end(p: &Platform, user: &User, id: &str) -> Value {
    let ended = testkit::wait_until(Duration::from_secs(90), || async {
        let (_, v) = get_job(p, user, id).await;
        matches!(
            v["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        )
    })
    .await;
    let (_, v) = get_job(p, user, id).await;
    assert!(ended, "the job did not end: {v}");
    v
}

/// Waits until the job's hold is settled (credits_charged final, no hold active).
pub async fn wait_settled(p: &Platform, user: &User) {
    assert!(
        testkit::wait_until(Duration::from_secs(30), || async {
            p.holds(user).await.0 == 0
        })
        .await,
        "a hold stayed active"
    );
}

/// The job's whole event stream (it ends with the job).
pub async fn events(
    p: &Platform,
    user: &User,
    id: &str,
    last_event_id: Option<&str>,
) -> Vec<(Option<String>, String, Value)> {
    let mut r = p.request(
        "media",
        Method::GET,
        &format!("/api/v1/avatars/jobs/{id}/events"),
        user,
    );
    if let Some(l) = last_event_id {
        r = r.header("Last-Event-ID", l);
    }
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let text = tokio::time::timeout(Duration::from_secs(90), r.text())
        .await
        .expect("the event stream ends when the job does")
        .unwrap();
    support::parse_sse(&text)
}

pub async fn download(
    p: &Platform,
    user: &User,
    path: &str,
    range: Option<&str>,
) -> reqwest::Response {
    let mut r = p.request("media", Method::GET, path, user);
    if let Some(h) = range {
        r = r.header("Range", h);
    }
    r.send().await.unwrap()
}

/// What ffprobe says about a file: duration and (codec_type, codec_name) per stream.
pub fn ffprobe(file: &Path) -> (f64, Vec<(String, String)>) {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_type,codec_name",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    let streams = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["codec_type"].as_str().unwrap().to_owned(),
                s["codec_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (d, streams)
}

/// ffprobe of bytes.
pub fn probe_bytes(bytes: &[u8], ext: &str) -> (f64, Vec<(String, String)>) {
    let dir = TempDir::new("probe");
    let f = dir.path(&format!("file.{ext}"));
    std::fs::write(&f, bytes).unwrap();
    ffprobe(&f)
}

fn run(cmd: &mut std::process::Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How long espeak-ng takes to say `text` (what a job's result should last).
pub fn spoken_secs(text: &str, lang: &str) -> f64 {
    let dir = TempDir::new("speech");
    std::fs::write(dir.path("t.txt"), text).unwrap();
    run(std::process::Command::new("espeak-ng")
        .args(["-v", lang, "-f"])
        .arg(dir.path("t.txt"))
        .arg("-w")
        .arg(dir.path("s.wav")));
    ffprobe(&dir.path("s.wav")).0
}

/// An MP3 of `text` (what the fake ElevenLabs answers with).
pub fn mp3_of(text: &str) -> Vec<u8> {
    let dir = TempDir::new("mp3");
    std::fs::write(dir.path("t.txt"), text).unwrap();
    run(std::process::Command::new("espeak-ng")
        .args(["-v", "en", "-f"])
        .arg(dir.path("t.txt"))
        .arg("-w")
        .arg(dir.path("s.wav")));
    run(std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(dir.path("s.wav"))
        .args(["-c:a", "libmp3lame", "-b:a", "64k"])
        .arg(dir.path("s.mp3")));
    std::fs::read(dir.path("s.mp3")).unwrap()
}

/// An image made by ffmpeg (`ext`: png or jpg).
pub fn image(w: u32, h: u32, ext: &str) -> Vec<u8> {
    let dir = TempDir::new("image");
    let f = dir.path(&format!("i.{ext}"));
    run(std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color=c=orange:s={w}x{h},format=rgb24"))
        .args(["-frames:v", "1"])
        .arg(&f));
    std::fs::read(f).unwrap()
}

/// A short H.264 + AAC MP4 (what the fake D-ID's finished talk is).
pub fn talk_mp4(secs: f64) -> Vec<u8> {
    let dir = TempDir::new("talk");
    let f = dir.path("talk.mp4");
    run(std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=blue:s=64x64:r=10",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050"])
        .args(["-t", &format!("{secs}")])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ])
        .arg(&f));
    std::fs::read(f).unwrap()
}

/// Uploads an avatar image as an admin; the response.
pub async fn upload(
    p: &Platform,
    admin: &User,
    bytes: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    p.request(
        "media",
        Method::POST,
        "/api/v1/admin/media/avatar-images",
        admin,
    )
    .header("Content-Type", content_type)
    .body(bytes)
    .send()
    .await
    .unwrap()
}

pub fn voice(text: &str) -> Value {
    json!({"kind": "voice", "text": text, "language": "en"})
}

pub fn video(text: &str) -> Value {
    json!({"kind": "video", "text": text, "language": "en"})
}

/// Kinds of the events, in order.
pub fn kinds(events: &[(Option<String>, String, Value)]) -> Vec<String> {
    events.iter().map(|(_, k, _)| k.clone()).collect()
}

/// Rows of media's tables, for checks the API does not show.
pub async fn count(p: &Platform, sql: &str, user: &User) -> i64 {
    p.db()
        .await
        .query_one(sql, &[&user.id.as_uuid()])
        .await
        .unwrap()
        .get(0)
}
