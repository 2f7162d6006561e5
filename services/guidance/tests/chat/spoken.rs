//! An answer spoken by the avatar: media reads it from guidance
//! (`guidance.message.get`, acting for the user) and makes a voice job.

use crate::helpers::{spawn, Options};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn media_speaks_a_delivered_answer_of_its_owner_only() {
    let p = spawn(Options {
        media: true,
        ..Options::default()
    })
    .await;
    let u = p.user();
    let other = p.user();
    p.fund(&u, 100).await;
    p.fund(&other, 100).await;
    let c = p.conversation(&u, json!({})).await;
    let a = p
        .answer(
            &u,
            c["id"].as_str().unwrap(),
            "How should I begin meditating?",
        )
        .await;
    assert_eq!(a["status"], "complete");
    let message = a["message_id"].as_str().unwrap().to_owned();
    let submit = |who: &crate::helpers::User, key: &str| {
        let token = p.token("media", who);
        let url = p.media.as_ref().unwrap().url("/api/v1/avatars/jobs");
        let body = json!({"kind": "voice", "guidance_message_id": message, "language": "en"});
        let req = p
            .http
            .post(url)
            .header("X-Internal-Token", token)
            .header("Idempotency-Key", key.to_owned())
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    // Someone else's answer is not theirs to speak; nothing is held.
    let r = submit(&other, "k-other").await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "guidance_message_id");
    assert_eq!(p.balance(&other).await, 100);
    // The owner's: the job says the answer's text and succeeds.
    let r = submit(&u, "k-owner").await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let job: Value = r.json().await.unwrap();
    let answer_text = a["text"].as_str().unwrap().trim().to_owned();
    assert_eq!(job["text"].as_str().unwrap(), answer_text);
    let id = job["id"].as_str().unwrap().to_owned();
    let done = testkit::wait_until(Duration::from_secs(60), || async {
        let v: Value = p
            .send(
                "media",
                reqwest::Method::GET,
                &format!("/api/v1/avatars/jobs/{id}"),
                &u,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        v["state"] == "succeeded"
    })
    .await;
    assert!(done, "the voice job did not succeed");
    let r = p
        .send(
            "media",
            reqwest::Method::GET,
            &format!("/api/v1/avatars/jobs/{id}/result"),
            &u,
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(!r.bytes().await.unwrap().is_empty());
    p.ledger_is_balanced().await;
}
