//! Yogas and Kuja dosha detected from a chart (whole-sign houses).
//!
//! # Conditions
//!
//! * **Gaja Kesari** (BPHS ch. 36; Phaladeepika 6.1): Jupiter in a kendra
//!   (1st, 4th, 7th or 10th sign) from the Moon. As in PyJHora
//!   (`yoga.gaja_kesari_yoga`) only the placement is required; weakening
//!   conditions (Jupiter debilitated or combust) are listed in
//!   `cancellations` and make `cancelled` true.
//! * **Budhaditya**: Sun and Mercury in the same sign. Mercury combust is
//!   *not* treated as a cancellation (Mercury is usually combust when it
//!   conjoins the Sun, and JHora/PyJHora do not cancel it); the
//!   explanation states the Sun-Mercury distance.
//! * **Pancha Mahapurusha** (BPHS ch. 75): Ruchaka (Mars), Bhadra (Mercury),
//!   Hamsa (Jupiter), Malavya (Venus), Sasa (Saturn): the planet in its own
//!   or exaltation sign *and* in a kendra from the lagna. (The variant
//!   counting kendras from the Moon is not applied.)
//! * **Kemadruma** (BPHS ch. 37; Phaladeepika 6.56): no graha other than the
//!   Sun, Rahu and Ketu in the 2nd or the 12th sign from the Moon.
//!   Cancellations listed (Phaladeepika 6.57-58, the common set): a graha
//!   (Mars..Saturn) conjunct the Moon; a graha (Mars..Saturn) in a kendra
//!   from the Moon; a graha (Moon..Saturn, excluding nodes and Sun) in a
//!   kendra from the lagna.
//! * **Chandra-Mangala**: Moon and Mars in the same sign (the mutual 7th
//!   aspect variant is not counted).
//! * **Kuja (Mangal) dosha**: Mars in the 1st, 2nd, 4th, 7th, 8th or 12th
//!   sign counted from the lagna, from the Moon and from Venus (the South
//!   Indian list including the 2nd). `present` is true when it occurs from
//!   any of the three; each reference is reported separately. (PyJHora's
//!   `dosha.manglik` counts from one reference, default the lagna, and by
//!   default omits house 1 after Sanjay Rath; we include it as the brief and
//!   most North Indian programs do.) Cancellations checked when present —
//!   the mechanically checkable subset of B.V. Raman's exceptions as listed
//!   in PyJHora `dosha._manglik_exceptions`: Mars in Leo or Aquarius; Mars
//!   in the 2nd (from the lagna) in Gemini/Virgo, in the 4th in
//!   Aries/Scorpio, in the 7th in Cancer/Capricorn, in the 8th in
//!   Sagittarius/Pisces, in the 12th in Taurus/Libra; Mars conjunct Jupiter,
//!   Saturn or the Moon; Mars retrograde; Mars combust; Mars the lagna lord;
//!   lagna Cancer or Leo (Mars is yogakaraka); Mars in its own sign or
//!   exalted. A present dosha with any of these has `cancelled = true`.
//!   Matching two charts' doshas (both partners manglik) is left to the
//!   caller.

use serde::{Deserialize, Serialize};

use crate::chart::ChartInput;
use crate::dignity::{angular_distance, debilitation, exaltation, is_combust, is_own_sign};
use crate::types::{Graha, Rashi};

/// Which yoga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YogaKind {
    GajaKesari,
    Budhaditya,
    Ruchaka,
    Bhadra,
    Hamsa,
    Malavya,
    Sasa,
    Kemadruma,
    ChandraMangala,
}

