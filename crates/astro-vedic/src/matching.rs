//! Ashtakoota (guna milan) compatibility, 36 points, from the Moon
//! longitudes of the boy (groom) and the girl (bride).
//!
//! # Tables and conventions (North Indian ashtakoota)
//!
//! | koota | max | rule |
//! |---|---|---|
//! | Varna | 1 | varna of the Moon sign: water signs Brahmin, fire Kshatriya, earth Vaishya, air Shudra; 1 point when the boy's varna ranks equal or higher than the girl's |
//! | Vashya | 2 | Moon-sign group: Chatushpada (Aries, Taurus, 2nd half of Sagittarius, 1st half of Capricorn), Manava (Gemini, Virgo, Libra, 1st half of Sagittarius, Aquarius), Jalachara (Cancer, Pisces, 2nd half of Capricorn), Vanachara (Leo), Keeta (Scorpio); scored with the symmetric 5×5 table [`VASHYA_TABLE`] |
//! | Tara | 3 | count from the girl's nakshatra to the boy's and from the boy's to the girl's (inclusive); remainder mod 9 (0 read as 9): 3 Vipat, 5 Pratyak, 7 Naidhana are bad; each good direction gives 1.5 |
//! | Yoni | 4 | nakshatra animal (14 yonis), 14×14 table [`YONI_TABLE`] (PyJHora `compatibility.YoniArray`; 0 for the sworn-enemy pairs horse-buffalo, elephant-lion, sheep-monkey, serpent-mongoose, dog-deer, cat-rat, cow-tiger) |
//! | Graha Maitri | 5 | natural friendship of the Moon-sign lords (BPHS): same lord or mutual friends 5, friend+neutral 4, mutual neutrals 3, friend+enemy 1, neutral+enemy 0.5, mutual enemies 0 (equals PyJHora's `raasi_adhipathi_array`) |
//! | Gana | 6 | Deva / Manushya / Rakshasa nakshatras; table [`GANA_TABLE`] (rows girl, columns boy; PyJHora `gana_array`, from saravali.de) |
//! | Bhakoot | 7 | count of the Moon signs from each other: 2/12, 5/9, 6/8 give 0 (Bhakoot dosha), 1/1, 3/11, 4/10, 7/7 give 7 |
//! | Nadi | 8 | Adi / Madhya / Antya nadi (nakshatras in the zig-zag order Adi, Madhya, Antya, Antya, Madhya, Adi, ...); same nadi 0 (Nadi dosha), else 8 |
//!
//! Varna assignments differ between authors (B.V. Raman and PyJHora use
//! other rashi→varna maps); the element-based one above is the one printed
//! by most panchangas and online calculators. Dosha *cancellations*
//! (e.g. Nadi dosha cancelled when both have the same rashi but different
//! nakshatras, or the same nakshatra in different rashis; Bhakoot dosha
//! cancelled when the sign lords are the same or friends) are reported as
//! notes, the score is not changed.

use serde::{Deserialize, Serialize};

use crate::dignity::{natural_relation, Relation};
use crate::types::{clamp_index, norm_deg, Graha, Nakshatra, NakshatraPada, Rashi};

/// The four varnas, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Varna {
    Brahmin,
    Kshatriya,
    Vaishya,
    Shudra,
}

/// Varna of a Moon sign (element-based).
#[must_use]
pub fn varna_of(sign: Rashi) -> Varna {
    match sign.element() {
        crate::types::Element::Water => Varna::Brahmin,
        crate::types::Element::Fire => Varna::Kshatriya,
        crate::types::Element::Earth => Varna::Vaishya,
        crate::types::Element::Air => Varna::Shudra,
    }
}

/// Vashya groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vashya {
    Chatushpada,
    Manava,
    Jalachara,
    Vanachara,
    Keeta,
}

