//! Per-graha and ascendant analysis of a chart (rashi, nakshatra, pada,
//! dignity, retrograde, combust, whole-sign house).
//!
//! # Conventions
//!
//! * Houses are **whole-sign** from the lagna (house 1 = the ascendant's
//!   sign), the default of Parashari practice and of Jagannatha Hora's rashi
//!   chart.
//! * Retrograde = `speed < 0`. With [`NodeKind::Mean`] Rahu and Ketu are
//!   always retrograde (the mean node always moves backwards); with
//!   [`NodeKind::True`] the speed decides, like for other grahas. The Sun
//!   and the Moon are never retrograde (their speed is always positive).
//! * Dignity uses compound (natural + temporal) friendship with the sign
//!   lord, the lord's position taken from the same chart (see
//!   [`crate::dignity`](mod@crate::dignity)).
//! * Combustion uses the orbs in [`crate::dignity::combustion_orb`], with
//!   the reduced orbs for retrograde Mercury and Venus.

use serde::{Deserialize, Serialize};

use crate::dignity::{dignity, is_combust, Dignity};
use crate::types::{norm_deg, Graha, Nakshatra, NakshatraPada, Rashi, SignPosition};

/// Which lunar node the chart's Rahu/Ketu are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Mean node (default of Jagannatha Hora/PyJHora and of the reference data).
    #[default]
    Mean,
    /// True (osculating) node.
    True,
}

/// Sidereal longitude and speed of one graha.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GrahaState {
    /// Sidereal longitude, degrees.
    pub longitude: f64,
    /// Speed in longitude, degrees/day.
    pub speed: f64,
}

/// Input of a chart: the nine grahas (indexed by [`Graha::index`]) and the
/// ascendant.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ChartInput {
    /// Sun, Moon, Mars, Mercury, Jupiter, Venus, Saturn, Rahu, Ketu.
    pub grahas: [GrahaState; 9],
    /// Sidereal ascendant longitude, degrees.
    pub ascendant: f64,
    /// Mean or true node.
    pub node_kind: NodeKind,
}

impl ChartInput {
    /// Chart from longitudes only (speeds 0, mean node); handy for yogas
    /// and tests.
    #[must_use]
    pub fn from_longitudes(longitudes: [f64; 9], ascendant: f64) -> ChartInput {
        let mut grahas = [GrahaState::default(); 9];
        for (s, l) in grahas.iter_mut().zip(longitudes) {
            s.longitude = l;
        }
        ChartInput {
            grahas,
            ascendant,
            node_kind: NodeKind::Mean,
        }
    }

    /// Builder: set one graha.
    #[must_use]
    pub fn with(mut self, g: Graha, longitude: f64, speed: f64) -> ChartInput {
        self.grahas[g.index()] = GrahaState { longitude, speed };
        self
    }

    /// Longitude of a graha (normalised).
    #[must_use]
    pub fn lon(&self, g: Graha) -> f64 {
        norm_deg(self.grahas[g.index()].longitude)
    }

    /// Sign of a graha.
    #[must_use]
    pub fn sign(&self, g: Graha) -> Rashi {
        Rashi::from_longitude(self.lon(g))
    }

    /// Sign of the ascendant.
    #[must_use]
    pub fn lagna(&self) -> Rashi {
        Rashi::from_longitude(self.ascendant)
    }

    /// Whole-sign house (1..=12) of a graha from the lagna.
    #[must_use]
    pub fn house(&self, g: Graha) -> usize {
        self.lagna().house_of(self.sign(g))
    }

    /// Retrograde flag for a graha under this chart's node convention.
    #[must_use]
    pub fn is_retrograde(&self, g: Graha) -> bool {
        match g {
            Graha::Sun | Graha::Moon => false,
            Graha::Rahu | Graha::Ketu if self.node_kind == NodeKind::Mean => true,
            _ => self.grahas[g.index()].speed < 0.0,
        }
    }
}

/// Analysis of one graha.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrahaPosition {
    pub graha: Graha,
    /// Sidereal longitude, degrees `[0, 360)`.
    pub longitude: f64,
    /// Speed, degrees/day.
    pub speed: f64,
    pub sign: Rashi,
    /// 0 = Mesha .. 11 = Meena.
    pub sign_index: u8,
    /// Degrees within the sign.
    pub degree: f64,
    pub nakshatra: Nakshatra,
    /// 0 = Ashwini .. 26 = Revati.
    pub nakshatra_index: u8,
    /// 1..=4.
    pub pada: u8,
    pub nakshatra_lord: Graha,
    /// Whole-sign house from the lagna, 1..=12.
    pub house: u8,
    pub dignity: Dignity,
    pub retrograde: bool,
    pub combust: bool,
}