impl YogaKind {
    /// Display name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            YogaKind::GajaKesari => "Gaja Kesari",
            YogaKind::Budhaditya => "Budhaditya",
            YogaKind::Ruchaka => "Ruchaka",
            YogaKind::Bhadra => "Bhadra",
            YogaKind::Hamsa => "Hamsa",
            YogaKind::Malavya => "Malavya",
            YogaKind::Sasa => "Sasa",
            YogaKind::Kemadruma => "Kemadruma",
            YogaKind::ChandraMangala => "Chandra-Mangala",
        }
    }

    /// True for the inauspicious yogas (Kemadruma).
    #[must_use]
    pub const fn is_adverse(self) -> bool {
        matches!(self, YogaKind::Kemadruma)
    }
}

/// A yoga found in a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YogaResult {
    pub yoga: YogaKind,
    /// Display name.
    pub name: String,
    /// Grahas forming the yoga.
    pub grahas: Vec<Graha>,
    /// Whole-sign houses from the lagna involved (1..=12).
    pub houses: Vec<u8>,
    /// Short human-readable explanation.
    pub explanation: String,
    /// Cancellation / weakening conditions that hold.
    pub cancellations: Vec<String>,
    /// True when at least one cancellation holds.
    pub cancelled: bool,
}

fn house_u8(c: &ChartInput, g: Graha) -> u8 {
    c.house(g) as u8
}

fn is_kendra(h: usize) -> bool {
    matches!(h, 1 | 4 | 7 | 10)
}

fn result(
    yoga: YogaKind,
    c: &ChartInput,
    grahas: Vec<Graha>,
    explanation: String,
    cancellations: Vec<String>,
) -> YogaResult {
    let mut houses: Vec<u8> = grahas.iter().map(|&g| house_u8(c, g)).collect();
    houses.sort_unstable();
    houses.dedup();
    YogaResult {
        yoga,
        name: yoga.name().to_string(),
        grahas,
        houses,
        explanation,
        cancelled: !cancellations.is_empty(),
        cancellations,
    }
}

/// Gaja Kesari: Jupiter in a kendra from the Moon.
#[must_use]
pub fn gaja_kesari(c: &ChartInput) -> Option<YogaResult> {
    let h = c.sign(Graha::Moon).house_of(c.sign(Graha::Jupiter));
    if !is_kendra(h) {
        return None;
    }
    let mut canc = Vec::new();
    if c.sign(Graha::Jupiter) == debilitation(Graha::Jupiter) {
        canc.push("Jupiter is debilitated (Capricorn)".to_string());
    }
    let jup = c.lon(Graha::Jupiter);
    if is_combust(
        Graha::Jupiter,
        jup,
        c.lon(Graha::Sun),
        c.is_retrograde(Graha::Jupiter),
    ) {
        canc.push("Jupiter is combust".to_string());
    }
    Some(result(
        YogaKind::GajaKesari,
        c,
        vec![Graha::Jupiter, Graha::Moon],
        format!(
            "Jupiter in {} is in house {} from the Moon in {} (a kendra)",
            c.sign(Graha::Jupiter),
            h,
            c.sign(Graha::Moon)
        ),
        canc,
    ))
}

/// Budhaditya: Sun and Mercury in the same sign.
#[must_use]
pub fn budhaditya(c: &ChartInput) -> Option<YogaResult> {
    if c.sign(Graha::Sun) != c.sign(Graha::Mercury) {
        return None;
    }
    let d = angular_distance(c.lon(Graha::Sun), c.lon(Graha::Mercury));
    Some(result(
        YogaKind::Budhaditya,
        c,
        vec![Graha::Sun, Graha::Mercury],
        format!(
            "Sun and Mercury together in {} (house {}), {:.1}° apart",
            c.sign(Graha::Sun),
            c.house(Graha::Sun),
            d
        ),
        Vec::new(),
    ))
}