/// Vashya group of a Moon longitude (Sagittarius and Capricorn are split
/// at 15°).
#[must_use]
pub fn vashya_of(moon_lon: f64) -> Vashya {
    let l = norm_deg(moon_lon);
    let sign = Rashi::from_longitude(l);
    let first_half = l - sign.index() as f64 * 30.0 < 15.0;
    match sign {
        Rashi::Mesha | Rashi::Vrishabha => Vashya::Chatushpada,
        Rashi::Mithuna | Rashi::Kanya | Rashi::Tula | Rashi::Kumbha => Vashya::Manava,
        Rashi::Karka | Rashi::Meena => Vashya::Jalachara,
        Rashi::Simha => Vashya::Vanachara,
        Rashi::Vrischika => Vashya::Keeta,
        Rashi::Dhanu => {
            if first_half {
                Vashya::Manava
            } else {
                Vashya::Chatushpada
            }
        }
        Rashi::Makara => {
            if first_half {
                Vashya::Chatushpada
            } else {
                Vashya::Jalachara
            }
        }
    }
}

/// Vashya points, rows boy, columns girl, order Chatushpada, Manava,
/// Jalachara, Vanachara, Keeta.
pub const VASHYA_TABLE: [[f64; 5]; 5] = [
    [2.0, 1.0, 1.0, 0.5, 1.0],
    [1.0, 2.0, 0.5, 0.0, 1.0],
    [1.0, 0.5, 2.0, 1.0, 1.0],
    [0.5, 0.0, 1.0, 2.0, 0.0],
    [1.0, 1.0, 1.0, 0.0, 2.0],
];

/// The fourteen yoni animals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Yoni {
    Horse,
    Elephant,
    Sheep,
    Serpent,
    Dog,
    Cat,
    Rat,
    Cow,
    Buffalo,
    Tiger,
    Deer,
    Monkey,
    Mongoose,
    Lion,
}

const YONI_OF_NAKSHATRA: [Yoni; 27] = {
    use Yoni::*;
    [
        Horse, Elephant, Sheep, Serpent, Serpent, Dog, Cat, Sheep, Cat, Rat, Rat, Cow, Buffalo,
        Tiger, Buffalo, Tiger, Deer, Deer, Dog, Monkey, Mongoose, Monkey, Lion, Horse, Lion, Cow,
        Elephant,
    ]
};

/// Yoni of a nakshatra.
#[must_use]
pub fn yoni_of(n: Nakshatra) -> Yoni {
    YONI_OF_NAKSHATRA[n.index()]
}

/// Yoni points, symmetric, order of [`Yoni`].
pub const YONI_TABLE: [[u8; 14]; 14] = [
    [4, 2, 2, 3, 2, 2, 2, 1, 0, 1, 1, 3, 2, 1],
    [2, 4, 3, 3, 2, 2, 2, 2, 3, 1, 2, 3, 2, 0],
    [2, 3, 4, 2, 1, 2, 1, 3, 3, 1, 2, 0, 3, 1],
    [3, 3, 2, 4, 2, 1, 1, 1, 1, 2, 2, 2, 0, 2],
    [2, 2, 1, 2, 4, 2, 1, 2, 2, 1, 0, 2, 1, 1],
    [2, 2, 2, 1, 2, 4, 0, 2, 2, 1, 3, 3, 2, 1],
    [2, 2, 1, 1, 1, 0, 4, 2, 2, 2, 2, 2, 1, 2],
    [1, 2, 3, 1, 2, 2, 2, 4, 3, 0, 3, 2, 2, 1],
    [0, 3, 3, 1, 2, 2, 2, 3, 4, 1, 2, 2, 2, 1],
    [1, 1, 1, 2, 1, 1, 2, 0, 1, 4, 1, 1, 2, 1],
    [1, 2, 2, 2, 0, 3, 2, 3, 2, 1, 4, 2, 2, 1],
    [3, 3, 0, 2, 2, 3, 2, 2, 2, 1, 2, 4, 3, 2],
    [2, 2, 3, 0, 1, 2, 1, 2, 2, 2, 2, 3, 4, 2],
    [1, 0, 1, 2, 1, 1, 2, 1, 1, 1, 1, 2, 2, 4],
];

/// Ganas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gana {
    Deva,
    Manushya,
    Rakshasa,
}

/// Gana of a nakshatra.
#[must_use]
pub fn gana_of(n: Nakshatra) -> Gana {
    match n.index() {
        0 | 4 | 6 | 7 | 12 | 14 | 16 | 21 | 26 => Gana::Deva,
        1 | 3 | 5 | 10 | 11 | 19 | 20 | 24 | 25 => Gana::Manushya,
        _ => Gana::Rakshasa,
    }
}

