//! Generators: today's panchang (from charts), tomorrow's observances
//! (from the tithi, computed here), and a teaching from the knowledge base
//! (from guidance). Each produces [`Content`]: words per language, a card,
//! and what it was made from; [`for_channel`] then fits it to a network.

use crate::cards::{self, Card, CardSize, Language, ObservanceCard, PanchangCard, TeachingCard};
use crate::channels::{surface, ChannelRow};
use crate::networks::{Marker, Network};
use crate::observances::{self, ObservanceKind, Place};
use chrono::NaiveDate;
use common::ErrorCode;
use platform::nats::{Bus, CallContext};
use platform::AppError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// Which generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// The day's panchang at the place (charts).
    Panchang,
    /// The observances of the next day at the place (announced the day before).
    Observance,
    /// A short teaching from the knowledge base (guidance).
    Teaching,
}

impl Generator {
    pub fn as_str(self) -> &'static str {
        match self {
            Generator::Panchang => "panchang",
            Generator::Observance => "observance",
            Generator::Teaching => "teaching",
        }
    }

    pub fn parse(s: &str) -> Option<Generator> {
        Some(match s {
            "panchang" => Generator::Panchang,
            "observance" => Generator::Observance,
            "teaching" => Generator::Teaching,
            _ => return None,
        })
    }
}

/// A generator's parameters (what a schedule stores).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The place (panchang, observance): its name as shown ...
    #[serde(default)]
    #[schema(max_length = 80)]
    pub place: Option<String>,
    /// ... latitude (-90..90) ...
    #[serde(default)]
    pub lat: Option<f64>,
    /// ... longitude (-180..180) ...
    #[serde(default)]
    pub lon: Option<f64>,
    /// ... and IANA zone.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub tz: Option<String>,
    /// What the teaching is about (teaching), e.g. `karma yoga`.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub topic: Option<String>,
}

/// A place as the generators need it.
#[derive(Clone, Debug)]
pub struct PlaceParams {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub tz: String,
}

impl Params {
    /// Checks the parameters `generator` needs; errors name the field.
    pub fn check(&self, generator: Generator) -> Result<(), AppError> {
        match generator {
            Generator::Panchang | Generator::Observance => {
                self.place().map(|_| ())?;
            }
            Generator::Teaching => {
                let t = self.topic.as_deref().unwrap_or("").trim();
                if t.is_empty() {
                    return Err(AppError::validation(
                        "params.topic",
                        "the teaching generator needs a topic",
                    ));
                }
                platform::input::check_line("params.topic", t, 200)?;
            }
        }
        Ok(())
    }

    pub fn place(&self) -> Result<PlaceParams, AppError> {
        let name = self.place.as_deref().unwrap_or("").trim();
        if name.is_empty() {
            return Err(AppError::validation(
                "params.place",
                "the place's name is required (as shown on the card)",
            ));
        }
        platform::input::check_line("params.place", name, 80)?;
        let lat = self
            .lat
            .filter(|v| v.is_finite() && (-90.0..=90.0).contains(v))
            .ok_or_else(|| {
                AppError::validation("params.lat", "a latitude in -90..90 is required")
            })?;
        let lon = self
            .lon
            .filter(|v| v.is_finite() && (-180.0..=180.0).contains(v))
            .ok_or_else(|| {
                AppError::validation("params.lon", "a longitude in -180..180 is required")
            })?;
        let tz = self.tz.as_deref().unwrap_or("");
        if tz.parse::<chrono_tz::Tz>().is_err() {
            return Err(AppError::validation(
                "params.tz",
                "an IANA time zone is required, e.g. Asia/Kolkata",
            ));
        }
        Place::new(lat, lon, tz).map_err(|e| AppError::validation("params.lat", e.to_string()))?;
        Ok(PlaceParams {
            name: name.to_owned(),
            lat,
            lon,
            tz: tz.to_owned(),
        })
    }
}

/// What a generator made, before it is fitted to a network.
#[derive(Clone, Debug)]
pub struct Content {
    pub generator: Generator,
    pub date: NaiveDate,
    /// The words of the post in each language (the card carries the rest).
    pub text: LanguageText,
    /// The card, per language.
    pub cards: LanguageCards,
    /// What it was made from (kept with the post).
    pub source: Value,
}

#[derive(Clone, Debug)]
pub struct LanguageText(Vec<(Language, String)>);

impl LanguageText {
    fn same(text: String) -> LanguageText {
        LanguageText(Language::ALL.iter().map(|l| (*l, text.clone())).collect())
    }
    pub fn get(&self, l: Language) -> &str {
        self.0
            .iter()
            .find(|(k, _)| *k == l)
            .or(self.0.first())
            .map(|(_, t)| t.as_str())
            .unwrap_or("")
    }
}