/// The five Pancha Mahapurusha yogas present in the chart.
#[must_use]
pub fn pancha_mahapurusha(c: &ChartInput) -> Vec<YogaResult> {
    let list = [
        (Graha::Mars, YogaKind::Ruchaka),
        (Graha::Mercury, YogaKind::Bhadra),
        (Graha::Jupiter, YogaKind::Hamsa),
        (Graha::Venus, YogaKind::Malavya),
        (Graha::Saturn, YogaKind::Sasa),
    ];
    let mut out = Vec::new();
    for (g, kind) in list {
        let sign = c.sign(g);
        let h = c.house(g);
        let exalted = sign == exaltation(g).0;
        let own = is_own_sign(g, sign);
        if is_kendra(h) && (exalted || own) {
            let how = if exalted { "exaltation" } else { "own" };
            out.push(result(
                kind,
                c,
                vec![g],
                format!("{g} in its {how} sign {sign} in house {h} (a kendra from the lagna)"),
                Vec::new(),
            ));
        }
    }
    out
}

const TARA_GRAHAS: [Graha; 5] = [
    Graha::Mars,
    Graha::Mercury,
    Graha::Jupiter,
    Graha::Venus,
    Graha::Saturn,
];

/// Kemadruma: no graha other than Sun/Rahu/Ketu in the 2nd or 12th from the Moon.
#[must_use]
pub fn kemadruma(c: &ChartInput) -> Option<YogaResult> {
    let moon = c.sign(Graha::Moon);
    let second = moon.nth(2);
    let twelfth = moon.nth(12);
    let flanked = TARA_GRAHAS
        .iter()
        .any(|&g| c.sign(g) == second || c.sign(g) == twelfth);
    if flanked {
        return None;
    }
    let mut canc = Vec::new();
    let conj: Vec<&str> = TARA_GRAHAS
        .iter()
        .filter(|&&g| c.sign(g) == moon)
        .map(|g| g.english())
        .collect();
    if !conj.is_empty() {
        canc.push(format!("conjunct the Moon: {}", conj.join(", ")));
    }
    let kendra_moon: Vec<&str> = TARA_GRAHAS
        .iter()
        .filter(|&&g| matches!(moon.house_of(c.sign(g)), 4 | 7 | 10))
        .map(|g| g.english())
        .collect();
    if !kendra_moon.is_empty() {
        canc.push(format!(
            "in a kendra from the Moon: {}",
            kendra_moon.join(", ")
        ));
    }
    let kendra_lagna: Vec<&str> = std::iter::once(Graha::Moon)
        .chain(TARA_GRAHAS)
        .filter(|&g| is_kendra(c.house(g)))
        .map(Graha::english)
        .collect();
    if !kendra_lagna.is_empty() {
        canc.push(format!(
            "in a kendra from the lagna: {}",
            kendra_lagna.join(", ")
        ));
    }
    Some(result(
        YogaKind::Kemadruma,
        c,
        vec![Graha::Moon],
        format!(
            "no graha other than Sun/Rahu/Ketu in {} or {} (2nd and 12th from the Moon in {})",
            second, twelfth, moon
        ),
        canc,
    ))
}

/// Chandra-Mangala: Moon and Mars in the same sign.
#[must_use]
pub fn chandra_mangala(c: &ChartInput) -> Option<YogaResult> {
    if c.sign(Graha::Moon) != c.sign(Graha::Mars) {
        return None;
    }
    Some(result(
        YogaKind::ChandraMangala,
        c,
        vec![Graha::Moon, Graha::Mars],
        format!(
            "Moon and Mars together in {} (house {})",
            c.sign(Graha::Moon),
            c.house(Graha::Moon)
        ),
        Vec::new(),
    ))
}

/// All yogas of this module present in the chart.
#[must_use]
pub fn detect_yogas(c: &ChartInput) -> Vec<YogaResult> {
    let mut out = Vec::new();
    out.extend(gaja_kesari(c));
    out.extend(budhaditya(c));
    out.extend(pancha_mahapurusha(c));
    out.extend(kemadruma(c));
    out.extend(chandra_mangala(c));
    out
}

