//! Dignities, friendships and combustion.
//!
//! # Conventions and sources
//!
//! * **Exaltation / debilitation** (BPHS ch. 3 v. 49-50; Saravali): deep
//!   exaltation Sun 10° Aries, Moon 3° Taurus, Mars 28° Capricorn, Mercury
//!   15° Virgo, Jupiter 5° Cancer, Venus 27° Pisces, Saturn 20° Libra;
//!   debilitation is the opposite point. For the nodes the BPHS verse used by
//!   Jagannatha Hora/PyJHora: Rahu exalted in Taurus, Ketu in Scorpio
//!   (debilitated in the opposite signs). Exaltation/debilitation is by
//!   **whole sign**, except where the moolatrikona range lies in the
//!   exaltation sign (Moon, Mercury), where BPHS splits the sign by degree.
//! * **Moolatrikona** (BPHS ch. 3 v. 51-54): Sun Leo 0-20°, Moon Taurus 3-30°
//!   (0-3° inclusive is exaltation), Mars Aries 0-12°, Mercury Virgo 15-20° (0-15°
//!   inclusive exaltation, 20-30° own), Jupiter Sagittarius 0-10°, Venus Libra 0-15°,
//!   Saturn Aquarius 0-20°; Rahu Gemini, Ketu Sagittarius (whole sign).
//! * **Own signs**: the Parashari lordships ([`Rashi::lord`]); Rahu Virgo,
//!   Ketu Pisces (BPHS ch. 3, as in PyJHora's default; some authors use
//!   Aquarius/Scorpio co-lordship instead).
//! * Precedence: exalted, debilitated, moolatrikona, own, then the
//!   compound (panchadha) friendship with the sign lord.
//! * **Natural friendship** (naisargika maitri, BPHS ch. 3 v. 55): the
//!   table in [`natural_relation`]. Nodes have no natural friendship in BPHS;
//!   by the maxims "Shanivat Rahu, Kujavat Ketu" Rahu takes Saturn's and
//!   Ketu takes Mars' relations when they are the *subject*. Relations
//!   *towards* a node are never needed (nodes own no sign here).
//! * **Temporal friendship** (tatkalika, BPHS ch. 3 v. 56): a graha in the
//!   2nd, 3rd, 4th, 10th, 11th or 12th sign from another is its temporal
//!   friend, otherwise its temporal enemy.
//! * **Compound friendship** (panchadha, BPHS ch. 3 v. 57-58): friend +
//!   friend = great friend; neutral + friend = friend; enemy + friend or
//!   friend + enemy = neutral; neutral + enemy = enemy; enemy + enemy = great
//!   enemy.
//! * **Combustion** (astangata) orbs in degrees of ecliptic longitude from
//!   the Sun (Surya Siddhanta ch. 9 kalamshas, as tabulated in PyJHora
//!   `const.combustion_range_of_planets_from_sun`): Moon 12, Mars 17,
//!   Mercury 14 (12 when retrograde), Jupiter 11, Venus 10 (8 when
//!   retrograde), Saturn 15. A graha is combust when its angular distance
//!   from the Sun is *less than or equal to* the orb. The Sun and the
//!   nodes are never combust.

use serde::{Deserialize, Serialize};

use crate::types::{norm_deg, Graha, Rashi, SignPosition};

/// Natural or temporal relation of one graha towards another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Friend,
    Neutral,
    Enemy,
}

/// Compound (panchadha) relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompoundRelation {
    GreatFriend,
    Friend,
    Neutral,
    Enemy,
    GreatEnemy,
}

/// Dignity of a graha in its sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dignity {
    Exalted,
    Debilitated,
    Moolatrikona,
    OwnSign,
    GreatFriend,
    Friend,
    Neutral,
    Enemy,
    GreatEnemy,
}

impl From<CompoundRelation> for Dignity {
    fn from(c: CompoundRelation) -> Dignity {
        match c {
            CompoundRelation::GreatFriend => Dignity::GreatFriend,
            CompoundRelation::Friend => Dignity::Friend,
            CompoundRelation::Neutral => Dignity::Neutral,
            CompoundRelation::Enemy => Dignity::Enemy,
            CompoundRelation::GreatEnemy => Dignity::GreatEnemy,
        }
    }
}

