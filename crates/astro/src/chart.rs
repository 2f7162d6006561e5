//! A full birth chart: positions, angles, houses and the Vedic quantities.

use astro_vedic::{dasha_balance, DashaBalance, NakshatraPada};
use serde::{Deserialize, Serialize};

use crate::ayanamsa::{mean_ayanamsa, mean_ayanamsa_rate, Ayanamsa};
use crate::ephem::{pluto_valid, Apparent, Body, Epoch};
use crate::houses::{self, HouseError, HouseSystem};
use crate::math::{norm360, DEG};
use crate::time::gmst;

/// Lunar node model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Mean node (default; PyJHora / Jagannatha Hora convention).
    #[default]
    Mean,
    /// True (osculating) node.
    True,
}

/// Tropical or sidereal longitudes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Zodiac {
    /// Sidereal, with [`ChartOptions::ayanamsa`] (default).
    #[default]
    Sidereal,
    /// Tropical (true equinox of date).
    Tropical,
}

/// Options of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChartOptions {
    /// Sidereal or tropical.
    pub zodiac: Zodiac,
    /// Ayanamsa for the sidereal zodiac (default Lahiri, true ayanamsa).
    pub ayanamsa: Ayanamsa,
    /// Which node is `rahu`/`ketu` (default mean).
    pub node: NodeKind,
    /// House system of `houses.cusps` (default whole sign).
    pub house_system: HouseSystem,
    /// Also compute Uranus, Neptune and (1885-2099 only) Pluto.
    pub outer_planets: bool,
}

/// Position of a graha.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GrahaPosition {
    /// Longitude, degrees `[0, 360)`.
    pub lon: f64,
    /// Ecliptic latitude, degrees.
    pub lat: f64,
    /// Longitude speed, degrees/day.
    pub speed: f64,
    /// Speed < 0.
    pub retrograde: bool,
    /// Sign index 0 (Mesha) .. 11 (Meena).
    pub sign: u8,
    /// Nakshatra index 0 (Ashwini) .. 26 (Revati).
    pub nakshatra: u8,
    /// Pada 1..4.
    pub pada: u8,
}

impl GrahaPosition {
    fn new(lon: f64, lat: f64, speed: f64) -> GrahaPosition {
        let lon = norm360(lon);
        let np = NakshatraPada::from_longitude(lon);
        GrahaPosition {
            lon,
            lat,
            speed,
            retrograde: speed < 0.0,
            sign: sign_of(lon),
            nakshatra: np.index,
            pada: np.pada,
        }
    }

    /// The opposite point (Ketu from Rahu): +180°, latitude negated, same speed.
    pub fn opposite(&self) -> GrahaPosition {
        GrahaPosition::new(self.lon + 180.0, -self.lat, self.speed)
    }
}

fn sign_of(lon: f64) -> u8 {
    astro_vedic::Rashi::from_longitude(lon).index() as u8
}

/// The grahas (and optional outer planets).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Grahas {
    /// Sun.
    pub sun: GrahaPosition,
    /// Moon.
    pub moon: GrahaPosition,
    /// Mercury.
    pub mercury: GrahaPosition,
    /// Venus.
    pub venus: GrahaPosition,
    /// Mars.
    pub mars: GrahaPosition,
    /// Jupiter.
    pub jupiter: GrahaPosition,
    /// Saturn.
    pub saturn: GrahaPosition,
    /// Rahu: the node chosen in the options.
    pub rahu: GrahaPosition,
    /// Ketu, opposite Rahu.
    pub ketu: GrahaPosition,
    /// Mean node.
    pub mean_rahu: GrahaPosition,
    /// Opposite the mean node.
    pub mean_ketu: GrahaPosition,
    /// True (osculating) node.
    pub true_rahu: GrahaPosition,
    /// Opposite the true node.
    pub true_ketu: GrahaPosition,
    /// Uranus (with `outer_planets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uranus: Option<GrahaPosition>,
    /// Neptune (with `outer_planets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neptune: Option<GrahaPosition>,
    /// Pluto (with `outer_planets`), from Meeus' series (Astronomical
    /// Algorithms ch. 37), which is valid only for the years 1885-2099 (TT,
    /// [`crate::ephem::PLUTO_JD_TT_RANGE`]): `None` outside them, even with
    /// `outer_planets` (the rest of the chart is still computed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pluto: Option<GrahaPosition>,
}

