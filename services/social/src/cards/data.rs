//! The cards' typed content.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Language of a card's fixed wording (row labels, month names). The
/// values a caller passes in (tithi names, place, quote…) are drawn as
/// given, in whatever script they are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    English,
    Tamil,
    Hindi,
}

/// The fixed wording of a panchang card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanchangLabels {
    pub heading: &'static str,
    pub tithi: &'static str,
    pub nakshatra: &'static str,
    pub yoga: &'static str,
    pub karana: &'static str,
    pub sunrise: &'static str,
    pub sunset: &'static str,
    pub rahu_kalam: &'static str,
}

impl Language {
    /// Every language, in a stable order.
    pub const ALL: [Language; 3] = [Language::English, Language::Tamil, Language::Hindi];

    /// Row labels and heading of the panchang card.
    pub fn panchang_labels(self) -> PanchangLabels {
        match self {
            Language::English => PanchangLabels {
                heading: "Daily Panchang",
                tithi: "Tithi",
                nakshatra: "Nakshatra",
                yoga: "Yoga",
                karana: "Karana",
                sunrise: "Sunrise",
                sunset: "Sunset",
                rahu_kalam: "Rahu Kalam",
            },
            Language::Tamil => PanchangLabels {
                heading: "இன்றைய பஞ்சாங்கம்",
                tithi: "திதி",
                nakshatra: "நட்சத்திரம்",
                yoga: "யோகம்",
                karana: "கரணம்",
                sunrise: "சூரிய உதயம்",
                sunset: "சூரிய அஸ்தமனம்",
                rahu_kalam: "ராகு காலம்",
            },
            Language::Hindi => PanchangLabels {
                heading: "आज का पंचांग",
                tithi: "तिथि",
                nakshatra: "नक्षत्र",
                yoga: "योग",
                karana: "करण",
                sunrise: "सूर्योदय",
                sunset: "सूर्यास्त",
                rahu_kalam: "राहु काल",
            },
        }
    }

    fn month_name(self, month0: u32) -> &'static str {
        const EN: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        const TA: [&str; 12] = [
            "ஜனவரி",
            "பிப்ரவரி",
            "மார்ச்",
            "ஏப்ரல்",
            "மே",
            "ஜூன்",
            "ஜூலை",
            "ஆகஸ்ட்",
            "செப்டம்பர்",
            "அக்டோபர்",
            "நவம்பர்",
            "டிசம்பர்",
        ];
        const HI: [&str; 12] = [
            "जनवरी",
            "फ़रवरी",
            "मार्च",
            "अप्रैल",
            "मई",
            "जून",
            "जुलाई",
            "अगस्त",
            "सितंबर",
            "अक्टूबर",
            "नवंबर",
            "दिसंबर",
        ];
        let table = match self {
            Language::English => &EN,
            Language::Tamil => &TA,
            Language::Hindi => &HI,
        };
        table.get(month0 as usize).copied().unwrap_or("")
    }

    /// `14 January 2026`, with the month named in this language.
    pub fn format_date(self, date: NaiveDate) -> String {
        format!(
            "{} {} {}",
            date.day(),
            self.month_name(date.month0()),
            date.year()
        )
    }
}

/// The day's panchang for one place: the rows of the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanchangCard {
    pub date: NaiveDate,
    /// Place the times are for, e.g. "Chennai".
    pub place: String,
    /// Weekday name (vara) as it should be shown, e.g. "Tuesday" or "செவ்வாய்".
    pub weekday: String,
    pub tithi: String,
    pub nakshatra: String,
    pub yoga: String,
    pub karana: String,
    /// Local time, e.g. "06:32".
    pub sunrise: String,
    pub sunset: String,
    /// Interval, e.g. "07:30–09:00".
    pub rahu_kalam: String,
    /// Language of the labels and the date.
    #[serde(default)]
    pub language: Language,
}

/// A festival or vrata day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservanceCard {
    /// Name of the observance, e.g. "Ekadashi", "ஏகாதசி", "एकादशी".
    pub title: String,
    pub date: NaiveDate,
    /// A few sentences; wrapped, and truncated with an ellipsis if long.
    pub description: String,
    /// Place the date is reckoned for; may be empty.
    pub place: String,
    /// Language of the date.
    #[serde(default)]
    pub language: Language,
}

/// A quotation, e.g. a verse of the Gita.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeachingCard {
    /// The text; may be long (it is wrapped, shrunk, and truncated with an
    /// ellipsis at the smallest size). Line breaks start new paragraphs.
    pub quote: String,
    /// e.g. "Bhagavad Gita 2.47"; may be empty.
    pub attribution: String,
}

/// Any card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Card {
    Panchang(PanchangCard),
    Observance(ObservanceCard),
    Teaching(TeachingCard),
}

impl Card {
    /// `panchang`, `observance` or `teaching`.
    pub fn kind(&self) -> &'static str {
        match self {
            Card::Panchang(_) => "panchang",
            Card::Observance(_) => "observance",
            Card::Teaching(_) => "teaching",
        }
    }
}

impl From<PanchangCard> for Card {
    fn from(c: PanchangCard) -> Card {
        Card::Panchang(c)
    }
}

impl From<ObservanceCard> for Card {
    fn from(c: ObservanceCard) -> Card {
        Card::Observance(c)
    }
}

impl From<TeachingCard> for Card {
    fn from(c: TeachingCard) -> Card {
        Card::Teaching(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_formatted_per_language() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 14).unwrap();
        assert_eq!(Language::English.format_date(d), "14 January 2026");
        assert_eq!(Language::Tamil.format_date(d), "14 ஜனவரி 2026");
        assert_eq!(Language::Hindi.format_date(d), "14 जनवरी 2026");
    }

    #[test]
    fn cards_round_trip_through_json() {
        let card = Card::Teaching(TeachingCard {
            quote: "q".into(),
            attribution: "a".into(),
        });
        let json = serde_json::to_value(&card).unwrap();
        assert_eq!(json["kind"], "teaching");
        assert_eq!(serde_json::from_value::<Card>(json).unwrap(), card);
    }
}
