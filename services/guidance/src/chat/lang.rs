//! Languages and personas, and every fixed text the service says in each
//! language (prompt instructions, the crisis answer, disclaimers, hints).

use platform::input::VALIDATION_MARK;
use serde::{Deserialize, Deserializer, Serialize};

/// An unknown value is a validation failure (422 naming the field), not a
/// malformed body.
fn parse_or_refuse<'de, D, T>(
    d: D,
    parse: fn(&str) -> Option<T>,
    known: &str,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let s = String::deserialize(d)?;
    parse(&s)
        .ok_or_else(|| serde::de::Error::custom(format!("{VALIDATION_MARK}must be one of {known}")))
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_or_refuse(d, Language::parse, "en, ta, hi")
    }
}

impl<'de> Deserialize<'de> for Persona {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_or_refuse(
            d,
            Persona::parse,
            "swamiji, general, relationship, career, comprehensive",
        )
    }
}

/// Languages answers are given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Ta,
    Hi,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ta => "ta",
            Language::Hi => "hi",
        }
    }

    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "en" => Some(Language::En),
            "ta" => Some(Language::Ta),
            "hi" => Some(Language::Hi),
            _ => None,
        }
    }

    /// Told to the model with every prompt.
    pub fn instruction(self) -> &'static str {
        match self {
            Language::En => "Answer in English.",
            Language::Ta => "Answer in Tamil (தமிழில் பதில் அளியுங்கள்). Keep Sanskrit astrological terms as they are.",
            Language::Hi => "Answer in Hindi (हिंदी में उत्तर दें). Keep Sanskrit astrological terms as they are.",
        }
    }
}

/// Who answers, and in what mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Persona {
    /// Swamiji's general guidance (the default).
    Swamiji,
    General,
    Relationship,
    Career,
    Comprehensive,
}

impl Persona {
    pub fn as_str(self) -> &'static str {
        match self {
            Persona::Swamiji => "swamiji",
            Persona::General => "general",
            Persona::Relationship => "relationship",
            Persona::Career => "career",
            Persona::Comprehensive => "comprehensive",
        }
    }

    pub fn parse(s: &str) -> Option<Persona> {
        match s {
            "swamiji" => Some(Persona::Swamiji),
            "general" => Some(Persona::General),
            "relationship" => Some(Persona::Relationship),
            "career" => Some(Persona::Career),
            "comprehensive" => Some(Persona::Comprehensive),
            _ => None,
        }
    }

    /// The system prompt: a versioned file in `prompts/`.
    pub fn system_prompt(self) -> &'static str {
        match self {
            Persona::Swamiji => include_str!("../../prompts/swamiji.v1.md"),
            Persona::General => include_str!("../../prompts/general.v1.md"),
            Persona::Relationship => include_str!("../../prompts/relationship.v1.md"),
            Persona::Career => include_str!("../../prompts/career.v1.md"),
            Persona::Comprehensive => include_str!("../../prompts/comprehensive.v1.md"),
        }
    }

    /// Version of the prompts, stored with every answer.
    pub const PROMPT_VERSION: &'static str = "v1";
}

