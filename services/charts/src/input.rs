//! Request values as charts takes them, validated while they are parsed
//! (the rule of `platform::input`): a value of the right JSON type that
//! breaks a rule is answered 422 `validation_failed` naming the field, and
//! each type documents its rule in OpenAPI (pattern, format, range, enum).
//! The documented rule and the check are the same: everything accepted here
//! matches the schema, so nothing the schema forbids gets through.
//!
//! The `parse_*` functions apply the same rules to query and path values.

use astro::vedic::Varga;
use astro::{Ayanamsa, Disambiguation, HouseSystem, NodeKind, Zodiac};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use platform::input::VALIDATION_MARK;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::json;
use std::fmt;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr, Schema};
use uuid::Uuid;

/// `YYYY-MM-DD` (a calendar date; the format is also declared as `date`).
pub const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";
/// `HH:MM` or `HH:MM:SS`, 00:00 to 23:59:59.
pub const TIME_PATTERN: &str = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$";
/// A date, or an RFC 3339 instant with an upper-case `T` and `Z` or offset.
pub const INSTANT_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$";
/// A UUID in its hyphenated form.
pub const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// GeoNames ids are positive 32-bit integers.
pub const MAX_PLACE_ID: i64 = i32::MAX as i64;
/// A place id as taken in bodies.
pub type PlaceId = platform::input::Int<1, MAX_PLACE_ID>;
/// IANA zone names are short.
pub type ZoneName = platform::input::Line<64>;

fn invalid<E: serde::de::Error>(message: impl fmt::Display) -> E {
    E::custom(format!("{VALIDATION_MARK}{message}"))
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn two_digits(s: &str, max: u32) -> Option<u32> {
    if s.len() != 2 || !digits(s) {
        return None;
    }
    s.parse().ok().filter(|n| *n <= max)
}

/// A calendar date exactly as [`DATE_PATTERN`] (and a real day).
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let bad = || format!("{s:?} is not a date (expected YYYY-MM-DD)");
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, m, d) = (&s[0..4], &s[5..7], &s[8..10]);
    if !digits(y) || !digits(m) || !digits(d) {
        return Err(bad());
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return Err(bad());
    };
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(bad)
}

/// A time of day exactly as [`TIME_PATTERN`].
pub fn parse_time(s: &str) -> Result<NaiveTime, String> {
    let bad = || format!("{s:?} is not a time (expected HH:MM or HH:MM:SS, 00:00 to 23:59:59)");
    let parts: Vec<&str> = s.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m] => (h, m, None),
        [h, m, sec] => (h, m, Some(*sec)),
        _ => return Err(bad()),
    };
    let h = two_digits(h, 23).ok_or_else(bad)?;
    let m = two_digits(m, 59).ok_or_else(bad)?;
    let sec = match sec {
        None => 0,
        Some(s) => two_digits(s, 59).ok_or_else(bad)?,
    };
    NaiveTime::from_hms_opt(h, m, sec).ok_or_else(bad)
}

/// A date (UTC midnight) or an RFC 3339 instant, exactly as [`INSTANT_PATTERN`].
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    let bad = || format!("{s:?} is not an RFC 3339 instant or a date (YYYY-MM-DD)");
    if s.len() == 10 {
        return parse_date(s)
            .map(|d| d.and_time(NaiveTime::MIN).and_utc())
            .map_err(|_| bad());
    }
    let (Some(date), Some(rest)) = (s.get(..10), s.get(10..)) else {
        return Err(bad());
    };
    parse_date(date).map_err(|_| bad())?;
    // T HH:MM:SS
    let (Some(clock), Some(mut rest)) = (rest.get(..9), rest.get(9..)) else {
        return Err(bad());
    };
    let Some(clock) = clock.strip_prefix('T') else {
        return Err(bad());
    };
    if clock.len() != 8 || parse_time(clock).is_err() {
        return Err(bad());
    }
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=9).contains(&n) {
            return Err(bad());
        }
        rest = &frac[n..];
    }
    let zone_ok = rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':'
            && two_digits(&rest[1..3], 23).is_some()
            && two_digits(&rest[4..6], 59).is_some());
    if !zone_ok {
        return Err(bad());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| bad())
}

/// A UUID in its hyphenated form only ([`UUID_PATTERN`]).
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    let b = s.as_bytes();
    let shaped = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if shaped {
        Uuid::parse_str(s).ok()
    } else {
        None
    }
}

/// A place id in a path or query: decimal digits without a leading zero,
/// 1 to [`MAX_PLACE_ID`].
pub fn parse_place_id(s: &str) -> Option<i64> {
    if !digits(s) || s.len() > 10 || s.starts_with('0') {
        return None;
    }
    s.parse::<i64>()
        .ok()
        .filter(|n| (1..=MAX_PLACE_ID).contains(n))
}

