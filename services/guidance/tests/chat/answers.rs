//! Answers: grounded in the chart and the knowledge base, charged once,
//! private to their user, validated, limited, and safe.

use crate::helpers::{spawn, Options, Platform, User};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// Every chart fact the answer lists says what charts says.
pub fn assert_facts_match_chart(facts: &[Value], summary: &Value) {
    let graha = |name: &str| -> Value {
        summary["grahas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["graha"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is not in the chart"))
    };
    assert!(!facts.is_empty());
    for f in facts {
        match f["kind"].as_str().unwrap() {
            "ascendant" => assert_eq!(f["sign"], summary["lagna"]["sign"], "{f}"),
            "moon" => {
                assert_eq!(f["sign"], summary["moon"]["sign"], "{f}");
                assert_eq!(f["nakshatra"], summary["moon"]["nakshatra"], "{f}");
            }
            "placement" => {
                let g = graha(f["graha"].as_str().unwrap());
                for k in ["sign", "house", "nakshatra", "dignity", "retrograde"] {
                    assert_eq!(f[k], g[k], "{k} of {f} against {g}");
                }
            }
            "house_lord" => {
                let g = graha(f["graha"].as_str().unwrap());
                assert_eq!(f["house"], g["house"], "{f}");
            }
            "dasha" => assert_eq!(
                f["graha"], summary["running_dasha"]["mahadasha"]["lord"],
                "{f}"
            ),
            "house" => {
                let h = &f["house"];
                assert!(
                    !summary["grahas"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|g| &g["house"] == h),
                    "{f}: the house is occupied"
                );
            }
            "yoga" | "dosha" => {}
            other => panic!("unknown fact kind {other}"),
        }
    }
}

/// Every source the answer names exists, active, in the knowledge base.
async fn assert_sources_exist(p: &Platform, sources: &[Value]) {
    assert!(!sources.is_empty(), "no knowledge was given");
    let db = p.db().await;
    for s in sources {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM guidance.knowledge_entries WHERE id = $1 AND active",
                &[&s["id"].as_str().unwrap()],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "source {s} is not an active entry");
    }
}

async fn funded_user_with_chart(p: &Platform, credits: i64) -> (User, Value) {
    let u = p.user();
    p.fund(&u, credits).await;
    let profile = p.profile(&u, "1990-05-01", "06:30").await;
    (u, profile)
}

