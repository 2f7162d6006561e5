//! Facebook Pages: the client against the fake Graph API.

use crate::fake_facebook::{fake, FakeFacebook, PAGE};
use crate::fakes::Fault;
use crate::{fast_retry, gaps, marker, png, start, FB_TOKEN};
use serde_json::json;
use social::networks::{
    Facebook, FacebookConfig, FacebookPage, Media, NetworkError, OutgoingPost, Publisher,
};
use std::time::Duration;

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
