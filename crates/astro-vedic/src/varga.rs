//! Divisional charts (vargas) by the Parashari rules of BPHS ch. 6-7.
//!
//! Every varga `Dn` divides each sign into `n` parts (equal parts except
//! D30) and maps the part to a sign. With `s` = the sign (0 = Aries) and
//! `p` = the 0-based part, the rules are (BPHS ch. 6 v. 5-41; the same
//! choices as Jagannatha Hora's default "Parasara" vargas and PyJHora's
//! default methods):
//!
//! | varga | part | rule |
//! |---|---|---|
//! | D1 Rashi | 30° | the sign itself |
//! | D2 Hora | 15° | Parashari hora: odd sign: 1st half Sun (Leo), 2nd half Moon (Cancer); even sign: 1st half Moon (Cancer), 2nd half Sun (Leo) |
//! | D3 Drekkana | 10° | Parashari: 1st, 5th, 9th sign from the sign |
//! | D4 Chaturthamsha | 7°30' | 1st, 4th, 7th, 10th from the sign |
//! | D7 Saptamsha | 30°/7 | odd sign: counted from the sign; even sign: from the 7th |
//! | D9 Navamsha | 3°20' | movable: from the sign; fixed: from the 9th; dual: from the 5th (= fire from Aries, earth from Capricorn, air from Libra, water from Cancer) |
//! | D10 Dashamsha | 3° | odd: from the sign; even: from the 9th |
//! | D12 Dwadashamsha | 2°30' | from the sign |
//! | D16 Shodashamsha | 1°52'30" | movable: from Aries; fixed: from Leo; dual: from Sagittarius |
//! | D20 Vimshamsha | 1°30' | movable: from Aries; fixed: from Sagittarius; dual: from Leo |
//! | D24 Chaturvimshamsha (Siddhamsha) | 1°15' | odd: from Leo; even: from Cancer |
//! | D27 Saptavimshamsha (Bhamsha) | 30°/27 | fire: from Aries; earth: from Cancer; air: from Libra; water: from Capricorn |
//! | D30 Trimshamsha | unequal | odd: 0-5 Aries (Mars), 5-10 Aquarius (Saturn), 10-18 Sagittarius (Jupiter), 18-25 Gemini (Mercury), 25-30 Libra (Venus); even: 0-5 Taurus (Venus), 5-12 Virgo (Mercury), 12-20 Pisces (Jupiter), 20-25 Capricorn (Saturn), 25-30 Scorpio (Mars) |
//! | D40 Khavedamsha | 45' | odd: from Aries; even: from Libra |
//! | D45 Akshavedamsha | 40' | movable: from Aries; fixed: from Leo; dual: from Sagittarius |
//! | D60 Shashtiamsha | 30' | from the sign itself |
//!
//! Part boundaries belong to the following part (`floor`).

use serde::{Deserialize, Serialize};

use crate::types::{clamp_index, norm_deg, Modality, Rashi};

/// The supported divisional charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Varga {
    D1,
    D2,
    D3,
    D4,
    D7,
    D9,
    D10,
    D12,
    D16,
    D20,
    D24,
    D27,
    D30,
    D40,
    D45,
    D60,
}

impl Varga {
    /// All supported vargas.
    pub const ALL: [Varga; 16] = [
        Varga::D1,
        Varga::D2,
        Varga::D3,
        Varga::D4,
        Varga::D7,
        Varga::D9,
        Varga::D10,
        Varga::D12,
        Varga::D16,
        Varga::D20,
        Varga::D24,
        Varga::D27,
        Varga::D30,
        Varga::D40,
        Varga::D45,
        Varga::D60,
    ];

    /// Number of divisions of a sign.
    #[must_use]
    pub const fn divisions(self) -> usize {
        match self {
            Varga::D1 => 1,
            Varga::D2 => 2,
            Varga::D3 => 3,
            Varga::D4 => 4,
            Varga::D7 => 7,
            Varga::D9 => 9,
            Varga::D10 => 10,
            Varga::D12 => 12,
            Varga::D16 => 16,
            Varga::D20 => 20,
            Varga::D24 => 24,
            Varga::D27 => 27,
            Varga::D30 => 30,
            Varga::D40 => 40,
            Varga::D45 => 45,
            Varga::D60 => 60,
        }
    }

    /// Varga of a division count, if supported.
    #[must_use]
    pub fn from_divisions(n: usize) -> Option<Varga> {
        Varga::ALL.iter().copied().find(|v| v.divisions() == n)
    }