#[tokio::test]
async fn a_grounded_answer_lists_its_chart_facts_and_sources_and_is_charged_once() {
    let p = spawn(Options::default()).await;
    let (u, profile) = funded_user_with_chart(&p, 100).await;
    let pid = profile["id"].as_str().unwrap().to_owned();
    let c = p.conversation(&u, json!({"profile_id": pid})).await;
    let cid = c["id"].as_str().unwrap();
    let a = p
        .answer(
            &u,
            cid,
            "Will Saturn delay my marriage? What does my 7th house say?",
        )
        .await;
    assert_eq!(a["status"], "complete");
    assert_eq!(a["provider"], "local");
    assert!(!a["text"].as_str().unwrap().trim().is_empty());
    assert!(a["usage"]["prompt_tokens"].as_u64().unwrap() > 50);
    assert!(a["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    // Charged exactly what was quoted and held, once.
    let charged = a["credits_charged"].as_i64().unwrap();
    assert!(charged > 0);
    assert_eq!(p.balance(&u).await, 100 - charged);
    assert_eq!(p.active_holds(&u).await, 0);
    p.ledger_is_balanced().await;
    // The facts are the chart's, and they cover what the question touches.
    let summary = p.chart_summary(&u, &pid).await;
    let facts = a["chart_facts"].as_array().unwrap();
    assert_facts_match_chart(facts, &summary);
    let kinds: Vec<&str> = facts.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    for k in ["ascendant", "moon", "dasha", "house_lord"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(facts
        .iter()
        .any(|f| f["kind"] == "placement" && f["graha"] == "saturn"));
    assert_sources_exist(&p, a["sources"].as_array().unwrap()).await;
    // Stored as delivered, and pricing's demand factor learns the usage once.
    let m = p.messages(cid).await;
    assert_eq!(
        m,
        vec![
            ("user".into(), "complete".into(), 0),
            ("assistant".into(), "complete".into(), charged)
        ]
    );
    // Pricing learns of the answer twice (its own capture and guidance's
    // usage event, both naming the hold) and counts it once.
    let db = p.db().await;
    let message = uuid::Uuid::parse_str(a["message_id"].as_str().unwrap()).unwrap();
    let hold: uuid::Uuid = db
        .query_one(
            "SELECT hold_id FROM guidance.messages WHERE id = $1",
            &[&message],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        testkit::wait_until(Duration::from_secs(20), || async {
            db.query_one(
                "SELECT count(DISTINCT consumer) FROM pricing.processed_events
                 WHERE consumer IN ('pricing-usage', 'pricing-guidance-usage')",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
                == 2
        })
        .await,
        "pricing did not consume both usage events"
    );
    let rows = db
        .query(
            "SELECT service_code, credits FROM pricing.usage_events WHERE hold_id = $1",
            &[&hold],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, &str>(0), "text_guidance");
    assert_eq!(rows[0].get::<_, i64>(1), charged);
    // The conversation shows both turns with what the answer was given.
    let r = p
        .send(
            "guidance",
            Method::GET,
            &format!("/api/v1/guidance/conversations/{cid}"),
            &u,
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let detail: Value = r.json().await.unwrap();
    assert_eq!(detail["messages"].as_array().unwrap().len(), 2);
    assert_eq!(detail["messages"][1]["chart_facts"], a["chart_facts"]);
    assert_eq!(detail["messages"][1]["sources"], a["sources"]);
}

#[tokio::test]
async fn follow_up_questions_see_the_earlier_turns() {
    let p = spawn(Options::default()).await;
    let (u, profile) = funded_user_with_chart(&p, 100).await;
    let c = p
        .conversation(&u, json!({"profile_id": profile["id"]}))
        .await;
    let cid = c["id"].as_str().unwrap();
    let q = "What does my career look like?";
    let first = p.answer(&u, cid, q).await;
    let second = p.answer(&u, cid, q).await;
    // Same question, same chart and knowledge: the only new input is the
    // earlier question and answer.
    assert_eq!(first["sources"], second["sources"]);
    let (a, b) = (
        first["usage"]["prompt_tokens"].as_u64().unwrap(),
        second["usage"]["prompt_tokens"].as_u64().unwrap(),
    );
    assert!(
        b > a + 5,
        "the second prompt ({b}) does not carry the first turn ({a})"
    );
}

#[tokio::test]
async fn without_a_profile_the_answer_uses_the_knowledge_base_and_asks_for_birth_details() {
    let p = spawn(Options::default()).await;
    let u = p.user();
    p.fund(&u, 50).await;
    let c = p.conversation(&u, json!({})).await;
    let a = p
        .answer(
            &u,
            c["id"].as_str().unwrap(),
            "How should I begin meditation?",
        )
        .await;
    assert_eq!(a["status"], "complete");
    assert_eq!(a["chart_facts"], json!([]));
    assert_sources_exist(&p, a["sources"].as_array().unwrap()).await;
    let hint = guidance::chat::lang::no_profile_hint(guidance::chat::lang::Language::En);
    assert!(a["text"].as_str().unwrap().ends_with(hint), "{a}");
    // The Tamil conversation gets the hint in Tamil.
    let c = p.conversation(&u, json!({"language": "ta"})).await;
    let a = p
        .answer(&u, c["id"].as_str().unwrap(), "தியானம் எப்படி தொடங்குவது?")
        .await;
    let hint = guidance::chat::lang::no_profile_hint(guidance::chat::lang::Language::Ta);
    assert!(a["text"].as_str().unwrap().ends_with(hint), "{a}");
}

#[tokio::test]
async fn a_crisis_message_gets_help_no_model_no_charge_and_a_flag() {
    let p = spawn(Options::default()).await;
    let (u, profile) = funded_user_with_chart(&p, 40).await;
    let admin = p.admin();
    for (lang, text) in [
        ("en", "I want to kill myself, nothing helps"),
        ("hi", "मैं आत्महत्या करना चाहता हूँ"),
        ("ta", "நான் தற்கொலை செய்து கொள்ள விரும்புகிறேன்"),
    ] {
        let c = p
            .conversation(&u, json!({"profile_id": profile["id"], "language": lang}))
            .await;
        let cid = c["id"].as_str().unwrap();
        let a = p.answer(&u, cid, text).await;
        assert_eq!(a["status"], "crisis", "{lang}");
        assert_eq!(a["credits_charged"], 0);
        assert_eq!(a["provider"], Value::Null, "no model was asked");
        let lang = guidance::chat::lang::Language::parse(lang).unwrap();
        assert_eq!(
            a["text"].as_str().unwrap(),
            guidance::chat::lang::crisis_answer(lang)
        );
        let r = p
            .send(
                "guidance",
                Method::GET,
                "/api/v1/admin/guidance/flags",
                &admin,
                None,
            )
            .await;
        assert_eq!(r.status(), 200);
        let flags: Value = r.json().await.unwrap();
        assert!(
            flags["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["conversation_id"] == cid && f["kind"] == "crisis"),
            "{flags}"
        );
    }
    assert_eq!(p.balance(&u).await, 40);
    assert_eq!(p.active_holds(&u).await, 0);
    // A user is not an admin.
    let r = p
        .send(
            "guidance",
            Method::GET,
            "/api/v1/admin/guidance/flags",
            &u,
            None,
        )
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn another_users_conversation_or_profile_is_not_found() {
    let p = spawn(Options::default()).await;
    let (a, profile) = funded_user_with_chart(&p, 40).await;
    let b = p.user();
    p.fund(&b, 40).await;
    let c = p
        .conversation(&a, json!({"profile_id": profile["id"]}))
        .await;
    let cid = c["id"].as_str().unwrap();
    let path = format!("/api/v1/guidance/conversations/{cid}");
    for (m, path, body) in [
        (Method::GET, path.clone(), None),
        (Method::DELETE, path.clone(), None),
        (
            Method::POST,
            format!("{path}/messages"),
            Some(json!({"content": "What is my ascendant?"})),
        ),
    ] {
        let r = p
            .send("guidance", m.clone(), &path, &b, body.as_ref())
            .await;
        assert_eq!(r.status(), 404, "{m} {path}");
    }
    // B cannot ground a conversation in A's profile.
    let r = p
        .send(
            "guidance",
            Method::POST,
            "/api/v1/guidance/conversations",
            &b,
            Some(&json!({"profile_id": profile["id"]})),
        )
        .await;
    assert_eq!(r.status(), 404);
    // Nothing of B's was charged, A's conversation is intact, B sees none.
    assert_eq!(p.balance(&b).await, 40);
    assert_eq!(p.messages(cid).await, vec![]);
    let r = p
        .send(
            "guidance",
            Method::GET,
            "/api/v1/guidance/conversations",
            &b,
            None,
        )
        .await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["conversations"], json!([]));
    // A deletes it: it and its messages are gone.
    p.answer(&a, cid, "I feel I want to die").await;
    assert_eq!(p.messages(cid).await.len(), 2);
    let r = p.send("guidance", Method::DELETE, &path, &a, None).await;
    assert_eq!(r.status(), 204);
    assert_eq!(p.messages(cid).await, vec![]);
    let r = p.send("guidance", Method::GET, &path, &a, None).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let p = spawn(Options::default()).await;
    let (u, _) = funded_user_with_chart(&p, 40).await;
    for (body, field) in [
        (json!({"language": "fr"}), "language"),
        (json!({"persona": "oracle"}), "persona"),
        (json!({"profile_id": "not-a-uuid"}), "profile_id"),
    ] {
        let r = p
            .send(
                "guidance",
                Method::POST,
                "/api/v1/guidance/conversations",
                &u,
                Some(&body),
            )
            .await;
        let status = r.status();
        let e: Value = r.json().await.unwrap();
        assert!(status == 422 || status == 400, "{body}: {status}");
        if status == 422 {
            assert_eq!(e["error"]["field"], field, "{e}");
        }
    }
    let c = p.conversation(&u, json!({})).await;
    let cid = c["id"].as_str().unwrap();
    let long = "ॐ".repeat(4001);
    for content in [
        json!(long),
        json!(""),
        json!("   "),
        json!("a\u{0000}b"),
        json!(7),
    ] {
        let r = p
            .send(
                "guidance",
                Method::POST,
                &format!("/api/v1/guidance/conversations/{cid}/messages"),
                &u,
                Some(&json!({ "content": content })),
            )
            .await;
        assert!(
            r.status() == 422 || r.status() == 400,
            "{content}: {}",
            r.status()
        );
    }
    // Nothing was stored, held or charged.
    assert_eq!(p.messages(cid).await, vec![]);
    assert_eq!(p.balance(&u).await, 40);
    assert_eq!(p.active_holds(&u).await, 0);
}

#[tokio::test]
async fn questions_over_the_per_user_limit_are_429_with_retry_after() {
    let p = spawn(Options {
        per_user_per_minute: 2,
        ..Options::default()
    })
    .await;
    let (u, _) = funded_user_with_chart(&p, 40).await;
    let other = p.user();
    let c = p.conversation(&u, json!({})).await;
    let cid = c["id"].as_str().unwrap();
    // Crisis questions pass through the limiter without a model call.
    for _ in 0..2 {
        p.answer(&u, cid, "I want to end my life").await;
    }
    let r = p.ask(&u, cid, "I want to end my life").await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // The limit is per user.
    let c2 = p.conversation(&other, json!({})).await;
    p.answer(&other, c2["id"].as_str().unwrap(), "I want to end my life")
        .await;
}

#[tokio::test]
async fn other_services_have_text_generated_over_nats_and_strangers_are_refused() {
    let p = spawn(Options::default()).await;
    let social = p.bus("social").await;
    let ctx = platform::nats::CallContext::default();
    let v: Value = social
        .request_within(
            common::subjects::guidance::TEXT_GENERATE,
            None,
            &ctx,
            &json!({"prompt": "Write one line wishing a peaceful Pongal.", "max_tokens": 24}),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(!v["text"].as_str().unwrap().is_empty(), "{v}");
    assert_eq!(v["provider"], "local");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    // It is charged to social's service account (pricing consumes the usage
    // event), at the catalog price of guidance's text service code.
    let db = p.db().await;
    assert!(
        testkit::wait_until(Duration::from_secs(30), || async {
            db.query_opt(
                "SELECT 1 FROM pricing.service_accounts WHERE service = 'social' AND uses = 1",
                &[],
            )
            .await
            .unwrap()
            .is_some()
        })
        .await,
        "social's service account was not charged"
    );
    // effective_price reads pricing's tables by their unqualified names.
    db.batch_execute("SET search_path TO pricing")
        .await
        .unwrap();
    let (charged, price): (i64, i64) = db
        .query_one(
            "SELECT charged_credits, effective_price('guidance_text', now())
               FROM service_accounts WHERE service = 'social'",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert!(price > 0);
    assert_eq!(charged, price);
    // Bad input is a validation error naming the field.
    let e = social
        .request_within::<_, Value>(
            common::subjects::guidance::TEXT_GENERATE,
            None,
            &ctx,
            &json!({"prompt": "hi", "max_tokens": 100000}),
            Duration::from_secs(30),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, common::ErrorCode::ValidationFailed, "{e:?}");
    // A service that may not spend on generation is refused.
    let charts = p.bus("charts").await;
    let e = charts
        .request_within::<_, Value>(
            common::subjects::guidance::TEXT_GENERATE,
            None,
            &ctx,
            &json!({"prompt": "hi"}),
            Duration::from_secs(30),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, common::ErrorCode::Forbidden, "{e:?}");
}
