//! Instagram: the client against the fake Graph API (`fake_instagram.rs`).

use crate::fake_instagram::{fake, FakeInstagram, IG_USER};
use crate::fakes::Fault;
use crate::{fast_retry, marker, start, IG_TOKEN};
use serde_json::json;
use social::networks::{
    Instagram, InstagramAccount, InstagramConfig, Media, NetworkError, OutgoingPost, Publisher,
};
use std::sync::atomic::Ordering;
use std::time::Duration;

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
