//! Names of grahas, signs, nakshatras and houses as people write them, in
//! English, Sanskrit and Tamil transliteration, mapped to the engine's codes
//! (`saturn`, `tula`, `purva_phalguni`, house numbers).

/// The nine grahas: (code, English name, other names people use).
pub const GRAHAS: &[(&str, &str, &[&str])] = &[
    ("sun", "Sun", &["surya", "suriyan", "ravi", "sooriyan"]),
    ("moon", "Moon", &["chandra", "chandran", "soma"]),
    (
        "mars",
        "Mars",
        &["mangal", "mangala", "kuja", "sevvai", "chevvai", "angaraka"],
    ),
    ("mercury", "Mercury", &["budha", "budhan", "buddha"]),
    (
        "jupiter",
        "Jupiter",
        &["guru", "brihaspati", "vyazhan", "viyazhan"],
    ),
    ("venus", "Venus", &["shukra", "sukra", "sukran", "shukran"]),
    ("saturn", "Saturn", &["shani", "sani", "shanishchara"]),
    ("rahu", "Rahu", &[]),
    ("ketu", "Ketu", &[]),
];

/// The twelve signs: (code, English name, other names).
pub const SIGNS: &[(&str, &str, &[&str])] = &[
    ("mesha", "Aries", &["mesham"]),
    (
        "vrishabha",
        "Taurus",
        &["rishabam", "vrishabham", "vrishabh"],
    ),
    ("mithuna", "Gemini", &["mithunam"]),
    (
        "karka",
        "Cancer",
        &["kadagam", "karkata", "karkataka", "kark"],
    ),
    ("simha", "Leo", &["simmam", "singh"]),
    ("kanya", "Virgo", &["kanni"]),
    ("tula", "Libra", &["thulam", "thula", "tulam"]),
    (
        "vrischika",
        "Scorpio",
        &["viruchigam", "vrishchika", "vrischik"],
    ),
    ("dhanu", "Sagittarius", &["dhanusu", "dhanus"]),
    ("makara", "Capricorn", &["magaram", "makar"]),
    ("kumbha", "Aquarius", &["kumbam", "kumbh"]),
    ("meena", "Pisces", &["meenam", "meen"]),
];

/// The 27 nakshatras: (code, display name, other names).
pub const NAKSHATRAS: &[(&str, &str, &[&str])] = &[
    ("ashwini", "Ashwini", &["aswini", "asvini"]),
    ("bharani", "Bharani", &[]),
    (
        "krittika",
        "Krittika",
        &["karthigai", "kritika", "karthika"],
    ),
    ("rohini", "Rohini", &[]),
    (
        "mrigashira",
        "Mrigashira",
        &["mirugasirisham", "mrigasira", "mrigashirsha"],
    ),
    ("ardra", "Ardra", &["thiruvathirai", "arudra"]),
    ("punarvasu", "Punarvasu", &["punarpoosam"]),
    ("pushya", "Pushya", &["poosam", "pushyami"]),
    ("ashlesha", "Ashlesha", &["ayilyam", "aslesha"]),
    ("magha", "Magha", &["magam", "makha"]),
    (
        "purva_phalguni",
        "Purva Phalguni",
        &["pooram", "purva phalguni"],
    ),
    (
        "uttara_phalguni",
        "Uttara Phalguni",
        &["uthiram", "uttara phalguni"],
    ),
    ("hasta", "Hasta", &["hastham"]),
    ("chitra", "Chitra", &["chithirai", "chitta"]),
    ("swati", "Swati", &["swathi"]),
    ("vishakha", "Vishakha", &["visakam", "visakha"]),
    ("anuradha", "Anuradha", &["anusham"]),
    ("jyeshtha", "Jyeshtha", &["kettai", "jyeshta"]),
    ("mula", "Mula", &["moolam", "moola"]),
    (
        "purva_ashadha",
        "Purva Ashadha",
        &["pooradam", "purvashadha", "purva ashadha"],
    ),
    (
        "uttara_ashadha",
        "Uttara Ashadha",
        &["uthiradam", "uttarashadha", "uttara ashadha"],
    ),
    ("shravana", "Shravana", &["thiruvonam", "sravana"]),
    ("dhanishta", "Dhanishta", &["avittam", "dhanishtha"]),
    ("shatabhisha", "Shatabhisha", &["sadhayam", "satabhisha"]),
    (
        "purva_bhadrapada",
        "Purva Bhadrapada",
        &["poorattathi", "purva bhadrapada"],
    ),
    (
        "uttara_bhadrapada",
        "Uttara Bhadrapada",
        &["uthirattathi", "uttara bhadrapada"],
    ),
    ("revati", "Revati", &["revathi"]),
];