/// A latitude or longitude, finite and within its range.
pub fn check_degrees(value: f64, min: f64, max: f64, what: &str) -> Result<f64, String> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{what} must be within [{min}, {max}], got {value}"))
    }
}

fn string_schema(pattern: &str, format: Option<KnownFormat>, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(pattern))
        .format(format.map(SchemaFormat::KnownFormat))
        .description(Some(description))
}

/// Schema of a UUID path parameter or field.
pub fn uuid_schema() -> RefOr<Schema> {
    string_schema(UUID_PATTERN, Some(KnownFormat::Uuid), "a UUID (hyphenated)").into()
}

/// Schema of the `at` instant of the dashas.
pub fn instant_schema() -> RefOr<Schema> {
    string_schema(
        INSTANT_PATTERN,
        None,
        "an RFC 3339 instant (`2024-06-01T00:00:00Z`, `...+05:30`) or a date `YYYY-MM-DD` (UTC midnight)",
    )
    .into()
}

/// Schema of a place id.
pub fn place_id_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(MAX_PLACE_ID))
        .description(Some("GeoNames id of a gazetteer place"))
        .into()
}

/// A type that only documents a query or path value (the handler checks
/// the value with the matching `parse_*` function).
#[macro_export]
macro_rules! param_schema {
    ($(#[$doc:meta])* $name:ident, $schema:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                $schema
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

param_schema!(
    /// A UUID path or query value.
    UuidParam,
    uuid_schema()
);
param_schema!(
    /// A place id path or query value.
    PlaceIdParam,
    place_id_schema()
);
param_schema!(
    /// The `at` instant of the dashas.
    InstantParam,
    instant_schema()
);

/// A local civil date, `YYYY-MM-DD`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CivilDate(pub NaiveDate);

impl<'de> Deserialize<'de> for CivilDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_date(&s).map(CivilDate).map_err(invalid)
    }
}

impl Serialize for CivilDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.format("%Y-%m-%d"))
    }
}

impl utoipa::PartialSchema for CivilDate {
    fn schema() -> RefOr<Schema> {
        string_schema(
            DATE_PATTERN,
            Some(KnownFormat::Date),
            "local civil date, `YYYY-MM-DD`",
        )
        .into()
    }
}
impl utoipa::ToSchema for CivilDate {}

/// A local civil time, `HH:MM` or `HH:MM:SS`, kept as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CivilTime {
    pub text: String,
    pub time: NaiveTime,
}

impl<'de> Deserialize<'de> for CivilTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let time = parse_time(&text).map_err(invalid)?;
        Ok(CivilTime { text, time })
    }
}

impl Serialize for CivilTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl utoipa::PartialSchema for CivilTime {
    fn schema() -> RefOr<Schema> {
        string_schema(
            TIME_PATTERN,
            None,
            "local civil time, `HH:MM` or `HH:MM:SS` (00:00 to 23:59:59)",
        )
        .into()
    }
}
impl utoipa::ToSchema for CivilTime {}

macro_rules! degrees {
    ($name:ident, $min:literal, $max:literal, $what:literal) => {
        #[doc = concat!("A ", $what, " in degrees, ", stringify!($min), " to ", stringify!($max), ".")]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name(pub f64);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = f64::deserialize(d)?;
                check_degrees(v, $min, $max, $what)
                    .map($name)
                    .map_err(invalid)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Number))
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
                    .minimum(Some($min))
                    .maximum(Some($max))
                    .description(Some(concat!($what, " in degrees")))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

degrees!(Lat, -90.0, 90.0, "latitude");
degrees!(Lon, -180.0, 180.0, "longitude");

/// A closed set of names, each naming a value (several may name the same
/// one: aliases; the first is the canonical name).
pub trait Choices: Sized + Copy + PartialEq + 'static {
    /// What the value is, for messages (`ayanamsa`).
    const WHAT: &'static str;
    const NAMES: &'static [(&'static str, Self)];

    fn named(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    fn name_of(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map(|(n, _)| *n)
            .unwrap_or("")
    }

    fn listed() -> String {
        let names: Vec<String> = Self::NAMES.iter().map(|(n, _)| format!("{n:?}")).collect();
        names.join(", ")
    }
}

/// One of the names of a [`Choices`]: exactly as listed (case matters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice<T>(pub T);

impl<'de, T: Choices> Deserialize<'de> for Choice<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        T::named(&s).map(Choice).ok_or_else(|| {
            invalid(format!(
                "unknown {} {s:?}; use one of {}",
                T::WHAT,
                T::listed()
            ))
        })
    }
}

