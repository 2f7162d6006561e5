//! The chart as facts: read from charts' compact summary
//! (`charts.chart.get`, `format: summary`), and chosen for a question: the
//! ascendant, the Moon's sign and nakshatra, the running mahadasha and
//! antardasha always; then the houses the question touches (their occupants
//! with dignity, and their lords), and every graha the question names.

use super::vocab::{self, graha_name, nakshatra_name, ordinal, sign_index, sign_name, SIGN_LORDS};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One graha's placement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Placement {
    pub graha: String,
    pub sign: String,
    pub house: u8,
    pub nakshatra: String,
    pub pada: u8,
    pub dignity: String,
    pub retrograde: bool,
    pub combust: bool,
}

/// A running dasha period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Period {
    pub lord: String,
    pub start: String,
    pub end: String,
}

/// Everything the summary says, parsed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartFacts {
    pub lagna: String,
    pub moon_sign: String,
    pub moon_nakshatra: String,
    pub grahas: Vec<Placement>,
    pub yogas: Vec<String>,
    pub kuja_dosha: bool,
    pub mahadasha: Option<Period>,
    pub antardasha: Option<Period>,
}

/// One fact given to the model and listed with the answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Fact {
    /// `ascendant`, `moon`, `placement`, `house_lord`, `dasha`, `yoga`, `dosha`
    pub kind: String,
    /// The fact in words, as the model saw it.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub house: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nakshatra: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dignity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrograde: Option<bool>,
}