#[derive(Clone, Debug)]
pub struct LanguageCards(Vec<(Language, Card)>);

impl LanguageCards {
    pub fn get(&self, l: Language) -> Option<&Card> {
        self.0
            .iter()
            .find(|(k, _)| *k == l)
            .or(self.0.first())
            .map(|(_, c)| c)
    }
}

pub fn language_of(code: &str) -> Language {
    match code {
        "ta" => Language::Tamil,
        "hi" => Language::Hindi,
        _ => Language::English,
    }
}

/// Where generators get their data.
pub struct Sources<'a> {
    pub bus: &'a Bus,
    pub timeout: Duration,
    pub max_tokens: i64,
}

fn upstream(what: &str, e: AppError) -> AppError {
    match e.code {
        ErrorCode::ValidationFailed | ErrorCode::NotFound => e,
        _ => AppError::new(
            ErrorCode::ServiceUnavailable,
            format!("{what} is unavailable; try again shortly"),
        )
        .with_cause(anyhow::anyhow!("{}", e.message)),
    }
}

/// Runs `generator` for `date`: `Ok(None)` when there is nothing to say
/// (no observance tomorrow).
pub async fn run(
    src: &Sources<'_>,
    generator: Generator,
    date: NaiveDate,
    params: &Params,
) -> Result<Option<Content>, AppError> {
    params.check(generator)?;
    match generator {
        Generator::Panchang => panchang(src, date, &params.place()?).await.map(Some),
        Generator::Observance => observance(date, &params.place()?).await,
        Generator::Teaching => teaching(src, date, params.topic.as_deref().unwrap_or(""))
            .await
            .map(Some),
    }
}

// ------------------------------------------------------------------ panchang

/// `HH:MM` of a local RFC 3339 time, with `(+1)` when it falls after `date`.
fn hhmm(v: &Value, date: NaiveDate) -> String {
    let Some(s) = v.as_str() else {
        return "—".into();
    };
    let time = s.get(11..16).unwrap_or("—").to_owned();
    match s.get(0..10).and_then(|d| d.parse::<NaiveDate>().ok()) {
        Some(d) if d > date => format!("{time} (+1)"),
        _ => time,
    }
}

