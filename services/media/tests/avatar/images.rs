//! Avatar images and the local video pipeline.

use crate::*;
use reqwest::Method;

fn streams_of(s: &[(String, String)]) -> Vec<(&str, &str)> {
    s.iter().map(|(t, c)| (t.as_str(), c.as_str())).collect()
}

#[tokio::test]
async fn uploads_are_checked_and_videos_speak_over_the_image() {
    let a = spawn(vec![("avatar.images.max_bytes", "400000".into())]).await;
    let p = &a.p;
    let admin = p.admin();
    let user = p.user();
    p.fund(&user, 200).await;

    // Without any image, a video has a plain background.
    let text = "Namaste. The Moon is bright tonight! Rest well.";
    let plain = submit_ok(p, &user, &video(text)).await;
    let job = wait_end(p, &user, &plain).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert!(job["image_id"].is_null());

    // Uploads: admins only, PNG or JPEG whose bytes match, sized sensibly.
    // Odd sizes are fine: ffmpeg scales to even ones.
    let png = image(121, 91, "png");
    let r = upload(p, &user, png.clone(), "image/png").await;
    assert_eq!(r.status(), 403);
    let r = upload(p, &admin, png.clone(), "image/gif").await;
    assert_eq!(r.status(), 415);
    let r = upload(p, &admin, png.clone(), "image/jpeg").await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "body");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("image/png"),
        "{e}"
    );
    let r = upload(p, &admin, image(32, 90, "png"), "image/png").await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("32x90"),
        "{e}"
    );
    let r = upload(p, &admin, b"not an image".to_vec(), "image/png").await;
    assert_eq!(r.status(), 422);
    let r = upload(p, &admin, vec![0u8; 400_001], "image/png").await;
    assert_eq!(r.status(), 413);
    // Larger than http.body_limit_bytes (256 KiB) but within the images' limit.
    let mut big = image(64, 64, "png");
    big.resize(300_000, 0);
    let r = upload(p, &admin, big, "image/png").await;
    assert_eq!(r.status(), 201);
    let big: Value = r.json().await.unwrap();
    let r = p
        .send(
            Method::DELETE,
            &format!(
                "/api/v1/admin/media/avatar-images/{}",
                big["id"].as_str().unwrap()
            ),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = upload(p, &admin, image(100, 80, "jpg"), "image/jpeg").await;
    assert_eq!(r.status(), 201);
    let jpeg: Value = r.json().await.unwrap();
    assert_eq!(
        (jpeg["width"].as_i64(), jpeg["height"].as_i64()),
        (Some(100), Some(80))
    );
    let r = upload(p, &admin, png, "image/png").await;
    assert_eq!(r.status(), 201);
    let newest: Value = r.json().await.unwrap();
    assert_eq!(newest["content_type"], "image/png");
    assert_eq!(
        (newest["width"].as_i64(), newest["height"].as_i64()),
        (Some(121), Some(91))
    );
    let list: Value = p
        .send(
            Method::GET,
            "/api/v1/admin/media/avatar-images",
            &admin,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            newest["id"].as_str().unwrap(),
            jpeg["id"].as_str().unwrap(),
            big["id"].as_str().unwrap()
        ]
    );
    assert_eq!(list["images"][2]["active"], false);
    let r = p
        .send(
            Method::GET,
            "/api/v1/admin/media/avatar-images",
            &user,
            None,
        )
        .await;
    assert_eq!(r.status(), 403);
    let users: Value = p
        .send(Method::GET, "/api/v1/avatars/images", &user, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users["images"].as_array().unwrap().len(), 2);

    // A video without image_id uses the newest image; one names the JPEG.
    let id = submit_ok(p, &user, &video(text)).await;
    let named = submit_ok(
        p,
        &user,
        &json!({"kind": "video", "text": "Shubh ratri.", "language": "hi", "image_id": jpeg["id"]}),
    )
    .await;
    let job = wait_end(p, &user, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["image_id"], newest["id"]);
    assert_eq!(job["result"]["content_type"], "video/mp4");
    let held = job["credits_held"].as_i64().unwrap();
    assert!(held > 0);
    let r = download(p, &user, job["result"]["url"].as_str().unwrap(), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    let mp4 = r.bytes().await.unwrap();
    let (secs, streams) = probe_bytes(&mp4, "mp4");
    assert_eq!(
        streams_of(&streams),
        [
            ("video", "h264"),
            ("audio", "aac"),
            ("subtitle", "mov_text")
        ]
    );
    let expected = spoken_secs(text, "en");
    assert!(
        (secs - expected).abs() < 0.3,
        "{secs} s, expected {expected} s"
    );
    // Range requests on the video too.
    let r = download(
        p,
        &user,
        job["result"]["url"].as_str().unwrap(),
        Some("bytes=1000-1999"),
    )
    .await;
    assert_eq!(r.status(), 206);
    assert_eq!(&r.bytes().await.unwrap()[..], &mp4[1000..2000]);

    // Captions: one cue per sentence over the speech.
    let r = download(
        p,
        &user,
        job["result"]["captions_url"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/vtt"));
    let vtt = r.text().await.unwrap();
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    for sentence in ["Namaste.", "The Moon is bright tonight!", "Rest well."] {
        assert!(vtt.contains(sentence), "{vtt}");
    }
    assert_eq!(vtt.matches(" --> ").count(), 3, "{vtt}");
    let other = p.user();
    let r = download(
        p,
        &other,
        job["result"]["captions_url"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(r.status(), 404);

    let named_job = wait_end(p, &user, &named).await;
    assert_eq!(named_job["state"], "succeeded", "{named_job}");
    assert_eq!(named_job["image_id"], jpeg["id"]);
    assert_eq!(named_job["language"], "hi");

    // A deactivated image is no longer chosen.
    let r = p
        .send(
            Method::DELETE,
            &format!(
                "/api/v1/admin/media/avatar-images/{}",
                newest["id"].as_str().unwrap()
            ),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = submit(
        p,
        &user,
        "named-inactive",
        &json!({"kind": "video", "text": "hi", "language": "en", "image_id": newest["id"]}),
    )
    .await;
    assert_eq!(r.status(), 422);

    wait_settled(p, &user).await;
    assert_eq!(p.holds(&user).await, (0, 3, 0));
    p.ledger_is_balanced().await;
}