impl Fact {
    fn new(kind: &str, text: String) -> Fact {
        Fact {
            kind: kind.into(),
            text,
            graha: None,
            sign: None,
            house: None,
            nakshatra: None,
            dignity: None,
            retrograde: None,
        }
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn period(v: &Value) -> Option<Period> {
    v.get("lord")?.as_str().map(|lord| Period {
        lord: lord.to_owned(),
        start: s(&v["start"]),
        end: s(&v["end"]),
    })
}

/// Words in `dignity` as a sentence would say them.
pub fn dignity_words(d: &str) -> &'static str {
    match d {
        "exalted" => "exalted",
        "debilitated" => "debilitated",
        "moolatrikona" => "in its moolatrikona sign",
        "own_sign" => "in its own sign",
        "great_friend" => "in a great friend's sign",
        "friend" => "in a friend's sign",
        "neutral" => "in a neutral sign",
        "enemy" => "in an enemy's sign",
        "great_enemy" => "in a great enemy's sign",
        _ => "",
    }
}

impl ChartFacts {
    /// Parses charts' summary (`{lagna, moon, grahas, yogas, kuja_dosha, running_dasha}`).
    pub fn from_summary(v: &Value) -> Option<ChartFacts> {
        let grahas: Vec<Placement> = v["grahas"]
            .as_array()?
            .iter()
            .filter_map(|g| {
                Some(Placement {
                    graha: g["graha"].as_str()?.to_owned(),
                    sign: g["sign"].as_str()?.to_owned(),
                    house: u8::try_from(g["house"].as_u64()?).ok()?,
                    nakshatra: s(&g["nakshatra"]),
                    pada: u8::try_from(g["pada"].as_u64().unwrap_or(0)).unwrap_or(0),
                    dignity: s(&g["dignity"]),
                    retrograde: g["retrograde"].as_bool().unwrap_or(false),
                    combust: g["combust"].as_bool().unwrap_or(false),
                })
            })
            .collect();
        if grahas.is_empty() {
            return None;
        }
        Some(ChartFacts {
            lagna: s(&v["lagna"]["sign"]),
            moon_sign: s(&v["moon"]["sign"]),
            moon_nakshatra: s(&v["moon"]["nakshatra"]),
            grahas,
            yogas: v["yogas"]
                .as_array()
                .map(|ys| {
                    ys.iter()
                        .filter_map(|y| y.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            kuja_dosha: v["kuja_dosha"].as_bool().unwrap_or(false),
            mahadasha: period(&v["running_dasha"]["mahadasha"]),
            antardasha: period(&v["running_dasha"]["antardasha"]),
        })
    }

    pub fn placement(&self, graha: &str) -> Option<&Placement> {
        self.grahas.iter().find(|g| g.graha == graha)
    }

    /// The lord of house `h` (whole signs from the ascendant).
    pub fn house_lord(&self, h: u8) -> Option<&'static str> {
        let lagna = sign_index(&self.lagna)?;
        Some(SIGN_LORDS[(lagna + usize::from(h) - 1) % 12])
    }

    fn placement_fact(&self, p: &Placement) -> Fact {
        let mut text = format!(
            "{} is in {}, in the {} house, in {} nakshatra",
            graha_name(&p.graha),
            sign_name(&p.sign),
            ordinal(p.house),
            nakshatra_name(&p.nakshatra)
        );
        let d = dignity_words(&p.dignity);
        if !d.is_empty() {
            text.push_str(&format!("; {d}"));
        }
        if p.retrograde && !matches!(p.graha.as_str(), "rahu" | "ketu") {
            text.push_str("; retrograde");
        }
        if p.combust {
            text.push_str("; combust");
        }
        Fact {
            graha: Some(p.graha.clone()),
            sign: Some(p.sign.clone()),
            house: Some(p.house),
            nakshatra: Some(p.nakshatra.clone()),
            dignity: Some(p.dignity.clone()),
            retrograde: Some(p.retrograde),
            ..Fact::new("placement", text)
        }
    }

    /// The facts that matter for `question`, in the order given to the model.
    pub fn select(&self, question: &str) -> Vec<Fact> {
        let mut out = Vec::new();
        let mut ascendant = Fact::new(
            "ascendant",
            format!("The ascendant (lagna) is {}", sign_name(&self.lagna)),
        );
        ascendant.sign = Some(self.lagna.clone());
        ascendant.house = Some(1);
        out.push(ascendant);
        let mut moon = Fact::new(
            "moon",
            format!(
                "The Moon sign (rashi) is {}, in {} nakshatra",
                sign_name(&self.moon_sign),
                nakshatra_name(&self.moon_nakshatra)
            ),
        );
        moon.graha = Some("moon".into());
        moon.sign = Some(self.moon_sign.clone());
        moon.nakshatra = Some(self.moon_nakshatra.clone());
        out.push(moon);
        if let Some(m) = &self.mahadasha {
            let mut text = format!(
                "The running mahadasha is {} ({} to {})",
                graha_name(&m.lord),
                &m.start.get(..10).unwrap_or(&m.start),
                &m.end.get(..10).unwrap_or(&m.end)
            );
            if let Some(a) = &self.antardasha {
                text.push_str(&format!(
                    ", with the {} antardasha until {}",
                    graha_name(&a.lord),
                    &a.end.get(..10).unwrap_or(&a.end)
                ));
            }
            let mut f = Fact::new("dasha", text);
            f.graha = Some(m.lord.clone());
            out.push(f);
        }
        let (houses, grahas) = topics(question);
        let mut seen: Vec<String> = Vec::new();
        for h in houses {
            let occupants: Vec<&Placement> = self.grahas.iter().filter(|g| g.house == h).collect();
            if occupants.is_empty() {
                out.push(Fact {
                    house: Some(h),
                    ..Fact::new(
                        "house",
                        format!("No graha occupies the {} house", ordinal(h)),
                    )
                });
            }
            for p in occupants {
                if !seen.contains(&p.graha) {
                    seen.push(p.graha.clone());
                    out.push(self.placement_fact(p));
                }
            }
            if let Some(lord) = self.house_lord(h) {
                if let Some(p) = self.placement(lord) {
                    let mut f = Fact::new(
                        "house_lord",
                        format!(
                            "The lord of the {} house is {}, placed in the {} house",
                            ordinal(h),
                            graha_name(lord),
                            ordinal(p.house)
                        ),
                    );
                    f.graha = Some(lord.to_owned());
                    f.house = Some(p.house);
                    out.push(f);
                    if !seen.contains(&p.graha) {
                        seen.push(p.graha.clone());
                        out.push(self.placement_fact(p));
                    }
                }
            }
        }
        for g in grahas {
            if seen.iter().any(|s| s == g) {
                continue;
            }
            if let Some(p) = self.placement(g) {
                seen.push(p.graha.clone());
                out.push(self.placement_fact(p));
            }
        }
        for y in &self.yogas {
            out.push(Fact::new("yoga", format!("The chart has {y} yoga")));
        }
        if self.kuja_dosha {
            out.push(Fact::new(
                "dosha",
                "Kuja dosha (Mangal dosha) is present".into(),
            ));
        }
        out
    }
}

/// Houses and grahas a question is about.
pub fn topics(question: &str) -> (Vec<u8>, Vec<&'static str>) {
    const TOPICS: &[(&[&str], &[u8])] = &[
        (
            &[
                "marriage",
                "married",
                "marry",
                "spouse",
                "wife",
                "husband",
                "partner",
                "relationship",
                "love",
                "vivah",
                "kalyanam",
                "kalatra",
                "shaadi",
                "divorce",
                "wedding",
            ],
            &[7],
        ),
        (
            &[
                "career",
                "job",
                "work",
                "profession",
                "promotion",
                "business",
                "naukri",
                "velai",
                "office",
                "boss",
                "employment",
            ],
            &[10],
        ),
        (
            &[
                "money", "wealth", "finance", "income", "rich", "dhan", "panam", "savings", "debt",
            ],
            &[2, 11],
        ),
        (
            &[
                "health", "illness", "disease", "sick", "swasthya", "hospital", "surgery",
            ],
            &[6, 1, 8],
        ),
        (
            &[
                "child",
                "children",
                "pregnancy",
                "pregnant",
                "son",
                "daughter",
                "santan",
                "kuzhandai",
                "baby",
            ],
            &[5],
        ),
        (
            &[
                "education",
                "study",
                "studies",
                "exam",
                "school",
                "college",
                "degree",
            ],
            &[4, 5],
        ),
        (
            &["travel", "abroad", "foreign", "visa", "overseas", "settle"],
            &[9, 12],
        ),
        (&["home", "property", "land", "vehicle", "mother"], &[4]),
        (
            &["father", "guru", "dharma", "pilgrimage", "luck", "fortune"],
            &[9],
        ),
        (
            &["spiritual", "moksha", "meditation", "liberation", "sadhana"],
            &[12, 9],
        ),
        (
            &["sibling", "siblings", "brother", "sister", "courage"],
            &[3],
        ),
        (
            &["enemy", "enemies", "litigation", "court", "competition"],
            &[6],
        ),
        (&["gains", "friends", "ambition"], &[11]),
    ];
    let words = vocab::words(question);
    let mut houses: Vec<u8> = Vec::new();
    let mut grahas: Vec<&'static str> = Vec::new();
    for (i, (w, _)) in words.iter().enumerate() {
        for (keys, hs) in TOPICS {
            if keys.contains(&w.as_str()) {
                for h in *hs {
                    if !houses.contains(h) {
                        houses.push(*h);
                    }
                }
            }
        }
        if let Some(g) = vocab::graha_of(w) {
            if !grahas.contains(&g) {
                grahas.push(g);
            }
        }
        // "7th house", "seventh bhava"
        if let Some(h) = vocab::house_of(w) {
            let next = words.get(i + 1).map(|n| n.0.as_str());
            if matches!(next, Some("house" | "bhava" | "bhavam")) && !houses.contains(&h) {
                houses.push(h);
            }
        }
    }
    (houses, grahas)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub fn sample() -> ChartFacts {
        let summary = serde_json::json!({
            "lagna": {"sign": "mesha"},
            "moon": {"sign": "vrishabha", "nakshatra": "rohini", "pada": 2},
            "grahas": [
                {"graha": "sun", "sign": "mesha", "house": 1, "nakshatra": "ashwini", "pada": 1, "dignity": "exalted", "retrograde": false, "combust": false},
                {"graha": "moon", "sign": "vrishabha", "house": 2, "nakshatra": "rohini", "pada": 2, "dignity": "exalted", "retrograde": false, "combust": false},
                {"graha": "saturn", "sign": "tula", "house": 7, "nakshatra": "swati", "pada": 3, "dignity": "exalted", "retrograde": true, "combust": false},
                {"graha": "venus", "sign": "meena", "house": 12, "nakshatra": "revati", "pada": 4, "dignity": "exalted", "retrograde": false, "combust": false},
                {"graha": "mars", "sign": "makara", "house": 10, "nakshatra": "shravana", "pada": 1, "dignity": "exalted", "retrograde": false, "combust": false},
            ],
            "yogas": ["Sasa"],
            "kuja_dosha": false,
            "running_dasha": {"mahadasha": {"lord": "saturn", "start": "2020-01-01T00:00:00Z", "end": "2039-01-01T00:00:00Z"},
                              "antardasha": {"lord": "mercury", "start": "2023-01-01T00:00:00Z", "end": "2025-09-01T00:00:00Z"}}
        });
        ChartFacts::from_summary(&summary).unwrap()
    }

    #[test]
    fn a_marriage_question_gets_the_seventh_house() {
        let f = sample();
        let facts = f.select("When will I get married?");
        let texts: Vec<&str> = facts.iter().map(|f| f.text.as_str()).collect();
        assert!(texts[0].contains("Aries (Mesha)"));
        assert!(texts[1].contains("Taurus (Vrishabha)") && texts[1].contains("Rohini"));
        assert!(
            texts[2].contains("mahadasha is Saturn") && texts[2].contains("Mercury antardasha")
        );
        // Saturn occupies the 7th; its lord (Libra → Venus) is in the 12th.
        assert!(texts.iter().any(
            |t| t.starts_with("Saturn is in Libra (Tula), in the 7th house")
                && t.contains("retrograde")
        ));
        assert!(texts.contains(&"The lord of the 7th house is Venus, placed in the 12th house"));
        assert!(texts
            .iter()
            .any(|t| t.starts_with("Venus is in Pisces (Meena), in the 12th house")));
        assert!(texts.iter().any(|t| t.contains("Sasa yoga")));
    }

    #[test]
    fn named_grahas_and_houses_are_included() {
        let f = sample();
        let (houses, grahas) = topics("What does Shani in my 10th house mean?");
        assert_eq!(houses, vec![10]);
        assert_eq!(grahas, vec!["saturn"]);
        let facts = f.select("Is Mars strong?");
        assert!(facts
            .iter()
            .any(|x| x.graha.as_deref() == Some("mars") && x.kind == "placement"));
        assert_eq!(f.house_lord(1), Some("mars"));
        assert_eq!(f.house_lord(7), Some("venus"));
    }
}