    /// Sanskrit name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Varga::D1 => "Rashi",
            Varga::D2 => "Hora",
            Varga::D3 => "Drekkana",
            Varga::D4 => "Chaturthamsha",
            Varga::D7 => "Saptamsha",
            Varga::D9 => "Navamsha",
            Varga::D10 => "Dashamsha",
            Varga::D12 => "Dwadashamsha",
            Varga::D16 => "Shodashamsha",
            Varga::D20 => "Vimshamsha",
            Varga::D24 => "Chaturvimshamsha",
            Varga::D27 => "Saptavimshamsha",
            Varga::D30 => "Trimshamsha",
            Varga::D40 => "Khavedamsha",
            Varga::D45 => "Akshavedamsha",
            Varga::D60 => "Shashtiamsha",
        }
    }
}

/// Position in a varga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VargaPosition {
    pub varga: Varga,
    /// Sign in the varga.
    pub sign: Rashi,
    /// 0-based sign index.
    pub sign_index: u8,
    /// 1-based part (amsha) within the natal sign (D30: 1..=5 for the five
    /// unequal parts).
    pub part: u8,
}

/// D30 boundaries (degrees) and signs for odd signs.
const D30_ODD: [(f64, Rashi); 5] = [
    (5.0, Rashi::Mesha),
    (10.0, Rashi::Kumbha),
    (18.0, Rashi::Dhanu),
    (25.0, Rashi::Mithuna),
    (30.0, Rashi::Tula),
];
/// D30 boundaries (degrees) and signs for even signs.
const D30_EVEN: [(f64, Rashi); 5] = [
    (5.0, Rashi::Vrishabha),
    (12.0, Rashi::Kanya),
    (20.0, Rashi::Meena),
    (25.0, Rashi::Makara),
    (30.0, Rashi::Vrischika),
];

/// Sign and part of a sidereal longitude in a varga.
#[must_use]
pub fn varga_position(lon: f64, varga: Varga) -> VargaPosition {
    let l = norm_deg(lon);
    let sign = Rashi::from_longitude(l);
    let s = sign.index();
    let deg = (l - s as f64 * 30.0).clamp(0.0, 30.0);
    let n = varga.divisions();
    if varga == Varga::D30 {
        let table = if sign.is_odd() { &D30_ODD } else { &D30_EVEN };
        let mut idx = 4;
        for (i, (end, _)) in table.iter().enumerate() {
            if deg < *end {
                idx = i;
                break;
            }
        }
        let out = table[idx].1;
        return VargaPosition {
            varga,
            sign: out,
            sign_index: out.index() as u8,
            part: (idx + 1) as u8,
        };
    }
    let p = clamp_index(deg * n as f64 / 30.0, n - 1);
    let odd = sign.is_odd();
    let start: usize = match varga {
        Varga::D1 => s,
        Varga::D2 => {
            // Leo = 4, Cancer = 3.
            let sun_first = odd;
            let sun = (p == 0) == sun_first;
            let out = if sun { 4 } else { 3 };
            return pos(varga, out, p);
        }
        Varga::D3 => return pos(varga, s + 4 * p, p),
        Varga::D4 => return pos(varga, s + 3 * p, p),
        Varga::D7 => {
            if odd {
                s
            } else {
                s + 6
            }
        }
        Varga::D9 => match sign.modality() {
            Modality::Movable => s,
            Modality::Fixed => s + 8,
            Modality::Dual => s + 4,
        },
        Varga::D10 => {
            if odd {
                s
            } else {
                s + 8
            }
        }
        Varga::D12 | Varga::D60 => s,
        Varga::D16 | Varga::D45 => match sign.modality() {
            Modality::Movable => 0,
            Modality::Fixed => 4,
            Modality::Dual => 8,
        },
        Varga::D20 => match sign.modality() {
            Modality::Movable => 0,
            Modality::Fixed => 8,
            Modality::Dual => 4,
        },
        Varga::D24 => {
            if odd {
                4
            } else {
                3
            }
        }
        Varga::D27 => match sign.element() {
            crate::types::Element::Fire => 0,
            crate::types::Element::Earth => 3,
            crate::types::Element::Air => 6,
            crate::types::Element::Water => 9,
        },
        Varga::D40 => {
            if odd {
                0
            } else {
                6
            }
        }
        Varga::D30 => s, // handled above
    };
    pos(varga, start + p, p)
}

fn pos(varga: Varga, sign: usize, p: usize) -> VargaPosition {
    let r = Rashi::from_index(sign);
    VargaPosition {
        varga,
        sign: r,
        sign_index: r.index() as u8,
        part: (p + 1) as u8,
    }
}