/// Exaltation sign and deep-exaltation degree within it (nodes: degree
/// `None`).
#[must_use]
pub const fn exaltation(g: Graha) -> (Rashi, Option<f64>) {
    match g {
        Graha::Sun => (Rashi::Mesha, Some(10.0)),
        Graha::Moon => (Rashi::Vrishabha, Some(3.0)),
        Graha::Mars => (Rashi::Makara, Some(28.0)),
        Graha::Mercury => (Rashi::Kanya, Some(15.0)),
        Graha::Jupiter => (Rashi::Karka, Some(5.0)),
        Graha::Venus => (Rashi::Meena, Some(27.0)),
        Graha::Saturn => (Rashi::Tula, Some(20.0)),
        Graha::Rahu => (Rashi::Vrishabha, None),
        Graha::Ketu => (Rashi::Vrischika, None),
    }
}

/// Debilitation sign (opposite the exaltation sign).
#[must_use]
pub const fn debilitation(g: Graha) -> Rashi {
    exaltation(g).0.nth(7)
}

/// Moolatrikona sign and degree range `[from, to)` within it.
#[must_use]
pub const fn moolatrikona(g: Graha) -> (Rashi, f64, f64) {
    match g {
        Graha::Sun => (Rashi::Simha, 0.0, 20.0),
        Graha::Moon => (Rashi::Vrishabha, 3.0, 30.0),
        Graha::Mars => (Rashi::Mesha, 0.0, 12.0),
        Graha::Mercury => (Rashi::Kanya, 15.0, 20.0),
        Graha::Jupiter => (Rashi::Dhanu, 0.0, 10.0),
        Graha::Venus => (Rashi::Tula, 0.0, 15.0),
        Graha::Saturn => (Rashi::Kumbha, 0.0, 20.0),
        Graha::Rahu => (Rashi::Mithuna, 0.0, 30.0),
        Graha::Ketu => (Rashi::Dhanu, 0.0, 30.0),
    }
}

/// True if `sign` is an own sign of `g` (nodes: Rahu Virgo, Ketu Pisces).
#[must_use]
pub fn is_own_sign(g: Graha, sign: Rashi) -> bool {
    match g {
        Graha::Rahu => sign == Rashi::Kanya,
        Graha::Ketu => sign == Rashi::Meena,
        _ => sign.lord() == g,
    }
}

/// Natural relation of `of` towards `towards` (BPHS ch. 3 v. 55).
/// A graha towards itself is reported as `Friend`. Nodes as subject use
/// Saturn's (Rahu) and Mars' (Ketu) relations; nodes as object are neutral.
#[must_use]
pub fn natural_relation(of: Graha, towards: Graha) -> Relation {
    use Graha::*;
    use Relation::*;
    if of == towards {
        return Friend;
    }
    let subject = match of {
        Rahu => Saturn,
        Ketu => Mars,
        g => g,
    };
    if towards.is_node() {
        return Neutral;
    }
    if subject == towards {
        // e.g. Rahu towards Saturn: treated as friend.
        return Friend;
    }
    let (friends, enemies): (&[Graha], &[Graha]) = match subject {
        Sun => (&[Moon, Mars, Jupiter], &[Venus, Saturn]),
        Moon => (&[Sun, Mercury], &[]),
        Mars => (&[Sun, Moon, Jupiter], &[Mercury]),
        Mercury => (&[Sun, Venus], &[Moon]),
        Jupiter => (&[Sun, Moon, Mars], &[Mercury, Venus]),
        Venus => (&[Mercury, Saturn], &[Sun, Moon]),
        Saturn => (&[Mercury, Venus], &[Sun, Moon, Mars]),
        Rahu | Ketu => (&[], &[]),
    };
    if friends.contains(&towards) {
        Friend
    } else if enemies.contains(&towards) {
        Enemy
    } else {
        Neutral
    }
}

/// Temporal relation from sign positions: the other graha in the
/// 2/3/4/10/11/12th sign from `of_sign` is a friend, otherwise an enemy.
#[must_use]
pub fn temporal_relation(of_sign: Rashi, towards_sign: Rashi) -> Relation {
    match of_sign.house_of(towards_sign) {
        2 | 3 | 4 | 10 | 11 | 12 => Relation::Friend,
        _ => Relation::Enemy,
    }
}