/// Houses (counted from a reference sign) that give Kuja dosha.
pub const KUJA_DOSHA_HOUSES: [u8; 6] = [1, 2, 4, 7, 8, 12];

/// Kuja dosha from one reference point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KujaDoshaFrom {
    /// Reference sign (lagna, Moon or Venus sign).
    pub reference_sign: Rashi,
    /// House of Mars counted from it (1..=12).
    pub mars_house: u8,
    /// True when `mars_house` is one of 1, 2, 4, 7, 8, 12.
    pub dosha: bool,
}

/// Kuja (Mangal) dosha report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KujaDosha {
    /// Present from at least one reference.
    pub present: bool,
    pub from_lagna: KujaDoshaFrom,
    pub from_moon: KujaDoshaFrom,
    pub from_venus: KujaDoshaFrom,
    /// Cancellation conditions that hold (only when present).
    pub cancellations: Vec<String>,
    /// Present and at least one cancellation holds.
    pub cancelled: bool,
    /// Short explanation.
    pub explanation: String,
}

fn kuja_from(reference: Rashi, mars: Rashi) -> KujaDoshaFrom {
    let h = reference.house_of(mars) as u8;
    KujaDoshaFrom {
        reference_sign: reference,
        mars_house: h,
        dosha: KUJA_DOSHA_HOUSES.contains(&h),
    }
}