/// Gana points, rows girl, columns boy (Deva, Manushya, Rakshasa).
pub const GANA_TABLE: [[u8; 3]; 3] = [[6, 6, 0], [5, 6, 0], [1, 0, 6]];

/// Nadis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nadi {
    Adi,
    Madhya,
    Antya,
}

/// Nadi of a nakshatra (zig-zag Adi, Madhya, Antya, Antya, Madhya, Adi, ...).
#[must_use]
pub fn nadi_of(n: Nakshatra) -> Nadi {
    match n.index() % 6 {
        0 | 5 => Nadi::Adi,
        1 | 4 => Nadi::Madhya,
        _ => Nadi::Antya,
    }
}

/// Tara (1..=9) of `to` counted from `from`.
#[must_use]
pub fn tara(from: Nakshatra, to: Nakshatra) -> u8 {
    let count = (to.index() + 27 - from.index()) % 27 + 1; // 1..=27
    ((count - 1) % 9 + 1) as u8
}

const TARA_NAMES: [&str; 9] = [
    "Janma",
    "Sampat",
    "Vipat",
    "Kshema",
    "Pratyak",
    "Sadhana",
    "Naidhana",
    "Mitra",
    "Parama Mitra",
];

/// Graha Maitri points for two sign lords.
#[must_use]
pub fn maitri_points(a: Graha, b: Graha) -> f64 {
    if a == b {
        return 5.0;
    }
    use Relation::*;
    match (natural_relation(a, b), natural_relation(b, a)) {
        (Friend, Friend) => 5.0,
        (Friend, Neutral) | (Neutral, Friend) => 4.0,
        (Neutral, Neutral) => 3.0,
        (Friend, Enemy) | (Enemy, Friend) => 1.0,
        (Neutral, Enemy) | (Enemy, Neutral) => 0.5,
        (Enemy, Enemy) => 0.0,
    }
}

/// Which koota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KootaKind {
    Varna,
    Vashya,
    Tara,
    Yoni,
    GrahaMaitri,
    Gana,
    Bhakoot,
    Nadi,
}

/// One koota's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Koota {
    pub koota: KootaKind,
    pub score: f64,
    pub max: f64,
    pub explanation: String,
}

/// The Moon data of one person used for matching.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MoonInfo {
    pub longitude: f64,
    pub rashi: Rashi,
    pub nakshatra: Nakshatra,
    pub pada: u8,
}

impl MoonInfo {
    /// From a sidereal Moon longitude.
    #[must_use]
    pub fn from_longitude(lon: f64) -> MoonInfo {
        let l = norm_deg(lon);
        let np = NakshatraPada::from_longitude(l);
        MoonInfo {
            longitude: l,
            rashi: Rashi::from_longitude(l),
            nakshatra: np.nakshatra,
            pada: np.pada,
        }
    }
}

/// Full ashtakoota report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ashtakoota {
    pub boy: MoonInfo,
    pub girl: MoonInfo,
    /// The eight kootas in the order Varna, Vashya, Tara, Yoni, Graha
    /// Maitri, Gana, Bhakoot, Nadi.
    pub kootas: Vec<Koota>,
    /// Sum of the scores (0..=36).
    pub total: f64,
    /// 36.
    pub max: f64,
    /// Same nadi.
    pub nadi_dosha: bool,
    /// Moon signs 2/12, 5/9 or 6/8 from each other.
    pub bhakoot_dosha: bool,
    /// Boy's and girl's ganas are Rakshasa vs. Deva/Manushya (gana dosha).
    pub gana_dosha: bool,
    /// Notes on traditional cancellations of the doshas that apply.
    pub notes: Vec<String>,
}

fn koota(kind: KootaKind, score: f64, max: f64, explanation: String) -> Koota {
    Koota {
        koota: kind,
        score,
        max,
        explanation,
    }
}