/// The answer to a message that signals a crisis: no model call, no charge.
pub fn crisis_answer(lang: Language) -> &'static str {
    match lang {
        Language::En => "I am so sorry that you are carrying this much pain. You matter, and you do not have to face this alone. Please reach out right now to someone who can be with you: in India call Tele-MANAS on 14416 (or 1-800-891-4416) or the emergency number 112; in the United States call or text 988; elsewhere, your local emergency number or a crisis line. If you are in danger from someone, call 112 (in India, the women's helpline is 181). If you can, tell a person you trust what you are feeling, and stay with them. When you feel ready, I am here to talk and to pray with you, but please speak to a person who can help you today.",
        Language::Ta => "நீங்கள் இவ்வளவு வேதனையைச் சுமந்து கொண்டிருப்பதற்கு மிகவும் வருந்துகிறேன். நீங்கள் முக்கியமானவர்; இதைத் தனியாக எதிர்கொள்ள வேண்டியதில்லை. தயவுசெய்து இப்போதே உதவக்கூடிய ஒருவரை அணுகுங்கள்: இந்தியாவில் டெலி-மனாஸ் 14416 (அல்லது 1-800-891-4416) அல்லது அவசர எண் 112 ஐ அழையுங்கள். யாராவது உங்களுக்கு ஆபத்து விளைவித்தால் 112 ஐ அழையுங்கள் (பெண்களுக்கான உதவி எண் 181). நீங்கள் நம்பும் ஒருவரிடம் உங்கள் உணர்வுகளைச் சொல்லி, அவருடன் இருங்கள். நீங்கள் தயாரானதும் நான் உங்களுடன் பேசவும் பிரார்த்திக்கவும் இங்கே இருக்கிறேன்.",
        Language::Hi => "मुझे बहुत दुख है कि आप इतना दर्द सह रहे हैं। आप मायने रखते हैं, और आपको इसका सामना अकेले नहीं करना है। कृपया अभी किसी ऐसे व्यक्ति से संपर्क करें जो आपकी मदद कर सके: भारत में टेली-मानस 14416 (या 1-800-891-4416) या आपातकालीन नंबर 112 पर कॉल करें। यदि किसी से आपको खतरा है तो 112 पर कॉल करें (महिला हेल्पलाइन 181)। जिस पर आप भरोसा करते हैं, उसे अपनी भावनाएँ बताएँ और उनके साथ रहें। जब आप तैयार हों, मैं आपसे बात करने और आपके साथ प्रार्थना करने के लिए यहाँ हूँ।",
    }
}

/// A short disclaimer for health, legal and financial questions.
pub fn disclaimer(lang: Language, topic: super::safety::Topic) -> &'static str {
    use super::safety::Topic::*;
    match (lang, topic) {
        (Language::En, Health) => "Astrology is not medical advice: please see a doctor about your health, and never stop a treatment because of a chart.",
        (Language::En, Legal) => "Astrology is not legal advice: for a legal matter, please consult a lawyer.",
        (Language::En, Financial) => "Astrology is not financial advice: for money decisions, please consult a qualified adviser.",
        (Language::Ta, Health) => "ஜோதிடம் மருத்துவ ஆலோசனை அல்ல: உங்கள் உடல்நலத்திற்கு மருத்துவரை அணுகுங்கள்; ஜாதகத்தின் காரணமாக எந்தச் சிகிச்சையையும் நிறுத்தாதீர்கள்.",
        (Language::Ta, Legal) => "ஜோதிடம் சட்ட ஆலோசனை அல்ல: சட்ட விஷயங்களுக்கு வழக்கறிஞரை அணுகுங்கள்.",
        (Language::Ta, Financial) => "ஜோதிடம் நிதி ஆலோசனை அல்ல: பண முடிவுகளுக்கு தகுதியான ஆலோசகரை அணுகுங்கள்.",
        (Language::Hi, Health) => "ज्योतिष चिकित्सा सलाह नहीं है: अपने स्वास्थ्य के लिए डॉक्टर से मिलें, और कुंडली के कारण कोई इलाज बंद न करें।",
        (Language::Hi, Legal) => "ज्योतिष कानूनी सलाह नहीं है: कानूनी मामले के लिए वकील से परामर्श करें।",
        (Language::Hi, Financial) => "ज्योतिष वित्तीय सलाह नहीं है: पैसे के निर्णयों के लिए किसी योग्य सलाहकार से परामर्श करें।",
    }
}

/// For a user without a birth profile.
pub fn no_profile_hint(lang: Language) -> &'static str {
    match lang {
        Language::En => "Add your birth details (date, time and place of birth) so that I can read your own chart; this answer draws on the teachings alone.",
        Language::Ta => "உங்கள் பிறப்பு விவரங்களை (தேதி, நேரம், இடம்) சேர்த்தால் உங்கள் ஜாதகத்தைப் பார்த்துச் சொல்ல முடியும்; இந்தப் பதில் போதனைகளை மட்டுமே அடிப்படையாகக் கொண்டது.",
        Language::Hi => "अपना जन्म विवरण (तारीख, समय और स्थान) जोड़ें ताकि मैं आपकी अपनी कुंडली देख सकूँ; यह उत्तर केवल शिक्षाओं पर आधारित है।",
    }
}