/// Kuja dosha from the lagna, the Moon and Venus, with common cancellations.
#[must_use]
pub fn kuja_dosha(c: &ChartInput) -> KujaDosha {
    let mars = c.sign(Graha::Mars);
    let from_lagna = kuja_from(c.lagna(), mars);
    let from_moon = kuja_from(c.sign(Graha::Moon), mars);
    let from_venus = kuja_from(c.sign(Graha::Venus), mars);
    let present = from_lagna.dosha || from_moon.dosha || from_venus.dosha;
    let mut canc = Vec::new();
    if present {
        if matches!(mars, Rashi::Mesha | Rashi::Vrischika) {
            canc.push(format!("Mars in its own sign {mars}"));
        }
        if mars == Rashi::Makara {
            canc.push("Mars exalted in Makara".to_string());
        }
        if matches!(mars, Rashi::Simha | Rashi::Kumbha) {
            canc.push(format!("Mars in {mars} (sign of the Sun/Saturn)"));
        }
        for g in [Graha::Jupiter, Graha::Saturn, Graha::Moon] {
            if c.sign(g) == mars {
                canc.push(format!("Mars conjunct {}", g.english()));
            }
        }
        if c.is_retrograde(Graha::Mars) {
            canc.push("Mars is retrograde".to_string());
        }
        if is_combust(
            Graha::Mars,
            c.lon(Graha::Mars),
            c.lon(Graha::Sun),
            c.is_retrograde(Graha::Mars),
        ) {
            canc.push("Mars is combust".to_string());
        }
        let lagna = c.lagna();
        if lagna.lord() == Graha::Mars {
            canc.push(format!("Mars is the lagna lord ({lagna})"));
        }
        if matches!(lagna, Rashi::Karka | Rashi::Simha) {
            canc.push(format!("lagna {lagna}: Mars is yogakaraka"));
        }
        let per_house: Option<&str> = match (from_lagna.mars_house, mars) {
            (2, Rashi::Mithuna | Rashi::Kanya) => Some("Mars in the 2nd in Mithuna/Kanya"),
            (12, Rashi::Vrishabha | Rashi::Tula) => Some("Mars in the 12th in Vrishabha/Tula"),
            (4, Rashi::Mesha | Rashi::Vrischika) => Some("Mars in the 4th in Mesha/Vrischika"),
            (7, Rashi::Karka | Rashi::Makara) => Some("Mars in the 7th in Karka/Makara"),
            (8, Rashi::Dhanu | Rashi::Meena) => Some("Mars in the 8th in Dhanu/Meena"),
            _ => None,
        };
        if let Some(s) = per_house {
            canc.push(s.to_string());
        }
    }
    let mut refs = Vec::new();
    for (name, f) in [
        ("lagna", &from_lagna),
        ("Moon", &from_moon),
        ("Venus", &from_venus),
    ] {
        if f.dosha {
            refs.push(format!("house {} from the {}", f.mars_house, name));
        }
    }
    let explanation = if present {
        format!("Mars in {mars} is in {}", refs.join(", "))
    } else {
        format!("Mars in {mars} is not in houses 1, 2, 4, 7, 8 or 12 from the lagna, Moon or Venus")
    };
    KujaDosha {
        present,
        from_lagna,
        from_moon,
        from_venus,
        cancelled: present && !canc.is_empty(),
        cancellations: canc,
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Longitudes at 15° of the given signs, order Sun..Ketu.
    fn chart(signs: [usize; 9], lagna: usize) -> ChartInput {
        let mut l = [0.0; 9];
        for (x, s) in l.iter_mut().zip(signs) {
            *x = s as f64 * 30.0 + 15.0;
        }
        ChartInput::from_longitudes(l, lagna as f64 * 30.0 + 1.0)
    }

    fn kinds(c: &ChartInput) -> Vec<YogaKind> {
        detect_yogas(c).iter().map(|y| y.yoga).collect()
    }

    #[test]
    fn gaja_kesari_and_budhaditya() {
        // Sun Aries, Moon Cancer, Mars Gemini, Mercury Aries, Jupiter Libra
        // (7th from... no: Libra is 4th from Cancer), Venus Taurus, Saturn
        // Pisces, Rahu Virgo, Ketu Pisces; lagna Leo.
        let c = chart([0, 3, 2, 0, 6, 1, 11, 5, 11], 4);
        let k = kinds(&c);
        assert!(k.contains(&YogaKind::GajaKesari), "{k:?}");
        assert!(k.contains(&YogaKind::Budhaditya));
        assert!(!k.contains(&YogaKind::ChandraMangala));
        assert!(!k.contains(&YogaKind::Kemadruma)); // Mars in Gemini = 12th from Moon
        let gk = gaja_kesari(&c).map(|y| (y.cancelled, y.houses));
        assert_eq!(gk, Some((false, vec![3, 12])));
        // Jupiter in Leo: 2nd from Cancer, no Gaja Kesari.
        let c2 = chart([0, 3, 2, 0, 4, 1, 11, 5, 11], 4);
        assert!(gaja_kesari(&c2).is_none());
        // Jupiter debilitated in Capricorn, 7th from the Moon in Cancer: cancelled.
        let c3 = chart([0, 3, 2, 0, 9, 1, 11, 5, 11], 4);
        assert_eq!(gaja_kesari(&c3).map(|y| y.cancelled), Some(true));
    }

    #[test]
    fn mahapurusha() {
        // Lagna Aries: Mars in Capricorn (10th, exalted) -> Ruchaka;
        // Saturn in Libra (7th, exalted) -> Sasa; Jupiter in Sagittarius
        // (9th) -> no Hamsa; Venus in Libra (7th, own) -> Malavya; Mercury
        // in Virgo (6th) -> no Bhadra.
        let c = chart([1, 4, 9, 5, 8, 6, 6, 2, 8], 0);
        let k: Vec<YogaKind> = pancha_mahapurusha(&c).iter().map(|y| y.yoga).collect();
        assert_eq!(
            k,
            vec![YogaKind::Ruchaka, YogaKind::Malavya, YogaKind::Sasa]
        );
        // Lagna Gemini: Mercury in Gemini (1st, own) -> Bhadra; Jupiter in
        // Pisces (10th, own) -> Hamsa.
        let c = chart([1, 4, 7, 2, 11, 0, 0, 2, 8], 2);
        let k: Vec<YogaKind> = pancha_mahapurusha(&c).iter().map(|y| y.yoga).collect();
        assert_eq!(k, vec![YogaKind::Bhadra, YogaKind::Hamsa]);
    }

    #[test]
    fn kemadruma_cases() {
        // Moon in Libra; 2nd Scorpio and 12th Virgo hold only Sun/Rahu/Ketu.
        // Others in Aries/Capricorn/Cancer: kendras from the Moon -> cancelled.
        let c = chart([5, 6, 0, 9, 3, 0, 9, 7, 1], 6);
        let k = kemadruma(&c);
        assert_eq!(k.as_ref().map(|y| y.cancelled), Some(true));
        // Without any kendra relief: Moon in Libra, lagna Aries; others in
        // 3rd/11th/5th/9th from the Moon, and not in kendras from the lagna.
        // From lagna Aries kendras are Aries, Cancer, Libra(Moon!), Capricorn.
        // Choose lagna Taurus: kendras Taurus, Leo, Scorpio, Aquarius.
        // Mars Sagittarius (3rd from Moon), Mercury Leo(11th) -> Leo is a kendra
        // from Taurus; use Mercury in Gemini (9th from Moon), Jupiter Aquarius
        // is kendra; use Jupiter Sagittarius, Venus Gemini, Saturn Sagittarius.
        let c = chart([5, 6, 8, 2, 8, 2, 8, 5, 11], 1);
        let k = kemadruma(&c);
        assert_eq!(k.as_ref().map(|y| y.cancelled), Some(false), "{k:?}");
        // Venus in the 2nd from the Moon removes it.
        let c = chart([5, 6, 8, 2, 8, 7, 8, 5, 11], 1);
        assert!(kemadruma(&c).is_none());
    }

    #[test]
    fn chandra_mangala_and_kuja() {
        let c = chart([0, 6, 6, 0, 3, 1, 11, 5, 11], 0);
        assert!(chandra_mangala(&c).is_some());
        let kd = kuja_dosha(&c);
        // Mars in Libra: 7th from Aries lagna, 1st from Moon, 6th from Venus (Taurus).
        assert!(kd.present);
        assert_eq!(
            (
                kd.from_lagna.mars_house,
                kd.from_moon.mars_house,
                kd.from_venus.mars_house
            ),
            (7, 1, 6)
        );
        assert!(kd.from_lagna.dosha && kd.from_moon.dosha && !kd.from_venus.dosha);
        assert!(kd.cancelled); // conjunct the Moon
                               // Mars in Gemini (3rd from Aries), Moon Aquarius (5th), Venus Aries (3rd).
        let c = chart([0, 10, 2, 0, 3, 0, 11, 5, 11], 0);
        let kd = kuja_dosha(&c);
        assert!(!kd.present && !kd.cancelled);
        // Mars in Scorpio, 8th from Aries: present but cancelled (own sign).
        let c = chart([0, 10, 7, 0, 3, 0, 11, 5, 11], 0);
        let kd = kuja_dosha(&c);
        assert!(kd.present && kd.cancelled);
        assert!(kd.cancellations.iter().any(|s| s.contains("own sign")));
        // Lagna Gemini, Mars in Cancer (2nd), Moon Aquarius (6th), Venus
        // Aries (4th): present and not cancelled.
        let c = chart([0, 10, 3, 0, 6, 0, 11, 5, 11], 2);
        let kd = kuja_dosha(&c);
        assert!(kd.present && !kd.cancelled, "{kd:?}");
        assert_eq!(
            (
                kd.from_lagna.mars_house,
                kd.from_moon.mars_house,
                kd.from_venus.mars_house
            ),
            (2, 6, 4)
        );
        // Same with lagna Aries: Mars is the lagna lord -> cancelled.
        let kd = kuja_dosha(&chart([0, 10, 3, 0, 6, 0, 11, 5, 11], 0));
        assert!(kd.present && kd.cancelled);
    }
}