fn title_case(s: &str) -> String {
    s.split(['_', ' ', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn limb_name(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .or_else(|| v.get("name").and_then(Value::as_str))
        .map(title_case)
        .unwrap_or_else(|| "—".into())
}

/// The rows of the panchang as the card and the text show them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanchangRows {
    pub tithi: String,
    pub nakshatra: String,
    pub yoga: String,
    pub karana: String,
    pub sunrise: String,
    pub sunset: String,
    pub rahu_kalam: String,
    pub weekday: String,
}

/// Reads charts' panchang answer.
pub fn panchang_rows(p: &Value, date: NaiveDate) -> PanchangRows {
    let until = |limb: &Value, key: &str| {
        format!(
            "{} ({})",
            limb_name(limb, key),
            hhmm(&limb["ends_at"], date)
        )
    };
    PanchangRows {
        tithi: until(&p["tithi"], "name"),
        nakshatra: until(&p["nakshatra"], "nakshatra"),
        yoga: until(&p["yoga"], "name"),
        karana: until(&p["karana"], "name"),
        sunrise: hhmm(&p["sunrise"], date),
        sunset: hhmm(&p["sunset"], date),
        rahu_kalam: format!(
            "{}–{}",
            hhmm(&p["rahu_kalam"]["start"], date),
            hhmm(&p["rahu_kalam"]["end"], date)
        ),
        weekday: title_case(p["vara"]["name"].as_str().unwrap_or("")),
    }
}

async fn panchang(
    src: &Sources<'_>,
    date: NaiveDate,
    place: &PlaceParams,
) -> Result<Content, AppError> {
    let body = json!({
        "date": date.to_string(),
        "lat": place.lat,
        "lon": place.lon,
        "tz": place.tz,
    });
    let p: Value = src
        .bus
        .request_within(
            common::subjects::charts::PANCHANG_GET,
            None,
            &CallContext::current(),
            &body,
            src.timeout,
        )
        .await
        .map_err(|e| upstream("charts", e))?;
    let rows = panchang_rows(&p, date);
    let mut text = Vec::new();
    let mut cards = Vec::new();
    for l in Language::ALL {
        let labels = l.panchang_labels();
        text.push((
            l,
            format!(
                "{} · {} · {}\n{}: {}\n{}: {}\n{}: {}\n{}: {}\n{}: {} · {}: {}\n{}: {}",
                labels.heading,
                place.name,
                l.format_date(date),
                labels.tithi,
                rows.tithi,
                labels.nakshatra,
                rows.nakshatra,
                labels.yoga,
                rows.yoga,
                labels.karana,
                rows.karana,
                labels.sunrise,
                rows.sunrise,
                labels.sunset,
                rows.sunset,
                labels.rahu_kalam,
                rows.rahu_kalam,
            ),
        ));
        cards.push((
            l,
            Card::Panchang(PanchangCard {
                date,
                place: place.name.clone(),
                weekday: rows.weekday.clone(),
                tithi: rows.tithi.clone(),
                nakshatra: rows.nakshatra.clone(),
                yoga: rows.yoga.clone(),
                karana: rows.karana.clone(),
                sunrise: rows.sunrise.clone(),
                sunset: rows.sunset.clone(),
                rahu_kalam: rows.rahu_kalam.clone(),
                language: l,
            }),
        ));
    }
    Ok(Content {
        generator: Generator::Panchang,
        date,
        text: LanguageText(text),
        cards: LanguageCards(cards),
        source: json!({ "panchang": p }),
    })
}

// ---------------------------------------------------------------- observance

/// The name of an observance in a language.
pub fn observance_name(kind: ObservanceKind, l: Language) -> &'static str {
    use ObservanceKind as K;
    match (kind, l) {
        (K::Ekadashi, Language::English) => "Ekadashi",
        (K::Ekadashi, Language::Tamil) => "ஏகாதசி",
        (K::Ekadashi, Language::Hindi) => "एकादशी",
        (K::Pradosham, Language::English) => "Pradosham",
        (K::Pradosham, Language::Tamil) => "பிரதோஷம்",
        (K::Pradosham, Language::Hindi) => "प्रदोष व्रत",
        (K::Purnima, Language::English) => "Purnima",
        (K::Purnima, Language::Tamil) => "பௌர்ணமி",
        (K::Purnima, Language::Hindi) => "पूर्णिमा",
        (K::Amavasya, Language::English) => "Amavasya",
        (K::Amavasya, Language::Tamil) => "அமாவாசை",
        (K::Amavasya, Language::Hindi) => "अमावस्या",
        (K::SankashtiChaturthi, Language::English) => "Sankashti Chaturthi",
        (K::SankashtiChaturthi, Language::Tamil) => "சங்கடஹர சதுர்த்தி",
        (K::SankashtiChaturthi, Language::Hindi) => "संकष्टी चतुर्थी",
        (K::MasikShivaratri, Language::English) => "Masik Shivaratri",
        (K::MasikShivaratri, Language::Tamil) => "மாத சிவராத்திரி",
        (K::MasikShivaratri, Language::Hindi) => "मासिक शिवरात्रि",
        (K::MahaShivaratri, Language::English) => "Maha Shivaratri",
        (K::MahaShivaratri, Language::Tamil) => "மகா சிவராத்திரி",
        (K::MahaShivaratri, Language::Hindi) => "महाशिवरात्रि",
    }
}

fn observance_about(kind: ObservanceKind) -> &'static str {
    use ObservanceKind as K;
    match kind {
        K::Ekadashi => "A day of fasting and remembrance of Vishnu; the fast is broken after sunrise the next day.",
        K::Pradosham => "The twilight of Trayodashi, sacred to Shiva: worship at sunset.",
        K::Purnima => "The full moon: a day for satyanarayana puja, charity and gratitude.",
        K::Amavasya => "The new moon: a day to remember the ancestors with tarpanam.",
        K::SankashtiChaturthi => "Sacred to Ganesha, remover of obstacles: the fast ends at moonrise.",
        K::MasikShivaratri => "The monthly night of Shiva: prayer and vigil at midnight.",
        K::MahaShivaratri => "The great night of Shiva: fasting, vigil and worship through the night.",
    }
}

async fn observance(date: NaiveDate, place: &PlaceParams) -> Result<Option<Content>, AppError> {
    let p = Place::new(place.lat, place.lon, &place.tz)
        .map_err(|e| AppError::validation("params.lat", e.to_string()))?;
    let list = tokio::task::spawn_blocking(move || observances::announcements_for(&p, date))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::validation("date", e.to_string()))?;
    // Maha Shivaratri is also a masik Shivaratri: announce the great one only.
    let maha = list
        .iter()
        .any(|o| o.kind == ObservanceKind::MahaShivaratri);
    let list: Vec<_> = list
        .into_iter()
        .filter(|o| !(maha && o.kind == ObservanceKind::MasikShivaratri))
        .collect();
    let Some(first) = list.first() else {
        return Ok(None);
    };
    let day = first.date;
    let mut text = Vec::new();
    let mut cards = Vec::new();
    for l in Language::ALL {
        let names: Vec<&str> = list.iter().map(|o| observance_name(o.kind, l)).collect();
        let title = names.join(" · ");
        let about: Vec<&str> = list.iter().map(|o| observance_about(o.kind)).collect();
        let lead = match l {
            Language::English => {
                format!("Tomorrow, {}: {title} ({})", l.format_date(day), place.name)
            }
            Language::Tamil => format!("நாளை, {}: {title} ({})", l.format_date(day), place.name),
            Language::Hindi => format!("कल, {}: {title} ({})", l.format_date(day), place.name),
        };
        text.push((l, format!("{lead}\n{}", about.join(" "))));
        cards.push((
            l,
            Card::Observance(ObservanceCard {
                title,
                date: day,
                description: about.join(" "),
                place: place.name.clone(),
                language: l,
            }),
        ));
    }
    let source = json!({
        "observances": list.iter().map(|o| json!({
            "kind": o.kind,
            "date": o.date,
            "tithi_number": o.tithi_number,
            "tithi_start": o.tithi_start,
            "tithi_end": o.tithi_end,
            "decided_at": o.decided_at,
        })).collect::<Vec<_>>(),
        "place": { "name": place.name, "lat": place.lat, "lon": place.lon, "tz": place.tz },
    });
    Ok(Some(Content {
        generator: Generator::Observance,
        date,
        text: LanguageText(text),
        cards: LanguageCards(cards),
        source,
    }))
}