/// Compound relation from natural and temporal relations.
#[must_use]
pub fn compound_relation(natural: Relation, temporal: Relation) -> CompoundRelation {
    use Relation::*;
    match (natural, temporal) {
        (Friend, Friend) => CompoundRelation::GreatFriend,
        (Neutral, Friend) => CompoundRelation::Friend,
        (Enemy, Friend) | (Friend, Enemy) => CompoundRelation::Neutral,
        (Neutral, Enemy) => CompoundRelation::Enemy,
        (Enemy, Enemy) => CompoundRelation::GreatEnemy,
        // Temporal relations are only friend or enemy; treat neutral as
        // "no temporal information".
        (Friend, Neutral) => CompoundRelation::Friend,
        (Neutral, Neutral) => CompoundRelation::Neutral,
        (Enemy, Neutral) => CompoundRelation::Enemy,
    }
}

fn natural_as_compound(r: Relation) -> CompoundRelation {
    compound_relation(r, Relation::Neutral)
}

/// Dignity of graha `g` at longitude `lon`.
///
/// `dispositor_lon`: longitude of the sign lord, used for the temporal
/// relation; `None` falls back to natural friendship only (then the result
/// is one of `Friend`, `Neutral`, `Enemy`).
#[must_use]
pub fn dignity(g: Graha, lon: f64, dispositor_lon: Option<f64>) -> Dignity {
    let pos = SignPosition::from_longitude(lon);
    let sign = pos.sign;
    let deg = pos.degree;
    let (ex_sign, _) = exaltation(g);
    let (mt_sign, mt_from, mt_to) = moolatrikona(g);
    let in_mt = sign == mt_sign && deg >= mt_from && deg < mt_to;
    if sign == ex_sign {
        // Moon and Mercury: the MT/own part of the exaltation sign.
        // The deep-exaltation degree itself counts as exalted.
        if sign == mt_sign && deg > mt_from {
            if deg < mt_to {
                return Dignity::Moolatrikona;
            }
            return Dignity::OwnSign;
        }
        return Dignity::Exalted;
    }
    if sign == debilitation(g) {
        return Dignity::Debilitated;
    }
    if in_mt {
        return Dignity::Moolatrikona;
    }
    if is_own_sign(g, sign) {
        return Dignity::OwnSign;
    }
    let lord = sign.lord();
    let natural = natural_relation(g, lord);
    match dispositor_lon {
        Some(dl) => {
            let temporal = temporal_relation(sign, Rashi::from_longitude(dl));
            compound_relation(natural, temporal).into()
        }
        None => natural_as_compound(natural).into(),
    }
}

/// Combustion orb of a graha in degrees (`None` for Sun and nodes).
#[must_use]
pub const fn combustion_orb(g: Graha, retrograde: bool) -> Option<f64> {
    match g {
        Graha::Moon => Some(12.0),
        Graha::Mars => Some(17.0),
        Graha::Mercury => Some(if retrograde { 12.0 } else { 14.0 }),
        Graha::Jupiter => Some(11.0),
        Graha::Venus => Some(if retrograde { 8.0 } else { 10.0 }),
        Graha::Saturn => Some(15.0),
        Graha::Sun | Graha::Rahu | Graha::Ketu => None,
    }
}

/// Angular distance between two longitudes, `[0, 180]`.
#[must_use]
pub fn angular_distance(a: f64, b: f64) -> f64 {
    let d = norm_deg(a - b);
    if d > 180.0 {
        360.0 - d
    } else {
        d
    }
}

