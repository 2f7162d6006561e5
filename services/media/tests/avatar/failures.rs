//! Failures: a provider's transient errors retried, its lasting ones failing
//! the job (hold released), a worker dying mid-job, an instance restarted
//! mid-job.

use crate::*;

fn elevenlabs(base_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("avatar.voice_provider", "elevenlabs".into()),
        ("avatar.elevenlabs.base_url", base_url.to_owned()),
        ("avatar.elevenlabs.api_key", "test-eleven-key".into()),
    ]
}

#[tokio::test]
async fn transient_provider_errors_are_retried_with_backoff() {
    let text = "Your Saturn return brings lessons. Be patient.";
    let eleven = fakes::eleven(fakes::Eleven::FailsFirst(2, 503), mp3_of(text));
    let mut cfg = elevenlabs(&eleven.base_url);
    cfg.push(("avatar.voice_format", "mp3".into()));
    let a = spawn(cfg).await;
    let p = &a.p;
    let user = p.user();
    p.fund(&user, 100).await;
    let id = submit_ok(
        p,
        &user,
        &json!({"kind": "voice", "text": text, "language": "en", "voice": "Rachel_2"}),
    )
    .await;
    let evs = events(p, &user, &id, None).await;
    let retries: Vec<&Value> = evs
        .iter()
        .filter(|(_, k, _)| k == "retrying")
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(retries.len(), 2, "{:?}", kinds(&evs));
    assert!(retries[0]["error"]
        .as_str()
        .unwrap()
        .contains("elevenlabs answered HTTP 503"));
    assert_eq!(retries[0]["stage"], "speech");
    assert_eq!(kinds(&evs).last().map(String::as_str), Some("succeeded"));
    assert_eq!(eleven.hits(), 3);
    // The request spoke the provider's protocol.
    let (path, key, body) = eleven.requests.lock().unwrap()[2].clone();
    assert!(path.starts_with("/v1/text-to-speech/Rachel_2"), "{path}");
    assert_eq!(key, "test-eleven-key");
    assert_eq!(body["text"], text);
    assert_eq!(body["model_id"], "eleven_multilingual_v2");

    let job = wait_end(p, &user, &id).await;
    assert_eq!(job["provider"], "elevenlabs");
    assert_eq!(job["result"]["content_type"], "audio/mpeg");
    let r = download(p, &user, job["result"]["url"].as_str().unwrap(), None).await;
    assert_eq!(r.headers()["content-type"], "audio/mpeg");
    let (secs, streams) = probe_bytes(&r.bytes().await.unwrap(), "mp3");
    assert_eq!(streams, vec![("audio".to_owned(), "mp3".to_owned())]);
    assert!((secs - spoken_secs(text, "en")).abs() < 0.3, "{secs}");
    wait_settled(p, &user).await;
    assert_eq!(p.holds(&user).await, (0, 1, 0));
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn a_provider_that_keeps_failing_fails_the_job_and_releases_the_hold() {
    // 500 forever: retried (max_times 3), then the job fails with the cause.
    let eleven = fakes::eleven(fakes::Eleven::AlwaysFails(500), Vec::new());
    let a = spawn(elevenlabs(&eleven.base_url)).await;
    let p = &a.p;
    let user = p.user();
    p.fund(&user, 100).await;
    let id = submit_ok(p, &user, &voice("This will not be spoken.")).await;
    let job = wait_end(p, &user, &id).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "provider_error");
    let message = job["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("elevenlabs answered HTTP 500") && message.contains("fake failure 500"),
        "{message}"
    );
    assert!(message.contains("after 4 tries"), "{message}");
    assert_eq!(eleven.hits(), 4);
    assert!(job["result"].is_null());
    let evs = events(p, &user, &id, None).await;
    let (_, last, data) = evs.last().unwrap();
    assert_eq!(last, "failed");
    assert_eq!(data["error"]["code"], "provider_error");
    wait_settled(p, &user).await;
    assert_eq!(p.holds(&user).await, (0, 0, 1));
    assert_eq!(p.balance(&user).await, (100, 0));
    assert_eq!(get_job(p, &user, &id).await.1["credits_charged"], 0);
    let r = download(p, &user, &format!("/api/v1/avatars/jobs/{id}/result"), None).await;
    assert_eq!(r.status(), 409);
    assert!(
        testkit::wait_until(Duration::from_secs(10), || async {
            count(
                p,
                "SELECT count(*) FROM media.outbox WHERE subject = 'evt.media.avatar.failed'
                 AND published_at IS NOT NULL AND payload->'data'->>'user_id' = $1::uuid::text",
                &user,
            )
            .await
                == 1
        })
        .await
    );
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn a_refusal_is_not_retried() {
    // 400 (a bad request in the provider's eyes): one try, then failed.
    let eleven = fakes::eleven(fakes::Eleven::AlwaysFails(400), Vec::new());
    let a = spawn(elevenlabs(&eleven.base_url)).await;
    let p = &a.p;
    let user = p.user();
    p.fund(&user, 100).await;
    let id = submit_ok(p, &user, &voice("Refused.")).await;
    let job = wait_end(p, &user, &id).await;
    assert_eq!(job["state"], "failed");
    let message = job["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("HTTP 400") && !message.contains("tries"),
        "{message}"
    );
    assert_eq!(eleven.hits(), 1);
    wait_settled(p, &user).await;
    assert_eq!(p.balance(&user).await, (100, 0));
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn a_worker_that_dies_mid_job_leaves_it_to_another_which_completes_it_once() {
    // The first delivery of every job stops after claiming it, without
    // acking or ending it, as a killed worker would. JetStream redelivers
    // after the ack wait (the lease), and the next delivery takes over.
    let a = spawn(vec![
        ("avatar.fault.abandon_first_delivery", "true".into()),
        ("avatar.lease_secs", "1".into()),
    ])
    .await;
    let p = &a.p;
    let user = p.user();
    p.fund(&user, 100).await;
    let id = submit_ok(p, &user, &voice("Once, and only once.")).await;
    let job = wait_end(p, &user, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2);
    let evs = events(p, &user, &id, None).await;
    let runs: Vec<i64> = evs
        .iter()
        .filter(|(_, k, _)| k == "running")
        .map(|(_, _, d)| d["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(runs, vec![1, 2]);
    assert_eq!(kinds(&evs).iter().filter(|k| *k == "succeeded").count(), 1);
    wait_settled(p, &user).await;
    assert_eq!(p.holds(&user).await, (0, 1, 0));
    let held = job["credits_held"].as_i64().unwrap();
    assert_eq!(p.balance(&user).await, (100 - held, 0));
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM media.outbox WHERE subject = 'evt.media.avatar.succeeded'
             AND payload->'data'->>'user_id' = $1::uuid::text",
            &user
        )
        .await,
        1
    );
    p.ledger_is_balanced().await;
}

#[tokio::test]
async fn a_restart_mid_job_hands_the_job_to_the_new_instance() {
    let eleven = fakes::eleven(fakes::Eleven::Held, mp3_of("Across a restart."));
    let mut a = spawn(elevenlabs(&eleven.base_url)).await;
    let user = a.p.user();
    a.p.fund(&user, 100).await;
    let id = submit_ok(&a.p, &user, &voice("Across a restart.")).await;
    assert!(
        testkit::wait_until(Duration::from_secs(20), || async { eleven.hits() == 1 }).await,
        "the provider was not asked"
    );
    assert_eq!(get_job(&a.p, &user, &id).await.1["state"], "running");
    // Stop this instance mid-job (avatar.drain_secs = 0) and start another.
    a.p.restart_media().await;
    assert!(
        testkit::wait_until(Duration::from_secs(30), || async { eleven.hits() == 2 }).await,
        "the new instance did not take the job"
    );
    eleven.open();
    let p = &a.p;
    let job = wait_end(p, &user, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    // The handed-back attempt does not count.
    assert_eq!(job["attempts"], 1);
    let evs = events(p, &user, &id, None).await;
    let k = kinds(&evs);
    assert_eq!(k.iter().filter(|k| *k == "running").count(), 2, "{k:?}");
    assert_eq!(k.iter().filter(|k| *k == "queued").count(), 2, "{k:?}");
    wait_settled(p, &user).await;
    assert_eq!(p.holds(&user).await, (0, 1, 0));
    p.ledger_is_balanced().await;
}
