//! Videos by D-ID (a local server speaking its talks protocol).

use crate::*;

#[tokio::test]
async fn d_id_makes_the_video_and_the_captions_are_added() {
    let did = fakes::did(talk_mp4(2.0));
    let a = spawn(vec![
        ("avatar.video_provider", "d-id".into()),
        ("avatar.d_id.base_url", did.base_url.clone()),
        ("avatar.d_id.api_key", "test-did-key".into()),
        (
            "avatar.d_id.image_base_url",
            "https://cdn.example.test/media".into(),
        ),
        ("avatar.d_id.tts_provider", "microsoft".into()),
        ("avatar.d_id.poll_interval_ms", "50".into()),
    ])
    .await;
    let p = &a.p;
    let admin = p.admin();
    let user = p.user();
    p.fund(&user, 200).await;

    // D-ID needs an image to animate: without one the job fails, released.
    let text = "Blessings to you. Your path is clear.";
    let without = submit_ok(p, &user, &video(text)).await;
    let job = wait_end(p, &user, &without).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(job["error"]["message"]
        .as_str()
        .unwrap()
        .contains("avatar image"));

    let r = upload(p, &admin, image(128, 128, "png"), "image/png").await;
    assert_eq!(r.status(), 201);
    let img: Value = r.json().await.unwrap();
    let id = submit_ok(
        p,
        &user,
        &json!({"kind": "video", "text": text, "language": "en", "voice": "en-IN-NeerjaNeural"}),
    )
    .await;
    let job = wait_end(p, &user, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["provider"], "d-id");
    let created = did.created.lock().unwrap().clone();
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0]["source_url"],
        format!(
            "https://cdn.example.test/media/avatars/images/{}.png",
            img["id"].as_str().unwrap()
        )
    );
    assert_eq!(created[0]["script"]["input"], text);
    assert_eq!(created[0]["script"]["provider"]["type"], "microsoft");
    assert_eq!(
        created[0]["script"]["provider"]["voice_id"],
        "en-IN-NeerjaNeural"
    );
    // The first poll answered 503 (retried), then started, then done.
    assert!(did.polls.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    let evs = events(p, &user, &id, None).await;
    assert!(
        kinds(&evs).contains(&"retrying".to_owned()),
        "{:?}",
        kinds(&evs)
    );

    let r = download(p, &user, job["result"]["url"].as_str().unwrap(), None).await;
    let (secs, streams) = probe_bytes(&r.bytes().await.unwrap(), "mp4");
    let types: Vec<&str> = streams.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["video", "audio", "subtitle"]);
    assert!((secs - 2.0).abs() < 0.2, "{secs}");
    let vtt = download(
        p,
        &user,
        job["result"]["captions_url"].as_str().unwrap(),
        None,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        vtt.contains("Your path is clear.") && vtt.contains("--> 00:00:02.0"),
        "{vtt}"
    );
    wait_settled(p, &user).await;
    assert_eq!(p.holds(&user).await, (0, 1, 1));
    p.ledger_is_balanced().await;
}