/// Ashtakoota between the boy's (groom's) and the girl's (bride's) sidereal
/// Moon longitudes.
#[must_use]
pub fn ashtakoota(boy_moon_lon: f64, girl_moon_lon: f64) -> Ashtakoota {
    let boy = MoonInfo::from_longitude(boy_moon_lon);
    let girl = MoonInfo::from_longitude(girl_moon_lon);
    let mut kootas = Vec::with_capacity(8);

    // Varna.
    let (bv, gv) = (varna_of(boy.rashi), varna_of(girl.rashi));
    let varna_score = if (bv as usize) <= (gv as usize) {
        1.0
    } else {
        0.0
    };
    kootas.push(koota(
        KootaKind::Varna,
        varna_score,
        1.0,
        format!("boy {bv:?} ({}), girl {gv:?} ({})", boy.rashi, girl.rashi),
    ));

    // Vashya.
    let (bw, gw) = (vashya_of(boy.longitude), vashya_of(girl.longitude));
    let vashya_score = VASHYA_TABLE[bw as usize][gw as usize];
    kootas.push(koota(
        KootaKind::Vashya,
        vashya_score,
        2.0,
        format!("boy {bw:?}, girl {gw:?}"),
    ));

    // Tara.
    let t_from_girl = tara(girl.nakshatra, boy.nakshatra);
    let t_from_boy = tara(boy.nakshatra, girl.nakshatra);
    let good = |t: u8| !matches!(t, 3 | 5 | 7);
    let tara_score = 1.5 * f64::from(u8::from(good(t_from_girl)) + u8::from(good(t_from_boy)));
    kootas.push(koota(
        KootaKind::Tara,
        tara_score,
        3.0,
        format!(
            "from the girl's {} the boy's {} is tara {} ({}); from the boy's the girl's is tara {} ({})",
            girl.nakshatra,
            boy.nakshatra,
            t_from_girl,
            TARA_NAMES[usize::from(t_from_girl - 1)],
            t_from_boy,
            TARA_NAMES[usize::from(t_from_boy - 1)]
        ),
    ));

    // Yoni.
    let (by, gy) = (yoni_of(boy.nakshatra), yoni_of(girl.nakshatra));
    let yoni_score = f64::from(YONI_TABLE[by as usize][gy as usize]);
    kootas.push(koota(
        KootaKind::Yoni,
        yoni_score,
        4.0,
        format!("boy {by:?}, girl {gy:?}"),
    ));

    // Graha maitri.
    let (bl, gl) = (boy.rashi.lord(), girl.rashi.lord());
    let maitri = maitri_points(bl, gl);
    kootas.push(koota(
        KootaKind::GrahaMaitri,
        maitri,
        5.0,
        format!(
            "sign lords {} ({:?} to {}) and {} ({:?} to {})",
            bl,
            natural_relation(bl, gl),
            gl,
            gl,
            natural_relation(gl, bl),
            bl
        ),
    ));

    // Gana.
    let (bg, gg) = (gana_of(boy.nakshatra), gana_of(girl.nakshatra));
    let gana_score = f64::from(GANA_TABLE[gg as usize][bg as usize]);
    kootas.push(koota(
        KootaKind::Gana,
        gana_score,
        6.0,
        format!("boy {bg:?}, girl {gg:?}"),
    ));

    // Bhakoot.
    let b_from_g = girl.rashi.house_of(boy.rashi);
    let g_from_b = boy.rashi.house_of(girl.rashi);
    let bhakoot_dosha = matches!(b_from_g, 2 | 12 | 5 | 9 | 6 | 8);
    let bhakoot_score = if bhakoot_dosha { 0.0 } else { 7.0 };
    kootas.push(koota(
        KootaKind::Bhakoot,
        bhakoot_score,
        7.0,
        format!(
            "boy's Moon sign {} is {} from the girl's {} ({}/{})",
            boy.rashi, b_from_g, girl.rashi, b_from_g, g_from_b
        ),
    ));

    // Nadi.
    let (bn, gn) = (nadi_of(boy.nakshatra), nadi_of(girl.nakshatra));
    let nadi_dosha = bn == gn;
    let nadi_score = if nadi_dosha { 0.0 } else { 8.0 };
    kootas.push(koota(
        KootaKind::Nadi,
        nadi_score,
        8.0,
        format!("boy {bn:?}, girl {gn:?}"),
    ));

    let mut notes = Vec::new();
    if nadi_dosha {
        if boy.rashi == girl.rashi && boy.nakshatra != girl.nakshatra {
            notes.push(
                "Nadi dosha: same rashi but different nakshatras, traditionally cancelled"
                    .to_string(),
            );
        } else if boy.nakshatra == girl.nakshatra && boy.rashi != girl.rashi {
            notes.push(
                "Nadi dosha: same nakshatra in different rashis, traditionally cancelled"
                    .to_string(),
            );
        } else if boy.nakshatra == girl.nakshatra && boy.pada != girl.pada {
            notes.push(
                "Nadi dosha: same nakshatra, different padas; some authorities cancel it"
                    .to_string(),
            );
        } else {
            notes.push("Nadi dosha: same nadi".to_string());
        }
    }
    if bhakoot_dosha {
        if bl == gl {
            notes.push(
                "Bhakoot dosha: both Moon signs have the same lord, traditionally cancelled"
                    .to_string(),
            );
        } else if natural_relation(bl, gl) == Relation::Friend
            && natural_relation(gl, bl) == Relation::Friend
        {
            notes.push(
                "Bhakoot dosha: the Moon-sign lords are mutual friends, traditionally cancelled"
                    .to_string(),
            );
        } else {
            notes.push(format!("Bhakoot dosha: Moon signs {b_from_g}/{g_from_b}"));
        }
    }
    let gana_dosha = (bg == Gana::Rakshasa) != (gg == Gana::Rakshasa);
    let total = kootas.iter().map(|k| k.score).sum();
    Ashtakoota {
        boy,
        girl,
        kootas,
        total,
        max: 36.0,
        nadi_dosha,
        bhakoot_dosha,
        gana_dosha,
        notes,
    }
}

