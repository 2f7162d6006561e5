//! Faithful to the chart: every sentence an answer makes about the user's
//! chart is checked against the chart before it is sent.
//!
//! A sentence is read for claims: a graha in a house, sign or nakshatra, its
//! dignity or retrograde state; the ascendant's or the Moon's sign; the
//! running mahadasha/antardasha; a yoga or Kuja dosha the user "has". A
//! wrong house, sign, nakshatra, ascendant or dasha lord is corrected in
//! place from the chart; a wrong dignity, retrograde state, yoga or dosha
//! cannot be mended word for word, so the sentence is dropped. Sentences
//! that speak generally ("if Saturn is in the 7th house…", "people with…")
//! or of lordship and aspects ("the lord of the 7th house", "aspects the
//! 7th") make no placement claim. [`SentenceStream`] applies the check to
//! streamed text sentence by sentence.

use super::facts::ChartFacts;
use super::vocab::{self, graha_name, nakshatra_name, ordinal, HOUSE_WORDS};
use std::ops::Range;

/// What the check did to a sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Kept(String),
    Corrected(String),
    Dropped,
}

/// Words that make a sentence general rather than about this chart.
const GENERIC: &[&str] = &[
    "if",
    "when",
    "whenever",
    "generally",
    "typically",
    "usually",
    "people",
    "those",
    "someone",
    "anyone",
    "person",
    "natives",
    "native",
    "traditionally",
    "classically",
    "texts",
    "tradition",
    "whoever",
    "often",
    "can",
    "could",
    "might",
    "may",
];
/// Words that make a house or sign near a graha something other than its placement.
const RELATION: &[&str] = &[
    "rule",
    "rules",
    "ruler",
    "ruling",
    "lord",
    "lords",
    "lordship",
    "owns",
    "owner",
    "governs",
    "aspect",
    "aspects",
    "aspecting",
    "aspected",
    "transit",
    "transits",
    "transiting",
    "from",
    "karaka",
    "signifies",
    "signifier",
    "significator",
    "exalted",
    "debilitated",
    "exaltation",
    "debilitation",
    "own",
    "friend",
    "friendly",
    "enemy",
    "than",
    "unlike",
    "opposite",
];

struct Edit {
    span: Range<usize>,
    with: String,
}

fn has_any(words: &[(String, Range<usize>)], set: &[&str]) -> bool {
    words.iter().any(|(w, _)| set.contains(&w.as_str()))
}

/// Checks sentences against one chart.
pub struct Checker<'a> {
    facts: &'a ChartFacts,
}

impl<'a> Checker<'a> {
    pub fn new(facts: &'a ChartFacts) -> Self {
        Checker { facts }
    }