/// True if graha `g` at `lon` is within its combustion orb of the Sun.
#[must_use]
pub fn is_combust(g: Graha, lon: f64, sun_lon: f64, retrograde: bool) -> bool {
    match combustion_orb(g, retrograde) {
        Some(orb) => angular_distance(lon, sun_lon) <= orb,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exaltation_table() {
        let table = [
            (Graha::Sun, 10.0),
            (Graha::Moon, 33.0),
            (Graha::Mars, 298.0),
            (Graha::Mercury, 165.0),
            (Graha::Jupiter, 95.0),
            (Graha::Venus, 357.0),
            (Graha::Saturn, 200.0),
        ];
        for (g, lon) in table {
            let (s, d) = exaltation(g);
            assert_eq!(s.index() as f64 * 30.0 + d.unwrap_or(f64::NAN), lon, "{g}");
            // Deep exaltation point is exalted, opposite point debilitated.
            assert_eq!(dignity(g, lon, None), Dignity::Exalted, "{g}");
            assert_eq!(dignity(g, lon + 180.0, None), Dignity::Debilitated, "{g}");
        }
        assert_eq!(debilitation(Graha::Saturn), Rashi::Mesha);
        assert_eq!(debilitation(Graha::Rahu), Rashi::Vrischika);
    }

    #[test]
    fn moolatrikona_and_own() {
        assert_eq!(dignity(Graha::Sun, 125.0, None), Dignity::Moolatrikona);
        assert_eq!(dignity(Graha::Sun, 145.0, None), Dignity::OwnSign);
        assert_eq!(dignity(Graha::Moon, 31.0, None), Dignity::Exalted);
        assert_eq!(dignity(Graha::Moon, 40.0, None), Dignity::Moolatrikona);
        assert_eq!(dignity(Graha::Moon, 100.0, None), Dignity::OwnSign);
        assert_eq!(dignity(Graha::Mercury, 160.0, None), Dignity::Exalted);
        assert_eq!(dignity(Graha::Mercury, 167.0, None), Dignity::Moolatrikona);
        assert_eq!(dignity(Graha::Mercury, 175.0, None), Dignity::OwnSign);
        assert_eq!(dignity(Graha::Mercury, 65.0, None), Dignity::OwnSign);
        assert_eq!(dignity(Graha::Saturn, 305.0, None), Dignity::Moolatrikona);
        assert_eq!(dignity(Graha::Saturn, 275.0, None), Dignity::OwnSign);
        assert_eq!(dignity(Graha::Rahu, 40.0, None), Dignity::Exalted);
        assert_eq!(dignity(Graha::Ketu, 250.0, None), Dignity::Moolatrikona);
    }

    #[test]
    fn friendship() {
        use Relation::*;
        assert_eq!(natural_relation(Graha::Sun, Graha::Saturn), Enemy);
        assert_eq!(natural_relation(Graha::Saturn, Graha::Venus), Friend);
        assert_eq!(natural_relation(Graha::Moon, Graha::Saturn), Neutral);
        assert_eq!(natural_relation(Graha::Jupiter, Graha::Venus), Enemy);
        assert_eq!(natural_relation(Graha::Mercury, Graha::Moon), Enemy);
        // Natural only: Sun in Libra (Venus) is in an enemy sign.
        assert_eq!(dignity(Graha::Sun, 200.0, None), Dignity::Debilitated);
        assert_eq!(dignity(Graha::Sun, 50.0, None), Dignity::Enemy);
        // Compound: Sun in Taurus, Venus in Gemini (2nd from Taurus):
        // enemy + temporal friend = neutral.
        assert_eq!(dignity(Graha::Sun, 50.0, Some(70.0)), Dignity::Neutral);
        // Venus in Taurus itself (1st): temporal enemy -> great enemy.
        assert_eq!(dignity(Graha::Sun, 50.0, Some(40.0)), Dignity::GreatEnemy);
        // Jupiter in Aries, Mars in Cancer (4th): friend+friend.
        assert_eq!(
            dignity(Graha::Jupiter, 15.0, Some(100.0)),
            Dignity::GreatFriend
        );
        // Moon in Capricorn, Saturn in Leo (8th): neutral + enemy = enemy.
        assert_eq!(dignity(Graha::Moon, 280.0, Some(130.0)), Dignity::Enemy);
        assert_eq!(temporal_relation(Rashi::Mesha, Rashi::Makara), Friend);
        assert_eq!(temporal_relation(Rashi::Mesha, Rashi::Simha), Enemy);
    }

    #[test]
    fn combustion() {
        assert!(is_combust(Graha::Mercury, 13.9, 0.0, false));
        assert!(!is_combust(Graha::Mercury, 13.0, 0.0, true));
        assert!(is_combust(Graha::Venus, 355.0, 3.0, true));
        assert!(!is_combust(Graha::Venus, 350.0, 1.0, true));
        assert!(is_combust(Graha::Saturn, 345.0, 0.0, false));
        assert!(!is_combust(Graha::Rahu, 0.0, 0.0, true));
        assert!(!is_combust(Graha::Sun, 0.0, 0.0, false));
        assert_eq!(angular_distance(350.0, 10.0), 20.0);
    }
}
