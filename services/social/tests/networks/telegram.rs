//! Telegram: the client against the fake Bot API (`fake_telegram.rs`).

use crate::fake_telegram::{fake, FakeTelegram, CHANNEL};
use crate::fakes::Fault;
use crate::{fast_retry, gaps, marker, png, start, TG_TOKEN};
use serde_json::json;
use social::networks::{
    Media, NetworkError, OutgoingPost, Publisher, Telegram, TelegramChannel, TelegramConfig,
};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn client(f: &FakeTelegram, token: &str, timeout_ms: u64) -> Telegram {
    Telegram::new(
        &TelegramConfig {
            base_url: f.server.base_url.clone(),
            timeout_ms,
            retry: fast_retry(),
        },
        TelegramChannel {
            chat_id: CHANNEL.into(),
            bot_token: token.into(),
        },
    )
    .unwrap()
}

fn photo_post(key: &str) -> OutgoingPost {
    OutgoingPost::text(marker(key), "இன்றைய பஞ்சாங்கம் 🙏").with_media(Media::image_bytes(
        png(),
        "image/png",
        "card.png",
    ))
}

#[tokio::test]
async fn sends_a_photo_to_the_channel() {
    start();
    let f = fake();
    let tg = client(&f, TG_TOKEN, 5_000);
    let post = photo_post("tg-photo");
    let p = tg.publish(&post).await.unwrap();
    let sent = f.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "sendPhoto");
    assert_eq!(sent[0].chat_id, CHANNEL);
    assert_eq!(
        sent[0].caption,
        format!("இன்றைய பஞ்சாங்கம் 🙏\n\n{}", post.marker.tag())
    );
    let (name, ct, data) = sent[0].file.clone().unwrap();
    assert_eq!((name.as_str(), ct.as_str()), ("card.png", "image/png"));
    assert_eq!(data, png());
    assert_eq!(p.provider_post_id, "101");
    assert_eq!(p.url.as_deref(), Some("https://t.me/jyotiflow_daily/101"));
}

#[tokio::test]
async fn sends_a_video_and_a_text_message() {
    start();
    let f = fake();
    let tg = client(&f, TG_TOKEN, 5_000);
    let post = OutgoingPost::text(marker("tg-video"), "Aarti").with_media(Media::video_bytes(
        vec![0u8; 4096],
        "video/mp4",
        "aarti.mp4",
    ));
    tg.publish(&post).await.unwrap();
    tg.publish(&OutgoingPost::text(marker("tg-text"), "Good morning"))
        .await
        .unwrap();
    let sent = f.sent();
    assert_eq!(sent[0].method, "sendVideo");
    assert_eq!(sent[0].file.as_ref().unwrap().2.len(), 4096);
    assert_eq!(sent[1].method, "sendMessage");
    assert!(sent[1].caption.starts_with("Good morning\n\n#jf"));
}

#[tokio::test]
async fn sends_a_photo_by_url() {
    start();
    let f = fake();
    let tg = client(&f, TG_TOKEN, 5_000);
    let post = OutgoingPost::text(marker("tg-url"), "Card").with_media(Media::image_url(
        "https://cdn.jyotiflow.app/c.png",
        "image/png",
    ));
    tg.publish(&post).await.unwrap();
    let sent = f.sent();
    assert_eq!(
        sent[0].file_url.as_deref(),
        Some("https://cdn.jyotiflow.app/c.png")
    );
    assert!(sent[0].file.is_none());
}

#[tokio::test]
async fn a_wrong_token_is_expired_credentials_and_a_kicked_bot_unauthorized() {
    start();
    let f = fake();
    let tg = client(&f, "123:revoked", 5_000);
    let e = tg.publish(&photo_post("tg-401")).await.unwrap_err();
    assert_eq!(
        e,
        NetworkError::ExpiredCredentials {
            network: social::networks::Network::Telegram,
            provider_message: "Unauthorized".into()
        }
    );
    f.state.kicked.store(true, Ordering::SeqCst);
    let tg = client(&f, TG_TOKEN, 5_000);
    let e = tg.publish(&photo_post("tg-403")).await.unwrap_err();
    match e {
        NetworkError::Unauthorized {
            provider_message, ..
        } => {
            assert_eq!(
                provider_message,
                "Forbidden: bot is not a member of the channel chat"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(f.sent().is_empty());
}

#[tokio::test]
async fn flood_wait_is_waited_for() {
    start();
    let f = fake();
    f.state.script.push(Fault::status(
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}),
    ));
    let tg = client(&f, TG_TOKEN, 5_000);
    tg.publish(&photo_post("tg-429")).await.unwrap();
    assert_eq!(f.sent().len(), 1);
    let g = gaps(&f.state.script.arrivals());
    assert_eq!(g.len(), 1);
    assert!(g[0] >= Duration::from_secs(1), "{g:?}");
    assert!(g[0] < Duration::from_millis(2_500), "{g:?}");
}

#[tokio::test]
async fn a_timeout_is_unconfirmed_and_never_resent() {
    start();
    let f = fake();
    f.state
        .script
        .push(Fault::AcceptThenDelay(Duration::from_millis(4_000)));
    let tg = client(&f, TG_TOKEN, 1_500);
    let mut post = photo_post("tg-timeout");
    let e = tg.publish(&post).await.unwrap_err();
    match &e {
        NetworkError::Unconfirmed { reason, .. } => {
            assert!(reason.contains("timed out"), "{reason}");
            assert!(reason.contains(&post.marker.tag()), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.state.script.arrivals().len(), 1, "not sent again");
    // The scheduler's retry with prior_attempt is refused without sending.
    post.prior_attempt = true;
    let e = tg.publish(&post).await.unwrap_err();
    assert!(matches!(e, NetworkError::Unconfirmed { .. }), "{e:?}");
    tokio::time::sleep(Duration::from_millis(4_300)).await;
    assert_eq!(f.sent().len(), 1);
    assert_eq!(f.state.script.arrivals().len(), 1);
    // Telegram cannot look posts up.
    assert!(matches!(
        tg.find(&post.marker).await,
        Err(NetworkError::Unsupported { .. })
    ));
}

#[tokio::test]
async fn a_server_error_is_unconfirmed_but_a_refusal_is_rejected() {
    start();
    let f = fake();
    f.state.script.push(Fault::status(
        502,
        json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
    ));
    let tg = client(&f, TG_TOKEN, 5_000);
    let e = tg.publish(&photo_post("tg-502")).await.unwrap_err();
    assert!(matches!(e, NetworkError::Unconfirmed { .. }), "{e:?}");
    assert_eq!(f.state.script.arrivals().len(), 1);

    let e = tg
        .publish(&OutgoingPost::text(marker("tg-long"), "அ".repeat(4090)))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Telegram message allows 4096 UTF-16 code units"),
        "{e}"
    );
}

#[tokio::test]
async fn metrics_and_comments_are_unsupported() {
    start();
    let f = fake();
    let tg = client(&f, TG_TOKEN, 5_000);
    assert!(matches!(
        tg.metrics("101").await,
        Err(NetworkError::Unsupported { .. })
    ));
    assert!(matches!(
        tg.comments("101").await,
        Err(NetworkError::Unsupported { .. })
    ));
    assert!(matches!(
        tg.reply("1", "x").await,
        Err(NetworkError::Unsupported { .. })
    ));
}