impl<T: Choices> Serialize for Choice<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name_of())
    }
}

impl<T: Choices> utoipa::PartialSchema for Choice<T> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(T::NAMES.iter().map(|(n, _)| *n)))
            .into()
    }
}
impl<T: Choices> utoipa::ToSchema for Choice<T> {}

impl Choices for Zodiac {
    const WHAT: &'static str = "zodiac";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("sidereal", Zodiac::Sidereal),
        ("tropical", Zodiac::Tropical),
    ];
}

impl Choices for Ayanamsa {
    const WHAT: &'static str = "ayanamsa";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("lahiri", Ayanamsa::Lahiri),
        ("raman", Ayanamsa::Raman),
        ("krishnamurti", Ayanamsa::Krishnamurti),
        ("kp", Ayanamsa::Krishnamurti),
        ("true_chitra", Ayanamsa::TrueChitra),
    ];
}

impl Choices for NodeKind {
    const WHAT: &'static str = "node";
    const NAMES: &'static [(&'static str, Self)] =
        &[("mean", NodeKind::Mean), ("true", NodeKind::True)];
}

impl Choices for HouseSystem {
    const WHAT: &'static str = "house system";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("whole_sign", HouseSystem::WholeSign),
        ("equal", HouseSystem::Equal),
        ("placidus", HouseSystem::Placidus),
        ("porphyry", HouseSystem::Porphyry),
        ("sripati", HouseSystem::Sripati),
    ];
}

impl Choices for Disambiguation {
    const WHAT: &'static str = "disambiguation";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("earlier", Disambiguation::Earlier),
        ("later", Disambiguation::Later),
        ("reject", Disambiguation::Reject),
    ];
}

// Aliases: the OpenAPI derive sees a plain name (not generic arguments).
pub type ZodiacName = Choice<Zodiac>;
pub type AyanamsaName = Choice<Ayanamsa>;
pub type NodeName = Choice<NodeKind>;
pub type HouseSystemName = Choice<HouseSystem>;
pub type DisambiguationName = Choice<Disambiguation>;
pub type RelationName = Choice<Relation>;

/// Who a saved profile is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Myself,
    Partner,
    Spouse,
    Child,
    Parent,
    Sibling,
    Friend,
    Other,
}

impl Choices for Relation {
    const WHAT: &'static str = "relation";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("self", Relation::Myself),
        ("partner", Relation::Partner),
        ("spouse", Relation::Spouse),
        ("child", Relation::Child),
        ("parent", Relation::Parent),
        ("sibling", Relation::Sibling),
        ("friend", Relation::Friend),
        ("other", Relation::Other),
    ];
}

/// The most divisional charts one request may list (each supported one once).
pub const MAX_DIVISIONAL: usize = Varga::ALL.len();

/// Divisional charts: each `"D<n>"`, `"d<n>"` or `<n>` for a supported
/// varga (D1, D2, D3, D4, D7, D9, D10, D12, D16, D20, D24, D27, D30, D40,
/// D45, D60); sorted and deduplicated once parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Divisional(pub Vec<Varga>);

fn varga_of(v: &serde_json::Value) -> Option<Varga> {
    match v {
        serde_json::Value::Number(n) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .and_then(Varga::from_divisions),
        serde_json::Value::String(s) => {
            let n = s.strip_prefix(['D', 'd'])?;
            // Exactly the listed spellings: no sign, no leading zero.
            if !digits(n) || n.starts_with('0') {
                return None;
            }
            n.parse::<usize>().ok().and_then(Varga::from_divisions)
        }
        _ => None,
    }
}

impl<'de> Deserialize<'de> for Divisional {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<serde_json::Value>::deserialize(d)?;
        if items.len() > MAX_DIVISIONAL {
            return Err(invalid(format!(
                "at most {MAX_DIVISIONAL} divisional charts"
            )));
        }
        let mut out = Vec::with_capacity(items.len());
        for v in &items {
            let varga = varga_of(v).ok_or_else(|| {
                invalid(format!(
                    "unknown divisional chart {v}; supported: D1, D2, D3, D4, D7, D9, D10, D12, D16, D20, D24, D27, D30, D40, D45, D60"
                ))
            })?;
            out.push(varga);
        }
        out.sort();
        out.dedup();
        Ok(Divisional(out))
    }
}

impl Serialize for Divisional {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let names: Vec<String> = self
            .0
            .iter()
            .map(|v| format!("D{}", v.divisions()))
            .collect();
        names.serialize(s)
    }
}