// ------------------------------------------------------------------ teaching

fn hit_text(h: &Value) -> String {
    ["text", "body", "content", "snippet"]
        .iter()
        .find_map(|k| h.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .to_owned()
}

async fn teaching(src: &Sources<'_>, date: NaiveDate, topic: &str) -> Result<Content, AppError> {
    let found: Value = src
        .bus
        .request_within(
            common::subjects::guidance::KNOWLEDGE_SEARCH,
            None,
            &CallContext::current(),
            &json!({ "q": topic, "k": 3 }),
            src.timeout,
        )
        .await
        .map_err(|e| upstream("guidance", e))?;
    let hits = found["results"].as_array().cloned().unwrap_or_default();
    let Some(best) = hits.iter().find(|h| !hit_text(h).trim().is_empty()) else {
        return Err(AppError::new(
            ErrorCode::NotFound,
            format!("the knowledge base has nothing on {topic:?}"),
        ));
    };
    let passage: String = hit_text(best).chars().take(1500).collect();
    let title = best["title"].as_str().unwrap_or("").to_owned();
    let prompt = format!(
        "Write a short teaching for a social media post (two or three sentences, warm and plain, no hashtags) on \"{topic}\", drawing only on this passage:\n\n{passage}"
    );
    let generated: Value = src
        .bus
        .request_within(
            common::subjects::guidance::TEXT_GENERATE,
            None,
            &CallContext::current(),
            &json!({ "prompt": prompt, "max_tokens": src.max_tokens }),
            src.timeout,
        )
        .await
        .map_err(|e| upstream("guidance", e))?;
    let words = generated["text"].as_str().unwrap_or("").trim().to_owned();
    if words.is_empty() {
        return Err(AppError::new(
            ErrorCode::BadGateway,
            "guidance returned an empty teaching",
        ));
    }
    let card = Card::Teaching(TeachingCard {
        quote: words.clone(),
        attribution: title.clone(),
    });
    let text = if title.is_empty() {
        words
    } else {
        format!("{words}\n— {title}")
    };
    Ok(Content {
        generator: Generator::Teaching,
        date,
        text: LanguageText::same(text),
        cards: LanguageCards(Language::ALL.iter().map(|l| (*l, card.clone())).collect()),
        source: json!({
            "topic": topic,
            "hits": hits.iter().map(|h| json!({"id": h["id"], "title": h["title"], "score": h["score"]})).collect::<Vec<_>>(),
            "provider": generated["provider"],
        }),
    })
}

// ------------------------------------------------------------- per channel

/// A post's words and image for one channel.
pub struct Fitted {
    pub text: String,
    pub png: Option<Vec<u8>>,
    pub size: Option<CardSize>,
}

/// Fits `content` to `channel`: the channel's language, its hashtags after
/// the marker (which always stays), the network's text limit, and the card
/// at the network's preferred size.
pub fn for_channel(
    content: &Content,
    channel: &ChannelRow,
    marker: &Marker,
) -> Result<Fitted, AppError> {
    let l = language_of(&channel.language);
    let card = content.cards.get(l);
    let (png, size) = match (card, channel.network) {
        (Some(card), n) if n != Network::YouTube => {
            let size = CardSize::preferred(n);
            let png = cards::render(card, size).map_err(AppError::internal)?;
            (Some(png), Some(size))
        }
        _ => (None, None),
    };
    let mut tags = vec![marker.tag()];
    tags.extend(channel.hashtags.iter().cloned());
    let text = crate::limits::fit(
        surface(channel.network, png.is_some()),
        content.text.get(l),
        &tags,
    );
    Ok(Fitted { text, png, size })
}