/// Ashtakoota from nakshatra and pada instead of longitudes (the Moon is
/// placed at the middle of the pada).
#[must_use]
pub fn ashtakoota_from_nakshatra(
    boy_nakshatra: Nakshatra,
    boy_pada: u8,
    girl_nakshatra: Nakshatra,
    girl_pada: u8,
) -> Ashtakoota {
    let lon = |n: Nakshatra, p: u8| {
        let g = n.index() * 4 + clamp_index(f64::from(p.clamp(1, 4)) - 1.0, 3);
        (g as f64 + 0.5) * 360.0 / 108.0
    };
    ashtakoota(lon(boy_nakshatra, boy_pada), lon(girl_nakshatra, girl_pada))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        for (i, row) in YONI_TABLE.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                assert_eq!(*v, YONI_TABLE[j][i], "yoni {i} {j}");
            }
            assert_eq!(row[i], 4);
        }
        for (i, row) in VASHYA_TABLE.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                assert_eq!(*v, VASHYA_TABLE[j][i]);
            }
        }
        // Sworn enemies.
        use Yoni::*;
        for (a, b) in [
            (Horse, Buffalo),
            (Elephant, Lion),
            (Sheep, Monkey),
            (Serpent, Mongoose),
            (Dog, Deer),
            (Cat, Rat),
            (Cow, Tiger),
        ] {
            assert_eq!(YONI_TABLE[a as usize][b as usize], 0);
        }
        // 9 nakshatras per gana and per nadi.
        for g in [Gana::Deva, Gana::Manushya, Gana::Rakshasa] {
            assert_eq!(
                Nakshatra::ALL.iter().filter(|&&n| gana_of(n) == g).count(),
                9
            );
        }
        for d in [Nadi::Adi, Nadi::Madhya, Nadi::Antya] {
            assert_eq!(
                Nakshatra::ALL.iter().filter(|&&n| nadi_of(n) == d).count(),
                9
            );
        }
        assert_eq!(nadi_of(Nakshatra::Revati), Nadi::Antya);
        assert_eq!(nadi_of(Nakshatra::Shatabhisha), Nadi::Adi);
        assert_eq!(gana_of(Nakshatra::Mula), Gana::Rakshasa);
    }

    #[test]
    fn maitri_matches_published_table() {
        // PyJHora raasi_adhipathi_array (Sun, Moon, Mars, Mercury, Jupiter,
        // Venus, Saturn), the standard graha maitri table.
        let table: [[f64; 7]; 7] = [
            [5.0, 5.0, 5.0, 4.0, 5.0, 0.0, 0.0],
            [5.0, 5.0, 4.0, 1.0, 4.0, 0.5, 0.5],
            [5.0, 4.0, 5.0, 0.5, 5.0, 3.0, 0.5],
            [4.0, 1.0, 0.5, 5.0, 0.5, 5.0, 4.0],
            [5.0, 4.0, 5.0, 0.5, 5.0, 0.5, 3.0],
            [0.0, 0.5, 3.0, 5.0, 0.5, 5.0, 5.0],
            [0.0, 0.5, 0.5, 4.0, 3.0, 5.0, 5.0],
        ];
        for (i, row) in table.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                assert_eq!(
                    maitri_points(Graha::SEVEN[i], Graha::SEVEN[j]),
                    *v,
                    "{i} {j}"
                );
            }
        }
    }

    #[test]
    fn same_nakshatra_example() {
        // Both Ashwini pada 1 (Aries): varna 1, vashya 2, tara 3 (janma
        // both ways), yoni 4, maitri 5, gana 6, bhakoot 7, nadi 0 => 28.
        let r = ashtakoota(1.0, 2.0);
        let scores: Vec<f64> = r.kootas.iter().map(|k| k.score).collect();
        assert_eq!(scores, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.0]);
        assert_eq!(r.total, 28.0);
        assert!(r.nadi_dosha && !r.bhakoot_dosha);
    }

    #[test]
    fn worked_example() {
        // Boy: Moon in Rohini pada 2 (Taurus, ~42.5°); girl: Moon in
        // Magha pada 1 (Leo, ~121.7°). Hand computation from the tables:
        //   Varna: boy Taurus Vaishya, girl Leo Kshatriya -> 0
        //   Vashya: boy Chatushpada, girl Vanachara -> 0.5
        //   Tara: girl Magha(9) -> boy Rohini(3): count 22 -> 4 Kshema good;
        //         boy Rohini -> girl Magha: count 7 -> Naidhana bad -> 1.5
        //   Yoni: Serpent vs Rat -> 1
        //   Maitri: Venus vs Sun -> mutual enemies 0
        //   Gana: boy Manushya, girl Rakshasa -> 0
        //   Bhakoot: Leo from Taurus is 4th (4/10) -> 7
        //   Nadi: Rohini Antya, Magha Antya -> 0 (Nadi dosha)
        //   total 10.
        let r = ashtakoota_from_nakshatra(Nakshatra::Rohini, 2, Nakshatra::Magha, 1);
        assert_eq!(r.boy.rashi, Rashi::Vrishabha);
        assert_eq!(r.girl.rashi, Rashi::Simha);
        let scores: Vec<f64> = r.kootas.iter().map(|k| k.score).collect();
        assert_eq!(scores, vec![0.0, 0.5, 1.5, 1.0, 0.0, 0.0, 7.0, 0.0]);
        assert_eq!(r.total, 10.0);
        assert!(r.nadi_dosha);
        assert!(r.gana_dosha);
    }

    #[test]
    fn asymmetric_kootas() {
        // Varna: boy Brahmin (Cancer), girl Shudra (Gemini) -> 1; swapped -> 0.
        let a = ashtakoota(95.0, 65.0);
        let b = ashtakoota(65.0, 95.0);
        assert_eq!(a.kootas[0].score, 1.0);
        assert_eq!(b.kootas[0].score, 0.0);
        // Gana: girl Deva (Ashwini), boy Manushya (Bharani) 6; swapped 5.
        let a = ashtakoota_from_nakshatra(Nakshatra::Bharani, 1, Nakshatra::Ashwini, 1);
        let b = ashtakoota_from_nakshatra(Nakshatra::Ashwini, 1, Nakshatra::Bharani, 1);
        assert_eq!(a.kootas[5].score, 6.0);
        assert_eq!(b.kootas[5].score, 5.0);
        // Bhakoot 6/8: Aries and Virgo.
        let r = ashtakoota(10.0, 160.0);
        assert!(r.bhakoot_dosha);
        assert_eq!(r.kootas[6].score, 0.0);
        assert_eq!(tara(Nakshatra::Ashwini, Nakshatra::Ashwini), 1);
        assert_eq!(tara(Nakshatra::Ashwini, Nakshatra::Revati), 9);
        assert_eq!(tara(Nakshatra::Revati, Nakshatra::Ashwini), 2);
    }
}
