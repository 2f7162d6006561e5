//! Tokens never show: not in `Debug` of clients, configs or errors, not in
//! error messages (even when a provider echoes the token back, or the
//! token is in the URL as Telegram's is), not in the captured logs.

use crate::fakes::Fault;
use crate::{facebook, instagram, marker, png, start, telegram, x, youtube, ALL_TOKENS};
use crate::{FB_TOKEN, IG_TOKEN, TG_TOKEN, X_TOKEN, YT_TOKEN};
use serde_json::json;
use social::networks::{
    Media, NetworkError, OutgoingPost, Publisher, Telegram, TelegramChannel, TelegramConfig,
};
use std::time::Duration;

fn assert_clean(what: &str, text: &str) {
    for t in ALL_TOKENS {
        assert!(!text.contains(t), "{what} shows a token: {text}");
        // Nor a recognisable part of one.
        assert!(
            !text.contains("SECRET-000"),
            "{what} shows part of a token: {text}"
        );
    }
}

#[tokio::test]
async fn tokens_never_appear_in_debug_errors_or_logs() {
    start();
    let mut seen = Vec::new();

    // Every client's Debug.
    let ffb = crate::fake_facebook::fake();
    let fb = facebook::client(&ffb, FB_TOKEN, 1_500);
    let fig = crate::fake_instagram::fake(0, "FINISHED");
    let ig = instagram::client(&fig, IG_TOKEN, 5_000);
    let fx = x::fake();
    let xc = x::client(&fx, X_TOKEN, 5_000);
    let fyt = youtube::fake();
    let yt = youtube::client(&fyt, YT_TOKEN, 5_000);
    let ftg = crate::fake_telegram::fake();
    let tg = telegram::client(&ftg, TG_TOKEN, 1_500);
    for (what, d) in [
        ("facebook", format!("{fb:?}")),
        ("instagram", format!("{ig:?}")),
        ("x", format!("{xc:?}")),
        ("youtube", format!("{yt:?}")),
        ("telegram", format!("{tg:?}")),
    ] {
        assert!(d.contains("REDACTED") || d.contains(".."), "{what}: {d}");
        assert_clean(what, &d);
    }

    // A provider that echoes the token in its error message.
    ffb.state.script.push(Fault::status(
        400,
        json!({"error": {"message": format!("(#100) token {FB_TOKEN} is not allowed here"), "type": "OAuthException", "code": 100}}),
    ));
    let e = fb
        .publish(&OutgoingPost::text(marker("sec-echo"), "x"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("[redacted]"), "{e}");
    seen.push(e);

    // A timeout (retried, found by lookup): logs the retry.
    ffb.state
        .script
        .push(Fault::AcceptThenDelay(Duration::from_millis(4_000)));
    fb.publish(&OutgoingPost::text(marker("sec-timeout"), "y"))
        .await
        .unwrap();

    // Telegram: the token is in the URL. A refused connection, then a
    // timeout, then a refusal echoing the token.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let offline = Telegram::new(
        &TelegramConfig {
            base_url: format!("http://127.0.0.1:{closed}"),
            timeout_ms: 1_000,
            retry: crate::fast_retry(),
        },
        TelegramChannel {
            chat_id: crate::fake_telegram::CHANNEL.into(),
            bot_token: TG_TOKEN.into(),
        },
    )
    .unwrap();
    let e = offline
        .publish(&OutgoingPost::text(marker("sec-offline"), "z"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            NetworkError::Unavailable {
                request_sent: false,
                ..
            }
        ),
        "{e:?}"
    );
    seen.push(e);
    ftg.state
        .script
        .push(Fault::AcceptThenDelay(Duration::from_millis(4_000)));
    let e = tg
        .publish(
            &OutgoingPost::text(marker("sec-tg-timeout"), "z").with_media(Media::image_bytes(
                png(),
                "image/png",
                "a.png",
            )),
        )
        .await
        .unwrap_err();
    seen.push(e);
    ftg.state.script.push(Fault::status(
        400,
        json!({"ok": false, "error_code": 400, "description": format!("Bad Request: /bot{TG_TOKEN}/sendMessage is odd")}),
    ));
    let e = tg
        .publish(&OutgoingPost::text(marker("sec-tg-echo"), "z"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("[redacted]"), "{e}");
    seen.push(e);

    // Expired credentials everywhere.
    seen.push(
        instagram::client(&fig, "EAAwrong", 5_000)
            .find(&marker("a"))
            .await
            .unwrap_err(),
    );
    seen.push(
        x::client(&fx, "wrong", 5_000)
            .metrics("1")
            .await
            .unwrap_err(),
    );
    seen.push(
        youtube::client(&fyt, "wrong", 5_000)
            .comments("v1")
            .await
            .unwrap_err(),
    );
    // And the successful paths, for their logs.
    ig.find(&marker("none")).await.unwrap();
    xc.find(&marker("none")).await.unwrap();
    yt.find(&marker("none")).await.unwrap();

    for e in &seen {
        assert_clean("error Debug", &format!("{e:?}"));
        assert_clean("error Display", &e.to_string());
    }

    // Logs: the retries above were logged (capture works) and carry no token.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = testkit::logs();
    if std::env::var("TEST_LOG").as_deref() != Ok("1") {
        assert!(logs.contains("retrying"), "no retries captured:\n{logs}");
        assert!(logs.contains("sec-timeout") || logs.contains(&marker("sec-timeout").to_string()));
    }
    assert_clean("logs", &logs);
}