    pub fn check(&self, sentence: &str) -> Verdict {
        let words = vocab::words(sentence);
        if words.is_empty() {
            return Verdict::Kept(sentence.to_owned());
        }
        let generic = has_any(&words, GENERIC) && !has_any(&words, &["your", "you", "yours"]);
        let negated = has_any(&words, &["not", "no", "never", "without", "nor", "isn"]);
        let mut edits: Vec<Edit> = Vec::new();
        // Yogas and doshas the user is said to have.
        let possessive = has_any(&words, &["your", "you", "have", "has"]);
        for (i, (w, _)) in words.iter().enumerate() {
            if w == "yoga" && possessive && !generic && i > 0 {
                let name = words[i.saturating_sub(2)..i]
                    .iter()
                    .map(|(w, _)| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let known = known_yoga(&name).or_else(|| known_yoga(&words[i - 1].0));
                if let Some(code) = known {
                    let present = self
                        .facts
                        .yogas
                        .iter()
                        .any(|y| known_yoga(&y.to_lowercase()) == Some(code));
                    if present == negated {
                        return Verdict::Dropped;
                    }
                }
            }
            if w == "dosha" || w == "dosham" {
                let mars = words[i.saturating_sub(2)..i].iter().any(|(w, _)| {
                    matches!(
                        w.as_str(),
                        "kuja" | "mangal" | "mangalik" | "manglik" | "sevvai" | "chevvai"
                    )
                });
                if mars && possessive && !generic && self.facts.kuja_dosha == negated {
                    return Verdict::Dropped;
                }
            }
        }
        if generic {
            return Verdict::Kept(sentence.to_owned());
        }
        // Without a chart, nothing can be said about the person's placements.
        if self.facts.grahas.is_empty() {
            let personal = has_any(&words, &["your", "you"]);
            let placement = words.iter().enumerate().any(|(i, (w, _))| {
                vocab::sign_of(w).is_some()
                    || (vocab::house_of(w).is_some()
                        && words
                            .get(i + 1)
                            .is_some_and(|n| matches!(n.0.as_str(), "house" | "bhava")))
            });
            let graha = words.iter().any(|(w, _)| {
                vocab::graha_of(w).is_some() || matches!(w.as_str(), "ascendant" | "lagna")
            });
            return if personal && placement && graha {
                Verdict::Dropped
            } else {
                Verdict::Kept(sentence.to_owned())
            };
        }
        // The ascendant and the Moon sign.
        for (i, (w, _)) in words.iter().enumerate() {
            let target = match w.as_str() {
                "ascendant" | "lagna" | "rising" => Some(&self.facts.lagna),
                "rashi" | "rasi" => Some(&self.facts.moon_sign),
                "sign" if i > 0 && words[i - 1].0 == "moon" => Some(&self.facts.moon_sign),
                _ => None,
            };
            let Some(actual) = target else { continue };
            if negated {
                continue;
            }
            for (w2, span) in words.iter().skip(i + 1).take(5) {
                if vocab::graha_of(w2).is_some() {
                    break;
                }
                if let Some(claimed) = vocab::sign_of(w2) {
                    if claimed != actual {
                        edits.push(Edit {
                            span: span.clone(),
                            with: sign_word(w2, actual),
                        });
                    }
                    break;
                }
            }
        }
        // Grahas: placement claims in the clause that follows each one.
        let graha_at: Vec<(usize, &'static str)> = words
            .iter()
            .enumerate()
            .filter_map(|(i, (w, _))| vocab::graha_of(w).map(|g| (i, g)))
            .collect();
        for (n, &(i, graha)) in graha_at.iter().enumerate() {
            // "Moon sign"/"Moon's sign" is the rashi, handled above.
            if graha == "moon" && words.get(i + 1).is_some_and(|w| w.0 == "sign") {
                continue;
            }
            let end = graha_at
                .get(n + 1)
                .map(|(j, _)| *j)
                .unwrap_or(words.len())
                .min(i + 10);
            let clause = &words[i + 1..end];
            // Dasha claims: "Saturn mahadasha", "the dasha of Venus".
            let dasha_word =
                |w: &str| matches!(w, "dasha" | "mahadasha" | "antardasha" | "bhukti" | "dasa");
            let near_dasha = words[i.saturating_sub(3)..(i + 3).min(words.len())]
                .iter()
                .find(|(w, _)| dasha_word(w));
            if let Some((dw, _)) = near_dasha {
                let running = has_any(
                    &words,
                    &["running", "current", "currently", "now", "present", "your"],
                );
                let actual = if matches!(dw.as_str(), "antardasha" | "bhukti") {
                    self.facts.antardasha.as_ref().map(|a| a.lord.as_str())
                } else {
                    self.facts.mahadasha.as_ref().map(|m| m.lord.as_str())
                };
                if let (true, false, Some(actual)) = (running, negated, actual) {
                    if actual != graha {
                        edits.push(Edit {
                            span: words[i].1.clone(),
                            with: graha_name(actual).to_owned(),
                        });
                    }
                }
                continue;
            }
            let Some(p) = self.facts.placement(graha) else {
                continue;
            };
            // "the lord of the 7th, Saturn, ..." and negations make no
            // placement claim; a relation word inside the clause ends the
            // part of it that can ("Moon in the 8th house signifies ..."
            // still places the Moon; "Saturn rules the 7th house" does not).
            if negated || has_any(&words[i.saturating_sub(3)..i], RELATION) {
                // Retrograde and dignity claims still count, unless negated.
                if !negated {
                    if let Some(v) = self.dignity_claims(p, clause) {
                        return v;
                    }
                }
                continue;
            }
            let mut k = 0;
            while k < clause.len() {
                let (w, span) = &clause[k];
                if RELATION.contains(&w.as_str()) {
                    break;
                }
                if let Some(h) = vocab::house_of(w) {
                    let next = clause.get(k + 1).map(|x| x.0.as_str());
                    // "the 7th house from the Moon" counts from elsewhere.
                    let counted_elsewhere = clause.get(k + 2).is_some_and(|x| x.0 == "from");
                    if matches!(next, Some("house" | "bhava" | "bhavam"))
                        && h != p.house
                        && !counted_elsewhere
                    {
                        edits.push(Edit {
                            span: span.clone(),
                            with: house_word(w, p.house),
                        });
                    }
                } else if let Some(claimed) = vocab::sign_of(w) {
                    if claimed != p.sign {
                        edits.push(Edit {
                            span: span.clone(),
                            with: sign_word(w, &p.sign),
                        });
                    }
                } else if let Some((claimed, len)) = vocab::nakshatra_at(clause, k) {
                    if claimed != p.nakshatra && !p.nakshatra.is_empty() {
                        let span = span.start..clause[k + len - 1].1.end;
                        edits.push(Edit {
                            span,
                            with: nakshatra_name(&p.nakshatra).to_owned(),
                        });
                    }
                    k += len;
                    continue;
                }
                k += 1;
            }
            if let Some(v) = self.dignity_claims(p, clause) {
                return v;
            }
        }
        if edits.is_empty() {
            return Verdict::Kept(sentence.to_owned());
        }
        edits.sort_by_key(|e| e.span.start);
        edits.dedup_by_key(|e| e.span.start);
        let mut out = String::with_capacity(sentence.len());
        let mut at = 0;
        for e in &edits {
            if e.span.start < at {
                continue;
            }
            out.push_str(&sentence[at..e.span.start]);
            out.push_str(&e.with);
            at = e.span.end;
        }
        out.push_str(&sentence[at..]);
        Verdict::Corrected(out)
    }

    /// A claimed dignity or retrograde state that the chart contradicts.
    fn dignity_claims(
        &self,
        p: &super::facts::Placement,
        clause: &[(String, Range<usize>)],
    ) -> Option<Verdict> {
        for (w, _) in clause.iter().take(6) {
            let claimed = match w.as_str() {
                "exalted" | "uchcha" | "uccha" => "exalted",
                "debilitated" | "neecha" | "nicha" => "debilitated",
                "retrograde" | "vakri" | "vakra" => "retrograde",
                _ => continue,
            };
            let holds = match claimed {
                "retrograde" => p.retrograde || matches!(p.graha.as_str(), "rahu" | "ketu"),
                d => p.dignity == d,
            };
            if !holds {
                return Some(Verdict::Dropped);
            }
        }
        None
    }
}

fn known_yoga(name: &str) -> Option<&'static str> {
    const YOGAS: &[(&str, &[&str])] = &[
        ("gaja_kesari", &["gaja kesari", "gajakesari", "kesari"]),
        ("budhaditya", &["budhaditya", "budha aditya"]),
        ("ruchaka", &["ruchaka"]),
        ("bhadra", &["bhadra"]),
        ("hamsa", &["hamsa"]),
        ("malavya", &["malavya"]),
        ("sasa", &["sasa", "shasha", "sasha"]),
        ("kemadruma", &["kemadruma"]),
        (
            "chandra_mangala",
            &["chandra mangala", "mangala", "chandra-mangala"],
        ),
    ];
    let name = name.trim().replace('-', " ");
    YOGAS
        .iter()
        .find(|(_, names)| {
            names
                .iter()
                .any(|n| name == *n || name.ends_with(&format!(" {n}")))
        })
        .map(|(code, _)| *code)
}

/// The house written the way the original was ("seventh" or "7th").
fn house_word(original: &str, house: u8) -> String {
    if original.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        ordinal(house)
    } else {
        let w = HOUSE_WORDS[usize::from(house.clamp(1, 12)) - 1];
        match original.chars().next() {
            Some(c) if c.is_uppercase() => {
                let mut s = w.to_owned();
                if let Some(f) = s.get_mut(0..1) {
                    f.make_ascii_uppercase();
                }
                s
            }
            _ => w.to_owned(),
        }
    }
}