/// Lord of each sign, Mesha first.
pub const SIGN_LORDS: [&str; 12] = [
    "mars", "venus", "mercury", "moon", "sun", "mercury", "venus", "mars", "jupiter", "saturn",
    "saturn", "jupiter",
];

pub fn graha_name(code: &str) -> &str {
    GRAHAS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, n, _)| *n)
        .unwrap_or(code)
}

pub fn sign_index(code: &str) -> Option<usize> {
    SIGNS.iter().position(|(c, _, _)| *c == code)
}

/// "Libra (Tula)"
pub fn sign_name(code: &str) -> String {
    match SIGNS.iter().find(|(c, _, _)| *c == code) {
        Some((c, english, _)) => {
            let mut s = c.to_string();
            if let Some(f) = s.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            format!("{english} ({s})")
        }
        None => code.to_owned(),
    }
}

pub fn nakshatra_name(code: &str) -> &str {
    NAKSHATRAS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, n, _)| *n)
        .unwrap_or(code)
}

/// "7th"
pub fn ordinal(n: u8) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Words for house numbers as written out ("seventh").
pub const HOUSE_WORDS: [&str; 12] = [
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth",
];

/// Lower-cased words of `text` (letters and digits), with their byte spans.
pub fn words(text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            out.push((text[s..i].to_lowercase(), s..i));
        }
    }
    if let Some(s) = start {
        out.push((text[s..].to_lowercase(), s..text.len()));
    }
    out
}

/// The graha a word names, if any.
pub fn graha_of(word: &str) -> Option<&'static str> {
    GRAHAS
        .iter()
        .find(|(c, _, alt)| word == *c || alt.contains(&word))
        .map(|(c, _, _)| *c)
}

/// The sign a word names (English, Sanskrit or Tamil), if any.
pub fn sign_of(word: &str) -> Option<&'static str> {
    SIGNS
        .iter()
        .find(|(c, english, alt)| {
            word == *c || word == english.to_lowercase() || alt.contains(&word)
        })
        .map(|(c, _, _)| *c)
}

/// The nakshatra one or two words name, if any (returns the code and how
/// many words it took).
pub fn nakshatra_at(
    words: &[(String, std::ops::Range<usize>)],
    i: usize,
) -> Option<(&'static str, usize)> {
    let one = words.get(i).map(|w| w.0.as_str())?;
    if let Some(two) = words.get(i + 1).map(|w| format!("{one} {}", w.0)) {
        if let Some((c, _, _)) = NAKSHATRAS.iter().find(|(c, n, alt)| {
            two == c.replace('_', " ") || two == n.to_lowercase() || alt.contains(&two.as_str())
        }) {
            return Some((c, 2));
        }
    }
    NAKSHATRAS
        .iter()
        .find(|(c, n, alt)| one == *c || one == n.to_lowercase() || alt.contains(&one))
        .map(|(c, _, _)| (*c, 1))
}

/// The house number a word names ("7th", "seventh", "7"), if any.
pub fn house_of(word: &str) -> Option<u8> {
    if let Some(i) = HOUSE_WORDS.iter().position(|w| *w == word) {
        return u8::try_from(i + 1).ok();
    }
    let digits: String = word.chars().take_while(char::is_ascii_digit).collect();
    let rest = &word[digits.len()..];
    if digits.is_empty() || !(rest.is_empty() || ["st", "nd", "rd", "th"].contains(&rest)) {
        return None;
    }
    digits.parse::<u8>().ok().filter(|n| (1..=12).contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve() {
        assert_eq!(graha_of("shani"), Some("saturn"));
        assert_eq!(graha_of("sevvai"), Some("mars"));
        assert_eq!(sign_of("libra"), Some("tula"));
        assert_eq!(sign_of("kanni"), Some("kanya"));
        assert_eq!(house_of("7th"), Some(7));
        assert_eq!(house_of("seventh"), Some(7));
        assert_eq!(house_of("13th"), None);
        assert_eq!(house_of("7x"), None);
        assert_eq!(ordinal(1), "1st");
        assert_eq!(ordinal(12), "12th");
        assert_eq!(ordinal(2), "2nd");
        let w = words("Moon in Purva Phalguni, Sun in Rohini");
        assert_eq!(nakshatra_at(&w, 2), Some(("purva_phalguni", 2)));
        assert_eq!(nakshatra_at(&w, 6), Some(("rohini", 1)));
        assert_eq!(sign_name("tula"), "Libra (Tula)");
        assert_eq!(SIGN_LORDS.len(), SIGNS.len());
    }
}