/// Analysis of the ascendant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagnaPosition {
    pub longitude: f64,
    pub sign: Rashi,
    pub sign_index: u8,
    pub degree: f64,
    pub nakshatra: Nakshatra,
    pub nakshatra_index: u8,
    pub pada: u8,
    pub nakshatra_lord: Graha,
    /// Lord of the lagna sign.
    pub sign_lord: Graha,
}

/// Analysis of a whole chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartAnalysis {
    pub ascendant: LagnaPosition,
    /// In [`Graha::ALL`] order.
    pub grahas: Vec<GrahaPosition>,
    pub node_kind: NodeKind,
}

impl ChartAnalysis {
    /// Position of one graha.
    #[must_use]
    pub fn graha(&self, g: Graha) -> Option<&GrahaPosition> {
        self.grahas.iter().find(|p| p.graha == g)
    }
}

/// Analyse the ascendant alone.
#[must_use]
pub fn analyze_lagna(ascendant: f64) -> LagnaPosition {
    let lon = norm_deg(ascendant);
    let sp = SignPosition::from_longitude(lon);
    let np = NakshatraPada::from_longitude(lon);
    LagnaPosition {
        longitude: lon,
        sign: sp.sign,
        sign_index: sp.sign_index,
        degree: sp.degree,
        nakshatra: np.nakshatra,
        nakshatra_index: np.index,
        pada: np.pada,
        nakshatra_lord: np.lord,
        sign_lord: sp.sign.lord(),
    }
}

/// Analyse every graha and the ascendant.
#[must_use]
pub fn analyze_chart(input: &ChartInput) -> ChartAnalysis {
    let sun = input.lon(Graha::Sun);
    let lagna = input.lagna();
    let grahas = Graha::ALL
        .iter()
        .map(|&g| {
            let lon = input.lon(g);
            let sp = SignPosition::from_longitude(lon);
            let np = NakshatraPada::from_longitude(lon);
            let retrograde = input.is_retrograde(g);
            let dispositor = sp.sign.lord();
            GrahaPosition {
                graha: g,
                longitude: lon,
                speed: input.grahas[g.index()].speed,
                sign: sp.sign,
                sign_index: sp.sign_index,
                degree: sp.degree,
                nakshatra: np.nakshatra,
                nakshatra_index: np.index,
                pada: np.pada,
                nakshatra_lord: np.lord,
                house: lagna.house_of(sp.sign) as u8,
                dignity: dignity(g, lon, Some(input.lon(dispositor))),
                retrograde,
                combust: is_combust(g, lon, sun, retrograde),
            }
        })
        .collect();
    ChartAnalysis {
        ascendant: analyze_lagna(input.ascendant),
        grahas,
        node_kind: input.node_kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_basics() {
        let input = ChartInput::from_longitudes(
            [10.0, 33.0, 200.0, 5.0, 95.0, 357.0, 20.0, 100.0, 280.0],
            292.005_380_8,
        )
        .with(Graha::Mercury, 5.0, -0.5)
        .with(Graha::Mars, 200.0, 0.6);
        let a = analyze_chart(&input);
        assert_eq!(a.ascendant.sign, Rashi::Makara);
        assert_eq!((a.ascendant.nakshatra_index, a.ascendant.pada), (21, 4));
        assert_eq!(a.ascendant.sign_lord, Graha::Saturn);
        let sun = a.graha(Graha::Sun).cloned();
        let sun = sun.map(|s| (s.dignity, s.house, s.combust));
        assert_eq!(sun, Some((Dignity::Exalted, 4, false)));
        let me = a.graha(Graha::Mercury).map(|p| (p.retrograde, p.combust));
        // Retrograde Mercury 5° from the Sun: orb 12°, combust.
        assert_eq!(me, Some((true, true)));
        let rahu = a.graha(Graha::Rahu).map(|p| p.retrograde);
        assert_eq!(rahu, Some(true));
        let sat = a.graha(Graha::Saturn).map(|p| p.dignity);
        assert_eq!(sat, Some(Dignity::Debilitated));
        assert_eq!(a.grahas.len(), 9);
        let mut t = input;
        t.node_kind = NodeKind::True;
        t = t.with(Graha::Rahu, 100.0, 0.01);
        assert!(!t.is_retrograde(Graha::Rahu));
    }
}