/// The sign in the style the original used (English, or its Sanskrit name).
fn sign_word(original: &str, sign: &str) -> String {
    let english = vocab::SIGNS
        .iter()
        .any(|(_, e, _)| e.eq_ignore_ascii_case(original));
    match vocab::SIGNS.iter().find(|(c, _, _)| *c == sign) {
        Some((_, e, _)) if english => (*e).to_owned(),
        Some((c, _, _)) => {
            let mut s = (*c).to_owned();
            if let Some(f) = s.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            s
        }
        None => sign.to_owned(),
    }
}

/// Splits streamed text into sentences and checks each before it is sent.
pub struct SentenceStream<'a> {
    checker: Checker<'a>,
    buffer: String,
    pub corrected: u32,
    pub dropped: u32,
}

impl<'a> SentenceStream<'a> {
    pub fn new(facts: &'a ChartFacts) -> Self {
        SentenceStream {
            checker: Checker::new(facts),
            buffer: String::new(),
            corrected: 0,
            dropped: 0,
        }
    }

    /// Adds streamed text; returns what can be sent now (whole, checked sentences).
    pub fn push(&mut self, delta: &str) -> String {
        self.buffer.push_str(delta);
        let mut out = String::new();
        while let Some(end) = sentence_end(&self.buffer) {
            let sentence: String = self.buffer.drain(..end).collect();
            out.push_str(&self.apply(&sentence));
        }
        out
    }

