//! Voice jobs end to end: submit, follow, charge, fetch with ranges; the
//! idempotency key; refusals; owners only.

use crate::*;
use reqwest::Method;
use serde_json::json;

const TEXT: &str = "Namaste. Jupiter favours patience this month. Speak kindly at home.";

#[tokio::test]
async fn a_voice_job_is_spoken_charged_once_and_served_with_ranges() {
    let a = spawn(vec![]).await;
    let p = &a.p;
    let user = p.user();
    p.fund(&user, 100).await;
    let id = submit_ok(p, &user, &voice(TEXT)).await;

    // Progress: replayed from the start, followed until the end.
    let evs = events(p, &user, &id, None).await;
    let k = kinds(&evs);
    assert_eq!(k.first().map(String::as_str), Some("queued"), "{k:?}");
    assert_eq!(k.last().map(String::as_str), Some("succeeded"), "{k:?}");
    assert!(
        k.contains(&"running".to_owned()) && k.contains(&"progress".to_owned()),
        "{k:?}"
    );
    let stages: Vec<&str> = evs
        .iter()
        .filter(|(_, k, _)| k == "progress")
        .filter_map(|(_, _, d)| d["stage"].as_str())
        .collect();
    assert_eq!(stages, ["speech", "encoding", "storing"]);
    for (_, _, d) in &evs {
        assert_eq!(d["job_id"], id.as_str());
    }
    // Resuming after an event replays only what follows it.
    let second = evs[1].0.clone().unwrap();
    let rest = events(p, &user, &id, Some(&second)).await;
    assert_eq!(kinds(&rest), k[2..].to_vec());

    let job = wait_end(p, &user, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["provider"], "local");
    assert_eq!(job["attempts"], 1);
    let held = job["credits_held"].as_i64().unwrap();
    assert!(held > 0);
    assert!(
        testkit::wait_until(Duration::from_secs(20), || async {
            get_job(p, &user, &id).await.1["credits_charged"] == held
        })
        .await,
        "the hold was not captured"
    );
    assert_eq!(p.balance(&user).await, (100 - held, 0));
    assert_eq!(p.holds(&user).await, (0, 1, 0));

    // The whole file: Opus in Ogg, audio only, as long as the speech.
    let result = job["result"].clone();
    assert_eq!(result["content_type"], "audio/ogg");
    let url = result["url"].as_str().unwrap().to_owned();
    let r = download(p, &user, &url, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/ogg");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    let full = r.bytes().await.unwrap();
    assert_eq!(full.len() as i64, result["bytes"].as_i64().unwrap());
    let (secs, streams) = probe_bytes(&full, "ogg");
    assert_eq!(streams, vec![("audio".to_owned(), "opus".to_owned())]);
    let expected = spoken_secs(TEXT, "en");
    assert!(
        (secs - expected).abs() < 0.25,
        "{secs} s, expected {expected} s"
    );
    let ms = result["duration_ms"].as_i64().unwrap() as f64 / 1000.0;
    assert!((ms - secs).abs() < 0.1, "{ms} vs {secs}");

    // Ranges: exactly the bytes asked for.
    let n = full.len();
    for (h, start, end) in [
        ("bytes=0-99".to_owned(), 0, 99),
        (format!("bytes={}-", n - 10), n - 10, n - 1),
        ("bytes=-25".to_owned(), n - 25, n - 1),
        (format!("bytes=100-{}", n + 500), 100, n - 1),
    ] {
        let r = download(p, &user, &url, Some(&h)).await;
        assert_eq!(r.status(), 206, "{h}");
        assert_eq!(
            r.headers()["content-range"].to_str().unwrap(),
            format!("bytes {start}-{end}/{n}"),
            "{h}"
        );
        assert_eq!(r.headers()["content-type"], "audio/ogg");
        let b = r.bytes().await.unwrap();
        assert_eq!(&b[..], &full[start..=end], "{h}");
    }
    let r = download(p, &user, &url, Some(&format!("bytes={n}-"))).await;
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes */{n}")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "range_not_satisfiable");
    // Several ranges: the whole file.
    let r = download(p, &user, &url, Some("bytes=0-1,5-6")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), n);
    // Voice jobs have no captions.
    let r = download(
        p,
        &user,
        &format!("/api/v1/avatars/jobs/{id}/captions"),
        None,
    )
    .await;
    assert_eq!(r.status(), 404);

    // Somebody else sees nothing of it.
    let other = p.user();
    for path in [
        format!("/api/v1/avatars/jobs/{id}"),
        format!("/api/v1/avatars/jobs/{id}/events"),
        format!("/api/v1/avatars/jobs/{id}/result"),
        format!("/api/v1/avatars/jobs/{id}/captions"),
    ] {
        let r = download(p, &other, &path, None).await;
        assert_eq!(r.status(), 404, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "not_found", "{path}");
    }
    let r = p
        .send(
            Method::DELETE,
            &format!("/api/v1/avatars/jobs/{id}"),
            &other,
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    // The owner cannot cancel what has succeeded.
    let r = p
        .send(
            Method::DELETE,
            &format!("/api/v1/avatars/jobs/{id}"),
            &user,
            None,
        )
        .await;
    assert_eq!(r.status(), 409);

    // The event went out through the outbox; metrics counted the job.
    assert!(
        testkit::wait_until(Duration::from_secs(10), || async {
            count(
                p,
                "SELECT count(*) FROM media.outbox WHERE subject = 'evt.media.avatar.succeeded'
                 AND published_at IS NOT NULL AND payload->'data'->>'user_id' = $1::uuid::text",
                &user,
            )
            .await
                == 1
        })
        .await,
        "evt.media.avatar.succeeded was not relayed"
    );
    let metrics = p
        .http
        .get(p.media.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("avatar_jobs_finished_total{")
            && metrics.contains("kind=\"voice\",outcome=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("avatar_job_duration_seconds_bucket"));
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn the_idempotency_key_makes_one_job_and_one_hold() {
    let a = spawn(vec![]).await;
    let p = &a.p;
    let user = p.user();
    p.fund(&user, 100).await;
    let body = voice("Om shanti.");
    let r = submit(p, &user, "key-1", &body).await;
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    // The same request again: the same job, 200.
    let r = submit(p, &user, "key-1", &body).await;
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    // The same key with another request: refused, clearly.
    let r = submit(p, &user, "key-1", &voice("Something else.")).await;
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "idempotency_conflict");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("different"));
    // The same key from another user is another user's job.
    let other = p.user();
    p.fund(&other, 100).await;
    let r = submit(p, &other, "key-1", &body).await;
    assert_eq!(r.status(), 201);
    let theirs: Value = r.json().await.unwrap();
    assert_ne!(theirs["id"], first["id"]);

    // Concurrent duplicates: still one job, one hold.
    let body2 = voice("Hari om.");
    let submits: Vec<_> = (0..4).map(|_| submit(p, &user, "key-2", &body2)).collect();
    let answers = futures_util::future::join_all(submits).await;
    let mut ids = Vec::new();
    let mut created = 0;
    for r in answers {
        let s = r.status().as_u16();
        assert!(s == 200 || s == 201, "{s}");
        created += usize::from(s == 201);
        let v: Value = r.json().await.unwrap();
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");

    for id in [first["id"].as_str().unwrap(), ids[0].as_str()] {
        assert_eq!(wait_end(p, &user, id).await["state"], "succeeded");
    }
    wait_settled(p, &user).await;
    // Two jobs, two holds, both captured; nothing else was held.
    assert_eq!(p.holds(&user).await, (0, 2, 0));
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM media.avatar_jobs WHERE user_id = $1",
            &user
        )
        .await,
        2
    );
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM pricing.holds WHERE user_id = $1 AND reference LIKE 'avatar:%'",
            &user
        )
        .await,
        2
    );
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn refusals_come_before_anything_is_queued() {
    let a = spawn(vec![]).await;
    let p = &a.p;
    let poor = p.user();
    // No credits: 402, and no job, hold or work message.
    let r = submit(p, &poor, "k", &voice("Namaste.")).await;
    assert_eq!(r.status(), 402);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "insufficient_credits");
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM media.avatar_jobs WHERE user_id = $1",
            &poor
        )
        .await,
        0
    );
    assert_eq!(p.holds(&poor).await, (0, 0, 0));
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM media.outbox WHERE subject = 'media.avatar.jobs' AND $1::uuid IS NOT NULL",
            &poor
        )
        .await,
        0
    );
    // Once funded, the same key works (nothing was left behind).
    p.fund(&poor, 20).await;
    let r = submit(p, &poor, "k", &voice("Namaste.")).await;
    assert_eq!(r.status(), 201);

    // Bad input: 422 naming the field; a missing key: 400.
    let user = p.user();
    p.fund(&user, 100).await;
    let long = "a".repeat(2001);
    for (body, field) in [
        (
            json!({"kind": "voice", "text": "", "language": "en"}),
            "text",
        ),
        (
            json!({"kind": "voice", "text": "   ", "language": "en"}),
            "text",
        ),
        (json!({"kind": "voice", "language": "en"}), "text"),
        (
            json!({"kind": "voice", "text": long, "language": "en"}),
            "text",
        ),
        (
            json!({"kind": "voice", "text": "hi", "language": "fr"}),
            "language",
        ),
        (
            json!({"kind": "song", "text": "hi", "language": "en"}),
            "kind",
        ),
        (
            json!({"kind": "voice", "text": "hi", "language": "en", "voice": "../etc"}),
            "voice",
        ),
        (
            json!({"kind": "voice", "text": "hi", "language": "en", "image_id": uuid::Uuid::new_v4()}),
            "image_id",
        ),
        (
            json!({"kind": "video", "text": "hi", "language": "en", "image_id": uuid::Uuid::new_v4()}),
            "image_id",
        ),
        (
            json!({"kind": "voice", "text": "hi", "guidance_message_id": uuid::Uuid::new_v4(), "language": "en"}),
            "guidance_message_id",
        ),
    ] {
        let r = submit(p, &user, &uuid::Uuid::new_v4().to_string(), &body).await;
        assert_eq!(r.status(), 422, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "validation_failed", "{body}");
        assert_eq!(e["error"]["field"], field, "{body}");
    }
    // An answer to speak is read from guidance, which is not running here:
    // 503, saying so (guidance's chat tests speak a real answer).
    let r = submit(
        p,
        &user,
        "x",
        &json!({"kind": "voice", "guidance_message_id": uuid::Uuid::new_v4(), "language": "en"}),
    )
    .await;
    assert_eq!(r.status(), 503);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("guidance is unavailable"));
    let r = p
        .send(
            Method::POST,
            "/api/v1/avatars/jobs",
            &user,
            Some(&voice("hi")),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "Idempotency-Key");
    assert_eq!(p.holds(&user).await, (0, 0, 0));
    // Unauthenticated: 401.
    let r = p
        .http
        .post(p.media.url("/api/v1/avatars/jobs"))
        .header("Idempotency-Key", "k")
        .json(&voice("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = download(
        p,
        &user,
        &format!("/api/v1/avatars/jobs/{}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = download(p, &user, "/api/v1/avatars/jobs/not-a-uuid", None).await;
    assert_eq!(r.status(), 404);
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn cancelling_releases_the_hold_whether_queued_or_running() {
    // One worker, held inside a provider request, so one job runs and the
    // next stays queued.
    let eleven = fakes::eleven(fakes::Eleven::Held, mp3_of("Held."));
    let a = spawn(vec![
        ("avatar.workers", "1".into()),
        ("avatar.voice_provider", "elevenlabs".into()),
        ("avatar.elevenlabs.base_url", eleven.base_url.clone()),
        ("avatar.elevenlabs.api_key", "test-eleven-key".into()),
    ])
    .await;
    let p = &a.p;
    let user = p.user();
    p.fund(&user, 100).await;
    let running = submit_ok(p, &user, &voice("The first message.")).await;
    assert!(
        testkit::wait_until(Duration::from_secs(20), || async { eleven.hits() == 1 }).await,
        "the provider was not asked"
    );
    assert_eq!(get_job(p, &user, &running).await.1["state"], "running");
    let queued = submit_ok(p, &user, &voice("The second message.")).await;
    assert_eq!(get_job(p, &user, &queued).await.1["state"], "queued");
    assert_eq!(p.holds(&user).await, (2, 0, 0));

    for id in [&queued, &running] {
        let r = p
            .send(
                Method::DELETE,
                &format!("/api/v1/avatars/jobs/{id}"),
                &user,
                None,
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["state"], "cancelled", "{v}");
        assert_eq!(v["credits_charged"], 0);
        // Cancelling again changes nothing.
        let r = p
            .send(
                Method::DELETE,
                &format!("/api/v1/avatars/jobs/{id}"),
                &user,
                None,
            )
            .await;
        assert_eq!(r.status(), 200);
        let evs = events(p, &user, id, None).await;
        assert_eq!(kinds(&evs).last().map(String::as_str), Some("cancelled"));
    }
    wait_settled(p, &user).await;
    assert_eq!(p.holds(&user).await, (0, 0, 2));
    assert_eq!(p.balance(&user).await, (100, 0));
    // The provider's answer, when it comes, changes nothing.
    eleven.open();
    let r = download(
        p,
        &user,
        &format!("/api/v1/avatars/jobs/{running}/result"),
        None,
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(get_job(p, &user, &running).await.1["state"], "cancelled");
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM media.outbox WHERE subject = 'evt.media.avatar.cancelled'
             AND payload->'data'->>'user_id' = $1::uuid::text",
            &user
        )
        .await,
        2
    );
    p.ledger_is_balanced().await;
}