impl utoipa::PartialSchema for Divisional {
    fn schema() -> RefOr<Schema> {
        let mut names: Vec<serde_json::Value> = Vec::new();
        for v in Varga::ALL {
            names.push(json!(format!("D{}", v.divisions())));
            names.push(json!(format!("d{}", v.divisions())));
        }
        for v in Varga::ALL {
            names.push(json!(v.divisions()));
        }
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(SchemaType::AnyValue)
                    .enum_values(Some(names)),
            )
            .max_items(Some(MAX_DIVISIONAL))
            .description(Some(
                "divisional charts, e.g. `[\"D9\", \"D10\"]`: `D<n>`, `d<n>` or the number `<n>` of a supported varga",
            ))
            .into()
    }
}
impl utoipa::ToSchema for Divisional {}

/// `deserialize_with` for optional fields that may be left out but not
/// sent as `null` (the schema does not allow `null` either).
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dates_and_times_are_exactly_their_patterns() {
        assert_eq!(
            parse_date("1990-05-01").unwrap(),
            NaiveDate::from_ymd_opt(1990, 5, 1).unwrap()
        );
        for bad in [
            "1990-5-01",
            "1990-05-1",
            " 1990-05-01",
            "1990-05-01 ",
            "+1990-05-01",
            "1990-02-30",
            "1990/05/01",
            "1990-05-01\n",
            "19900-05-01",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_time("06:30").unwrap(),
            NaiveTime::from_hms_opt(6, 30, 0).unwrap()
        );
        assert_eq!(
            parse_time("23:59:59").unwrap(),
            NaiveTime::from_hms_opt(23, 59, 59).unwrap()
        );
        for bad in [
            "6:30",
            "24:00",
            "12:60",
            "12:00:60",
            "12:00:00.5",
            " 12:00",
            "12:00\u{0}",
            "1200",
            "12:00:",
            "+1:30",
            "",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn instants_are_exactly_their_pattern() {
        for ok in [
            "2024-06-01",
            "2024-06-01T00:00:00Z",
            "2024-06-01T05:30:00+05:30",
            "2024-06-01T05:30:00.123456789-01:00",
        ] {
            assert!(parse_instant(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "someday",
            "2024-06-01t00:00:00Z",
            "2024-06-01 00:00:00Z",
            "2024-06-01T00:00Z",
            "2024-06-01T00:00:00",
            "2024-06-01T00:00:00z",
            "2024-06-01T00:00:00.Z",
            "2024-06-01T00:00:00.1234567890Z",
            "2024-06-01T00:00:00+0530",
            "2024-06-01T00:00:00+24:00",
            "2024-06-01T24:00:00Z",
            " 2024-06-01",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_are_strict() {
        assert!(parse_uuid("01a2271e-7146-733a-904c-8538d0b1ac0e").is_some());
        assert!(parse_uuid("01a2271e7146733a904c8538d0b1ac0e").is_none());
        assert!(parse_uuid("{01a2271e-7146-733a-904c-8538d0b1ac0e}").is_none());
        assert_eq!(parse_place_id("1264527"), Some(1264527));
        for bad in [
            "+1",
            "-1",
            "0",
            "1.0",
            "2147483648",
            "99999999999999999999",
            "",
        ] {
            assert_eq!(parse_place_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn divisional_charts_take_listed_spellings_only() {
        let d: Divisional = serde_json::from_str(r#"["D10", 9, "d9"]"#).unwrap();
        assert_eq!(d.0, vec![Varga::D9, Varga::D10]);
        assert_eq!(serde_json::to_value(&d).unwrap(), json!(["D9", "D10"]));
        for bad in [
            r#"["D5"]"#,
            r#"["D09"]"#,
            r#"[" D9"]"#,
            r#"["9"]"#,
            r#"[9.5]"#,
            r#"[true]"#,
        ] {
            assert!(serde_json::from_str::<Divisional>(bad).is_err(), "{bad}");
        }
        let many = serde_json::to_string(&vec!["D9"; MAX_DIVISIONAL + 1]).unwrap();
        assert!(serde_json::from_str::<Divisional>(&many).is_err());
    }

    #[test]
    fn choices_are_exact_and_canonical() {
        let c: Choice<Ayanamsa> = serde_json::from_str(r#""kp""#).unwrap();
        assert_eq!(c.0, Ayanamsa::Krishnamurti);
        assert_eq!(serde_json::to_value(c).unwrap(), json!("krishnamurti"));
        for bad in [r#""Lahiri""#, r#"" lahiri""#, r#""bogus""#] {
            let e = serde_json::from_str::<Choice<Ayanamsa>>(bad).unwrap_err();
            assert!(e.to_string().contains(VALIDATION_MARK), "{e}");
        }
    }
}