    /// The rest, at the end of the answer.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.buffer);
        self.apply(&rest)
    }

    fn apply(&mut self, sentence: &str) -> String {
        match self.checker.check(sentence) {
            Verdict::Kept(s) => s,
            Verdict::Corrected(s) => {
                self.corrected += 1;
                s
            }
            Verdict::Dropped => {
                self.dropped += 1;
                String::new()
            }
        }
    }
}

/// Byte index just past the first complete sentence (its terminator and the
/// whitespace after it), if one is complete.
fn sentence_end(text: &str) -> Option<usize> {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let terminal = matches!(c, '.' | '!' | '?' | '।' | '\n');
        if !terminal {
            continue;
        }
        // "7.5" or "e.g." mid-word is not an end; a terminator needs whitespace after it.
        match chars.peek() {
            Some((_, n)) if n.is_whitespace() => {
                let mut end = i + c.len_utf8();
                while let Some((j, n)) = chars.peek() {
                    if n.is_whitespace() {
                        end = j + n.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                return Some(end);
            }
            None if c == '\n' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn facts() -> ChartFacts {
        let summary = serde_json::json!({
            "lagna": {"sign": "mesha"},
            "moon": {"sign": "vrishabha", "nakshatra": "rohini", "pada": 2},
            "grahas": [
                {"graha": "moon", "sign": "vrishabha", "house": 2, "nakshatra": "rohini", "pada": 2, "dignity": "exalted", "retrograde": false, "combust": false},
                {"graha": "saturn", "sign": "tula", "house": 7, "nakshatra": "swati", "pada": 3, "dignity": "exalted", "retrograde": true, "combust": false},
                {"graha": "venus", "sign": "meena", "house": 12, "nakshatra": "revati", "pada": 4, "dignity": "exalted", "retrograde": false, "combust": false},
                {"graha": "mars", "sign": "karka", "house": 4, "nakshatra": "pushya", "pada": 1, "dignity": "debilitated", "retrograde": false, "combust": false},
            ],
            "yogas": ["Sasa"],
            "kuja_dosha": true,
            "running_dasha": {"mahadasha": {"lord": "saturn", "start": "2020", "end": "2039"},
                              "antardasha": {"lord": "mercury", "start": "2023", "end": "2025"}}
        });
        ChartFacts::from_summary(&summary).unwrap()
    }

    fn check(s: &str) -> Verdict {
        Checker::new(&facts()).check(s)
    }

    #[test]
    fn true_claims_are_kept() {
        for s in [
            "Your Saturn is in the 7th house, in Libra.",
            "Shani sits in your seventh house in Tula, in Swati nakshatra.",
            "Your ascendant is Aries.",
            "Your Moon sign is Taurus, in Rohini.",
            "You are running the Saturn mahadasha now.",
            "Your Saturn is retrograde and exalted.",
            "You have Sasa yoga.",
            "Kuja dosha is present in your chart, so you have kuja dosha.",
            "Saturn rules the 10th house.",
            "Your Saturn is the lord of the 10th house.",
            "Your Saturn sits in the 6th house from your Moon.",
            "If Saturn is in the 5th house, children may come late.",
            "Meditate daily.",
        ] {
            assert_eq!(check(s), Verdict::Kept(s.to_owned()), "{s}");
        }
    }

    #[test]
    fn wrong_placements_are_corrected_from_the_chart() {
        assert_eq!(
            check("Your Saturn is in the 5th house, in Scorpio."),
            Verdict::Corrected("Your Saturn is in the 7th house, in Libra.".into())
        );
        assert_eq!(
            check("Shani in your fifth bhava in Vrischika brings delays."),
            Verdict::Corrected("Shani in your seventh bhava in Tula brings delays.".into())
        );
        assert_eq!(
            check("Your Venus in Purva Phalguni nakshatra is gentle."),
            Verdict::Corrected("Your Venus in Revati nakshatra is gentle.".into())
        );
        // A relation word after the placement does not hide it.
        assert_eq!(
            check("The moon's presence in the eighth house signifies that your husband is devoted to you."),
            Verdict::Corrected(
                "The moon's presence in the second house signifies that your husband is devoted to you.".into()
            )
        );
        assert_eq!(
            check("Your ascendant is Leo."),
            Verdict::Corrected("Your ascendant is Aries.".into())
        );
        assert_eq!(
            check("You are in the current Jupiter mahadasha."),
            Verdict::Corrected("You are in the current Saturn mahadasha.".into())
        );
    }

    #[test]
    fn claims_that_cannot_be_mended_are_dropped() {
        for s in [
            "Your Venus is debilitated here.",
            "Your Mars is exalted and strong.",
            "Your Venus is retrograde.",
            "You have Gaja Kesari yoga.",
            "You do not have kuja dosha.",
        ] {
            assert_eq!(check(s), Verdict::Dropped, "{s}");
        }
    }

    #[test]
    fn without_a_chart_no_placement_is_claimed() {
        let none = ChartFacts::default();
        let c = Checker::new(&none);
        assert_eq!(
            c.check("Your Saturn is in the 7th house."),
            Verdict::Dropped
        );
        let s = "Saturn teaches patience.";
        assert_eq!(c.check(s), Verdict::Kept(s.into()));
    }

    #[test]
    fn streamed_text_is_checked_sentence_by_sentence() {
        let f = facts();
        let mut s = SentenceStream::new(&f);
        let mut out = String::new();
        for piece in [
            "Namaste. Your Sat",
            "urn is in the 3rd ho",
            "use. Your Venus is debil",
            "itated. Pray daily.",
        ] {
            out.push_str(&s.push(piece));
        }
        out.push_str(&s.finish());
        assert_eq!(out, "Namaste. Your Saturn is in the 7th house. Pray daily.");
        assert_eq!((s.corrected, s.dropped), (1, 1));
        assert_eq!(sentence_end("7.5 hours"), None);
        assert_eq!(sentence_end("One. Two"), Some(5));
    }
}