/// An angle of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChartAngle {
    /// Longitude, degrees.
    pub lon: f64,
    /// Sign index.
    pub sign: u8,
    /// Nakshatra index.
    pub nakshatra: u8,
    /// Pada 1..4.
    pub pada: u8,
}

impl ChartAngle {
    fn new(lon: f64) -> ChartAngle {
        let lon = norm360(lon);
        let np = NakshatraPada::from_longitude(lon);
        ChartAngle {
            lon,
            sign: sign_of(lon),
            nakshatra: np.index,
            pada: np.pada,
        }
    }
}

/// House cusps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Houses {
    /// The system of `cusps`.
    pub system: HouseSystem,
    /// Cusps 1..12 of the chosen system, degrees.
    pub cusps: [f64; 12],
    /// Whole-sign cusps (sign starts), degrees.
    pub whole_sign: [f64; 12],
    /// Placidus cusps, `None` where Placidus is undefined (polar latitudes).
    pub placidus: Option<[f64; 12]>,
}

/// Tithi at the instant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TithiAt {
    /// 1..30 (1-15 shukla, 16-30 krishna).
    pub index: u8,
    /// `(moon - sun) mod 360`, degrees.
    pub elongation: f64,
}

/// A computed chart. Longitudes are sidereal unless `options.zodiac` is tropical.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// Options used.
    pub options: ChartOptions,
    /// Julian day, UT.
    pub jd_ut: f64,
    /// Julian day, TT.
    pub jd_tt: f64,
    /// Delta-T, seconds.
    pub delta_t_s: f64,
    /// True ayanamsa (degrees; 0 for tropical charts).
    pub ayanamsa: f64,
    /// Mean ayanamsa (degrees; 0 for tropical charts).
    pub ayanamsa_mean: f64,
    /// Geographic latitude, degrees.
    pub latitude: f64,
    /// Geographic longitude, degrees east.
    pub longitude: f64,
    /// Local apparent sidereal time, degrees.
    pub armc: f64,
    /// True obliquity, degrees.
    pub obliquity: f64,
    /// Positions.
    pub grahas: Grahas,
    /// Ascendant.
    pub ascendant: ChartAngle,
    /// Midheaven.
    pub mc: ChartAngle,
    /// Houses.
    pub houses: Houses,
    /// The Moon's nakshatra and pada.
    pub nakshatra: NakshatraPada,
    /// Vimshottari dasha balance at birth.
    pub dasha: DashaBalance,
    /// Tithi at the instant.
    pub tithi: TithiAt,
}

/// Errors of chart computation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChartError {
    /// Latitude out of range.
    #[error("latitude {0} is outside [-90, 90]")]
    Latitude(f64),
    /// Longitude out of range.
    #[error("longitude {0} is outside [-180, 360]")]
    Longitude(f64),
    /// Instant not finite or far outside the theories' range.
    #[error("Julian day {0} is outside the supported range (years 1000-3000)")]
    Instant(f64),
    /// House computation failed (only for the chosen system).
    #[error(transparent)]
    Houses(#[from] HouseError),
}

/// Range of Julian days accepted (years ~1000 to ~3000; accuracy is
/// specified for 1900-2050).
pub const JD_RANGE: (f64, f64) = (2_086_302.5, 2_816_787.5);