/// Sign of a sidereal longitude in a varga.
#[must_use]
pub fn varga_sign(lon: f64, varga: Varga) -> Rashi {
    varga_position(lon, varga).sign
}

/// One graha's position in a varga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GrahaVarga {
    pub graha: crate::types::Graha,
    pub position: VargaPosition,
}

/// A whole divisional chart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VargaChart {
    pub varga: Varga,
    /// Varga position of the ascendant.
    pub ascendant: VargaPosition,
    /// The nine grahas in [`crate::Graha::ALL`] order.
    pub grahas: Vec<GrahaVarga>,
}

/// Divisional chart of a whole [`crate::ChartInput`].
#[must_use]
pub fn varga_chart(input: &crate::chart::ChartInput, varga: Varga) -> VargaChart {
    VargaChart {
        varga,
        ascendant: varga_position(input.ascendant, varga),
        grahas: crate::types::Graha::ALL
            .iter()
            .map(|&g| GrahaVarga {
                graha: g,
                position: varga_position(input.lon(g), varga),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_positions() {
        // Navamsa: 0° Aries -> Aries; 5° Taurus (35°) -> 2nd navamsa from
        // Capricorn = Aquarius; 29° Gemini (89°) -> 9th from Libra = Gemini.
        assert_eq!(varga_sign(0.0, Varga::D9), Rashi::Mesha);
        assert_eq!(varga_sign(35.0, Varga::D9), Rashi::Kumbha);
        assert_eq!(varga_sign(89.0, Varga::D9), Rashi::Mithuna);
        // Vargottama example: 1° Cancer (91°) -> Cancer.
        assert_eq!(varga_sign(91.0, Varga::D9), Rashi::Karka);
        // Hora: 10° Aries -> Leo; 20° Aries -> Cancer; 10° Taurus -> Cancer.
        assert_eq!(varga_sign(10.0, Varga::D2), Rashi::Simha);
        assert_eq!(varga_sign(20.0, Varga::D2), Rashi::Karka);
        assert_eq!(varga_sign(40.0, Varga::D2), Rashi::Karka);
        assert_eq!(varga_sign(50.0, Varga::D2), Rashi::Simha);
        // Drekkana: 25° Leo -> Aries (9th from Leo).
        assert_eq!(varga_sign(145.0, Varga::D3), Rashi::Mesha);
        // Dashamsha: 4° Taurus -> 2nd from Capricorn (9th from Taurus) = Aquarius.
        assert_eq!(varga_sign(34.0, Varga::D10), Rashi::Kumbha);
        // Trimshamsha: 7° Aries -> Aquarius; 7° Taurus -> Virgo; 29° Taurus -> Scorpio.
        assert_eq!(varga_sign(7.0, Varga::D30), Rashi::Kumbha);
        assert_eq!(varga_sign(37.0, Varga::D30), Rashi::Kanya);
        assert_eq!(varga_sign(59.0, Varga::D30), Rashi::Vrischika);
        // Saptamsha: 1° Taurus -> Scorpio.
        assert_eq!(varga_sign(31.0, Varga::D7), Rashi::Vrischika);
        // D60: 29.9° Aries -> 60th from Aries = Pisces.
        assert_eq!(varga_sign(29.9, Varga::D60), Rashi::Meena);
        assert_eq!(varga_position(29.9, Varga::D60).part, 60);
        // D16 of Leo (fixed) starts from Leo.
        assert_eq!(varga_sign(120.5, Varga::D16), Rashi::Simha);
        // D20 of Taurus (fixed) starts from Sagittarius.
        assert_eq!(varga_sign(30.5, Varga::D20), Rashi::Dhanu);
        // D24 of Taurus (even) starts from Cancer.
        assert_eq!(varga_sign(30.5, Varga::D24), Rashi::Karka);
        // D27 of Taurus (earth) from Cancer.
        assert_eq!(varga_sign(30.5, Varga::D27), Rashi::Karka);
        // D40 of Taurus (even) from Libra.
        assert_eq!(varga_sign(30.5, Varga::D40), Rashi::Tula);
        assert_eq!(Varga::from_divisions(45), Some(Varga::D45));
        assert_eq!(Varga::from_divisions(8), None);
        let c = crate::ChartInput::from_longitudes([35.0; 9], 89.0);
        let vc = varga_chart(&c, Varga::D9);
        assert_eq!(vc.ascendant.sign, Rashi::Mithuna);
        assert_eq!(vc.grahas.len(), 9);
        assert!(vc.grahas.iter().all(|g| g.position.sign == Rashi::Kumbha));
    }
}
