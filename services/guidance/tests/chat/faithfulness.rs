//! Faithful to the chart: 50 answers by the real local model on 10 different
//! charts, read by a verifier written independently of the service's own
//! check, contain no sentence that places a graha where the chart does not.

use crate::helpers::{spawn, Options, Platform, User};
use serde_json::{json, Value};

const GRAHAS: &[(&str, &[&str])] = &[
    ("sun", &["sun", "surya"]),
    ("moon", &["moon", "chandra"]),
    ("mars", &["mars", "mangal", "kuja"]),
    ("mercury", &["mercury", "budha"]),
    ("jupiter", &["jupiter", "guru", "brihaspati"]),
    ("venus", &["venus", "shukra"]),
    ("saturn", &["saturn", "shani"]),
    ("rahu", &["rahu"]),
    ("ketu", &["ketu"]),
];

const SIGNS: &[&str] = &[
    "aries",
    "taurus",
    "gemini",
    "cancer",
    "leo",
    "virgo",
    "libra",
    "scorpio",
    "sagittarius",
    "capricorn",
    "aquarius",
    "pisces",
];

const ORDINALS: &[(&str, u64)] = &[
    ("1st", 1),
    ("first", 1),
    ("2nd", 2),
    ("second", 2),
    ("3rd", 3),
    ("third", 3),
    ("4th", 4),
    ("fourth", 4),
    ("5th", 5),
    ("fifth", 5),
    ("6th", 6),
    ("sixth", 6),
    ("7th", 7),
    ("seventh", 7),
    ("8th", 8),
    ("eighth", 8),
    ("9th", 9),
    ("ninth", 9),
    ("10th", 10),
    ("tenth", 10),
    ("11th", 11),
    ("eleventh", 11),
    ("12th", 12),
    ("twelfth", 12),
];

/// Words after which a sentence is not about this chart's placements.
const NOT_A_CLAIM: &[&str] = &[
    "if",
    "when",
    "lord",
    "lords",
    "rules",
    "ruler",
    "aspect",
    "aspects",
    "transit",
    "transits",
    "transiting",
    "can",
    "may",
    "might",
    "could",
    "generally",
    "people",
    "ascendant",
    "lagna",
    "rising",
];

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The sentences of `text` that place one of the user's grahas somewhere the
/// chart does not: "your Saturn is in the 5th house", "your Moon in Leo".
pub fn contradictions(text: &str, summary: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let placed = |g: &str| -> Option<&Value> {
        summary["grahas"]
            .as_array()?
            .iter()
            .find(|x| x["graha"].as_str() == Some(g))
    };
    for sentence in text.split(['.', '!', '?', '\n', ';']) {
        let w = words(sentence);
        if !w.iter().any(|x| x == "your" || x == "you") {
            continue;
        }
        if w.iter().any(|x| NOT_A_CLAIM.contains(&x.as_str())) {
            continue;
        }
        // Only a sentence about exactly one graha is unambiguous.
        let named: Vec<&str> = GRAHAS
            .iter()
            .filter(|(_, names)| w.iter().any(|x| names.contains(&x.as_str())))
            .map(|(g, _)| *g)
            .collect();
        let [graha] = named[..] else { continue };
        let Some(p) = placed(graha) else { continue };
        // "in the Nth house" / "Nth house"
        for pair in w.windows(2) {
            if pair[1] == "house" || pair[1] == "bhava" {
                if let Some((_, n)) = ORDINALS.iter().find(|(o, _)| *o == pair[0]) {
                    if p["house"].as_u64() != Some(*n) {
                        bad.push(format!(
                            "{sentence:?}: {graha} is in house {}, not {n}",
                            p["house"]
                        ));
                    }
                }
            }
        }
        // "in <Sign>"
        for pair in w.windows(2) {
            if pair[0] == "in" && SIGNS.contains(&pair[1].as_str()) {
                let sign = p["sign"].as_str().unwrap_or_default().to_lowercase();
                if sign != pair[1] {
                    bad.push(format!(
                        "{sentence:?}: {graha} is in {sign}, not {}",
                        pair[1]
                    ));
                }
            }
        }
    }
    bad
}