/// Compute a chart for a UT instant (Julian day) and a place (degrees, east
/// and north positive).
pub fn compute_chart(
    jd_ut: f64,
    lat: f64,
    lon: f64,
    options: &ChartOptions,
) -> Result<Chart, ChartError> {
    if !(jd_ut.is_finite() && jd_ut > JD_RANGE.0 && jd_ut < JD_RANGE.1) {
        return Err(ChartError::Instant(jd_ut));
    }
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        return Err(ChartError::Latitude(lat));
    }
    if !(lon.is_finite() && (-180.0..=360.0).contains(&lon)) {
        return Err(ChartError::Longitude(lon));
    }
    let ep = Epoch::new(jd_ut);
    let dpsi = ep.nut.dpsi / DEG;
    let dpsi_rate = ep.nut.dpsi_rate / DEG;
    // subtract `off_mean` from mean-equinox longitudes, `off_true` from true-equinox ones
    let (ayan_mean, ayan_rate) = match options.zodiac {
        Zodiac::Sidereal => (
            mean_ayanamsa(options.ayanamsa, ep.t),
            mean_ayanamsa_rate(options.ayanamsa, ep.t),
        ),
        Zodiac::Tropical => (0.0, 0.0),
    };
    let (off_mean, off_rate) = match options.zodiac {
        Zodiac::Sidereal => (ayan_mean, ayan_rate),
        Zodiac::Tropical => (-dpsi, -dpsi_rate),
    };
    let off_true = off_mean + dpsi;
    let pos = |a: Apparent| {
        GrahaPosition::new(
            a.lon / DEG - off_mean,
            a.lat / DEG,
            a.lon_rate / DEG - off_rate,
        )
    };
    let sun_app = ep.apparent(Body::Sun);
    let moon_app = ep.apparent(Body::Moon);
    let sun = pos(sun_app);
    let moon = pos(moon_app);
    let (mn, mn_rate) = ep.mean_node();
    let mean_rahu = GrahaPosition::new(mn / DEG - off_mean, 0.0, mn_rate / DEG - off_rate);
    let (tn, tn_rate) = ep.true_node();
    let true_rahu = GrahaPosition::new(tn / DEG - off_mean, 0.0, tn_rate / DEG - off_rate);
    let rahu = match options.node {
        NodeKind::Mean => mean_rahu,
        NodeKind::True => true_rahu,
    };
    let grahas = Grahas {
        sun,
        moon,
        mercury: pos(ep.apparent(Body::Mercury)),
        venus: pos(ep.apparent(Body::Venus)),
        mars: pos(ep.apparent(Body::Mars)),
        jupiter: pos(ep.apparent(Body::Jupiter)),
        saturn: pos(ep.apparent(Body::Saturn)),
        rahu,
        ketu: rahu.opposite(),
        mean_rahu,
        mean_ketu: mean_rahu.opposite(),
        true_rahu,
        true_ketu: true_rahu.opposite(),
        uranus: options
            .outer_planets
            .then(|| pos(ep.apparent(Body::Uranus))),
        neptune: options
            .outer_planets
            .then(|| pos(ep.apparent(Body::Neptune))),
        pluto: (options.outer_planets && pluto_valid(ep.jd_tt))
            .then(|| pos(ep.apparent(Body::Pluto))),
    };

    // angles: apparent sidereal time, true obliquity
    let gast = gmst(jd_ut, ep.t) + ep.nut.dpsi * ep.eps_mean.cos();
    let armc = (gast + lon * DEG).rem_euclid(std::f64::consts::TAU);
    let phi = lat * DEG;
    let (asc_t, mc_t) = houses::angles(armc, ep.eps_true, phi);
    let asc = norm360(asc_t - off_true);
    let mc = norm360(mc_t - off_true);
    let placidus = houses::placidus(armc, ep.eps_true, phi, asc_t, mc_t)
        .map(|c| c.map(|x| norm360(x - off_true)));
    let whole_sign = houses::whole_sign(asc);
    let cusps = match options.house_system {
        HouseSystem::WholeSign => whole_sign,
        HouseSystem::Equal => houses::equal(asc),
        HouseSystem::Placidus => placidus.clone()?,
        HouseSystem::Porphyry => houses::porphyry(asc_t, mc_t).map(|x| norm360(x - off_true)),
        HouseSystem::Sripati => houses::sripati(asc_t, mc_t).map(|x| norm360(x - off_true)),
    };
    let tithi = TithiAt {
        index: astro_vedic::tithi_index(sun.lon, moon.lon),
        elongation: astro_vedic::panchang::elongation(sun.lon, moon.lon),
    };
    Ok(Chart {
        options: *options,
        jd_ut,
        jd_tt: ep.jd_tt,
        delta_t_s: ep.delta_t,
        ayanamsa: if options.zodiac == Zodiac::Sidereal {
            ayan_mean + dpsi
        } else {
            0.0
        },
        ayanamsa_mean: ayan_mean,
        latitude: lat,
        longitude: lon,
        armc: armc / DEG,
        obliquity: ep.eps_true / DEG,
        grahas,
        ascendant: ChartAngle::new(asc),
        mc: ChartAngle::new(mc),
        houses: Houses {
            system: options.house_system,
            cusps,
            whole_sign,
            placidus: placidus.ok(),
        },
        nakshatra: NakshatraPada::from_longitude(moon.lon),
        dasha: dasha_balance(moon.lon),
        tithi,
    })
}