#[test]
fn the_verifier_finds_what_it_should() {
    let summary = json!({"grahas": [
        {"graha": "saturn", "sign": "libra", "house": 7},
        {"graha": "moon", "sign": "leo", "house": 5}
    ]});
    assert!(contradictions(
        "Your Saturn is in the 7th house. Your Moon is in Leo.",
        &summary
    )
    .is_empty());
    assert_eq!(
        contradictions("Your Saturn sits in the 5th house.", &summary).len(),
        1
    );
    assert_eq!(
        contradictions("Your Moon in Aries makes you bold.", &summary).len(),
        1
    );
    assert_eq!(
        contradictions("Your Shani is in the tenth house.", &summary).len(),
        1
    );
    assert!(contradictions(
        "If Saturn is in the 5th house, patience helps you.",
        &summary
    )
    .is_empty());
}

const QUESTIONS: &[&str] = &[
    "Where is Saturn in my chart and what does it mean for my marriage?",
    "Which house is my Moon in, and what does that say about my mind?",
    "Tell me about Mars in my chart.",
    "What does Jupiter in my chart mean for my career?",
    "Is Venus well placed in my chart for love?",
];

async fn one_chart(
    p: &Platform,
    u: &User,
    (date, time, persona): (&str, &str, &str),
) -> (usize, u64, Vec<String>) {
    let profile = p.profile(u, date, time).await;
    let pid = profile["id"].as_str().unwrap();
    let summary = p.chart_summary(u, pid).await;
    let mut answers = 0;
    let mut corrected = 0;
    let mut bad = Vec::new();
    let mut prompt_tokens = 0;
    for q in QUESTIONS {
        // A fresh conversation per question: each answer stands on its chart alone.
        let c = p
            .conversation(u, json!({"profile_id": pid, "persona": persona}))
            .await;
        let a = p.answer(u, c["id"].as_str().unwrap(), q).await;
        assert_eq!(a["status"], "complete");
        crate::answers::assert_facts_match_chart(a["chart_facts"].as_array().unwrap(), &summary);
        corrected += a["corrected"].as_u64().unwrap() + a["dropped"].as_u64().unwrap();
        prompt_tokens += a["usage"]["prompt_tokens"].as_u64().unwrap();
        for b in contradictions(a["text"].as_str().unwrap(), &summary) {
            bad.push(format!("{date} {time} / {q}: {b}"));
        }
        answers += 1;
    }
    eprintln!("{date} {time}: {answers} answers, {prompt_tokens} prompt tokens");
    (answers, corrected, bad)
}

#[tokio::test]
async fn fifty_answers_on_ten_charts_never_contradict_their_chart() {
    let p = spawn(Options {
        // Short prompts and answers: the check is per sentence, and 50
        // answers on two shared cores must stay within minutes.
        max_tokens: 32,
        extra: vec![("answers.sources", "1".into())],
        ..Options::default()
    })
    .await;
    let births = [
        ("1990-05-01", "06:30"),
        ("1985-11-20", "21:15"),
        ("1972-03-08", "12:00"),
        ("2001-09-30", "03:40"),
        ("1995-07-17", "17:05"),
        ("1968-01-25", "08:20"),
        ("1979-12-12", "23:55"),
        ("2010-06-05", "14:10"),
        ("1988-08-08", "10:45"),
        ("1999-04-22", "19:30"),
    ];
    let mut total = 0;
    let mut corrected = 0;
    let mut bad = Vec::new();
    // Two charts at a time (the model pool serialises generation anyway).
    for (n, pair) in births.chunks(2).enumerate() {
        let runs = pair.iter().map(|(d, t)| {
            let p = &p;
            // Swamiji (the default) and a mode, alternately.
            let persona = if n % 2 == 0 { "swamiji" } else { "general" };
            async move {
                let u = p.user();
                p.fund(&u, 1000).await;
                one_chart(p, &u, (d, t, persona)).await
            }
        });
        for (n, c, b) in futures_util::future::join_all(runs).await {
            total += n;
            corrected += c;
            bad.extend(b);
        }
    }
    eprintln!(
        "faithfulness: {total} answers, {corrected} sentences corrected or dropped by the service"
    );
    assert_eq!(total, 50);
    assert!(
        bad.is_empty(),
        "contradicting sentences:\n{}",
        bad.join("\n")
    );
}
