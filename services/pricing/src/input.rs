//! Pricing's edge types, built on the shared rules of `platform::input`:
//! every value is checked while the request is parsed and documents the
//! rule in OpenAPI, and a violation is a 422 `validation_failed` naming the
//! field.
//!
//! * [`Name`] / [`Reason`]: a `Line` / `Text` that is not blank (stored
//!   trimmed).
//! * [`ServiceCode`], [`Currency`], [`LedgerCursor`], [`PaymentCursor`],
//!   the string enums ([`Unit`], [`PaymentStatus`],
//!   [`RecommendationStatus`]) and [`NonZeroCredits`].
//! * [`Body`]: `platform::http::Json` for a body that must be a JSON
//!   object ([`Object`], [`object`] for nested ones: serde's derived
//!   structs also accept an array, fields by position, which no schema here
//!   allows).
//! * [`Query`]: a query-string extractor with the same rules as
//!   `platform::http::Json` (422 naming the parameter).
//! * [`path_uuid`], [`path_code`], [`instant`]: values that arrive in a
//!   path or need a check serde cannot make.

use crate::limits::MAX_BALANCE;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use chrono::{DateTime, Datelike, Utc};
use common::ErrorCode;
use futures_util::future::LocalBoxFuture;
use platform::input::{check_line, Line, Text, VALIDATION_MARK};
use platform::AppError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr, Schema, SchemaFormat};
use uuid::Uuid;

/// Characters Rust's `trim` removes (Unicode `White_Space`) that are not
/// control characters, as an ECMA-262 class body.
const SPACE: &str = r"\x20\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Control characters (`char::is_control`: C0, DEL and C1).
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";
/// Control characters but tab, line feed and carriage return.
const CONTROL_BUT_TEXT: &str = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F";

/// One line, not blank: no control character, at least one character that
/// is not white space.
pub fn name_pattern() -> String {
    format!("^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$")
}

/// Free text, not blank.
pub fn reason_pattern() -> String {
    format!("^[^{CONTROL_BUT_TEXT}]*[^{CONTROL}{SPACE}][^{CONTROL_BUT_TEXT}]*$")
}

fn invalid<E: serde::de::Error>(message: impl fmt::Display) -> E {
    E::custom(format!("{VALIDATION_MARK}{message}"))
}

fn string_schema(min: usize, max: usize, pattern: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .into()
}

macro_rules! non_blank {
    ($name:ident, $inner:ident, $pattern:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name<const MAX: usize>(String);

        impl<const MAX: usize> $name<MAX> {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<const MAX: usize> std::ops::Deref for $name<MAX> {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl<'de, const MAX: usize> Deserialize<'de> for $name<MAX> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = $inner::<MAX>::deserialize(d)?;
                let t = v.trim();
                if t.is_empty() {
                    return Err(invalid("must not be blank"));
                }
                Ok($name(t.to_owned()))
            }
        }

        impl<const MAX: usize> Serialize for $name<MAX> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<const MAX: usize> utoipa::PartialSchema for $name<MAX> {
            fn schema() -> RefOr<Schema> {
                string_schema(1, MAX, &$pattern())
            }
        }

        impl<const MAX: usize> utoipa::ToSchema for $name<MAX> {
            fn name() -> Cow<'static, str> {
                Cow::Owned(format!("{}{MAX}", stringify!($name)))
            }
        }
    };
}

non_blank!(
    Name,
    Line,
    name_pattern,
    "One line of at most `MAX` characters, no control characters, not blank (stored trimmed)."
);
non_blank!(
    Reason,
    Text,
    reason_pattern,
    "Free text of at most `MAX` characters (newlines and tabs allowed, other control characters not), not blank (stored trimmed)."
);

/// A string checked by a function while it is parsed.
macro_rules! checked_string {
    ($(#[$m:meta])* $name:ident, $check:expr, $schema:expr) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// Applies the rule to a value that did not come through serde.
            pub fn parse(field: &str, s: &str) -> Result<Self, AppError> {
                let check: fn(&str) -> Result<String, String> = $check;
                check(s)
                    .map($name)
                    .map_err(|m| AppError::validation(field, m))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let check: fn(&str) -> Result<String, String> = $check;
                check(&s).map($name).map_err(invalid)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// JSON Schema pattern of a service code (and the database's CHECK).
pub const SERVICE_CODE_PATTERN: &str = "^[a-z][a-z0-9_]{1,62}$";

fn service_code(s: &str) -> Result<String, String> {
    let ok = (2..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err("must be 2 to 63 lowercase letters, digits and _, starting with a letter".into())
    }
}

checked_string!(
    /// A service code: `^[a-z][a-z0-9_]{1,62}$`.
    ServiceCode,
    service_code,
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .min_length(Some(2))
        .max_length(Some(63))
        .pattern(Some(SERVICE_CODE_PATTERN))
        .examples(["text_guidance"])
        .into()
);

fn currency(s: &str) -> Result<String, String> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err("must be a three-letter ISO 4217 code".into())
    }
}

checked_string!(
    /// An ISO 4217 currency code, three ASCII letters (stored upper-cased).
    Currency,
    currency,
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some("^[A-Za-z]{3}$"))
        .examples(["INR"])
        .into()
);

/// Ledger cursors are entry ids: at most 18 digits always fit an i64.
pub const LEDGER_CURSOR_PATTERN: &str = "^[0-9]{1,18}$";

fn ledger_cursor(s: &str) -> Result<String, String> {
    if (1..=18).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err("is not a valid cursor (next_cursor of the previous page)".into())
    }
}

checked_string!(
    /// `next_cursor` of the previous ledger page (an entry id).
    LedgerCursor,
    ledger_cursor,
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(LEDGER_CURSOR_PATTERN))
        .into()
);

impl LedgerCursor {
    /// The entry id; always fits (at most 18 digits).
    pub fn entry_id(&self) -> i64 {
        self.0.parse().unwrap_or(i64::MAX)
    }
}

/// Payment cursors: `<created_at as unix microseconds>.<hex of the session id>`.
pub const PAYMENT_CURSOR_PATTERN: &str = r"^-?[0-9]{1,16}\.(?:[0-9a-fA-F]{2}){1,255}$";

fn payment_cursor(s: &str) -> Result<String, String> {
    decode_payment_cursor(s).map(|_| s.to_owned())
}

/// Splits a payment cursor; `Err` unless it is exactly what
/// [`encode_payment_cursor`] makes of a session id without control characters.
pub fn decode_payment_cursor(c: &str) -> Result<(DateTime<Utc>, String), String> {
    let bad = || "is not a valid cursor (next_cursor of the previous page)".to_owned();
    let (micros, session) = c.split_once('.').ok_or_else(bad)?;
    let digits = micros.strip_prefix('-').unwrap_or(micros);
    if !(1..=16).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if session.is_empty() || session.len() > 510 {
        return Err(bad());
    }
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    let session = hex::decode(session)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| !s.chars().any(char::is_control))
        .ok_or_else(bad)?;
    Ok((at, session))
}

pub fn encode_payment_cursor(created_at: DateTime<Utc>, session_id: &str) -> String {
    format!(
        "{}.{}",
        created_at.timestamp_micros(),
        hex::encode(session_id)
    )
}

checked_string!(
    /// `next_cursor` of the previous payments page.
    PaymentCursor,
    payment_cursor,
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .max_length(Some(528))
        .pattern(Some(PAYMENT_CURSOR_PATTERN))
        .into()
);

impl PaymentCursor {
    pub fn position(&self) -> Result<(DateTime<Utc>, String), AppError> {
        decode_payment_cursor(&self.0).map_err(|m| AppError::validation("cursor", m))
    }
}

/// A string enum: parsing anything else is a 422 naming the field.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),+];
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                match s.as_str() {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(invalid(format!("must be one of {}", Self::ALL.join(", ")))),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .enum_values(Some(Self::ALL.iter().copied()))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

string_enum!(
    /// What one unit of a service is.
    Unit { Request => "request", Minute => "minute" }
);

string_enum!(
    /// Every status a Stripe payment can have.
    PaymentStatus {
        Open => "open",
        Processing => "processing",
        Paid => "paid",
        PartiallyRefunded => "partially_refunded",
        Refunded => "refunded",
        Mismatch => "mismatch",
    }
);

string_enum!(
    /// Every status a price recommendation can have.
    RecommendationStatus { Pending => "pending", Approved => "approved", Rejected => "rejected" }
);

/// Credits an admin adjustment moves: positive credits the wallet,
/// negative debits it; never zero, at most [`MAX_BALANCE`] either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonZeroCredits(i64);

impl NonZeroCredits {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for NonZeroCredits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if v == 0 {
            return Err(invalid("must not be zero"));
        }
        if !(-MAX_BALANCE..=MAX_BALANCE).contains(&v) {
            return Err(invalid(format!(
                "must be between -{MAX_BALANCE} and {MAX_BALANCE}"
            )));
        }
        Ok(NonZeroCredits(v))
    }
}

impl Serialize for NonZeroCredits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

fn int_range(min: i64, max: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
}

impl utoipa::PartialSchema for NonZeroCredits {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(int_range(-MAX_BALANCE, -1))
            .item(int_range(1, MAX_BALANCE))
            .description(Some(
                "Credits: positive credits the wallet, negative debits it (never below zero); not zero.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for NonZeroCredits {}

/// A path segment that must be a UUID (422 naming it otherwise).
pub fn path_uuid(field: &str, raw: &str) -> Result<Uuid, AppError> {
    check_line(field, raw, 36)?;
    Uuid::try_parse(raw).map_err(|_| AppError::validation(field, "must be a UUID"))
}

/// A path segment that must be a service code.
pub fn path_code(field: &str, raw: &str) -> Result<ServiceCode, AppError> {
    check_line(field, raw, 63)?;
    ServiceCode::parse(field, raw)
}

/// Instants pricing stores: years 1 to 9999 (the database refuses some
/// instants chrono accepts).
pub fn instant(field: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    if (1..=9999).contains(&at.year()) {
        Ok(at)
    } else {
        Err(AppError::validation(
            field,
            "must be between 0001-01-01 and 9999-12-31",
        ))
    }
}

/// A JSON object deserialized as `T`, and nothing else: a derived struct
/// alone also accepts an array (its fields by position).
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(ObjectVisitor(PhantomData)).map(Object)
    }
}

/// `#[serde(deserialize_with = "object")]` for a nested struct field.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Object::<T>::deserialize(d).map(|o| o.0)
}

/// A JSON request body that must be an object (see [`Object`]), with
/// `platform::http::Json`'s answers: 415, 413, 400 `malformed_json`, 422.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = platform::http::Json::<Object<T>>::from_request(req, payload);
        Box::pin(async move { json.await.map(|j| Body(j.0 .0)) })
    }
}

/// A query string, parsed with the rules of `platform::http::Json`: a value
/// that breaks a rule is a 422 naming the parameter, and so is one that is
/// not of the parameter's type (a query has no types of its own).
pub struct Query<T>(pub T);

/// Parses a query string into `T`.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let message = inner
            .split_once(VALIDATION_MARK)
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or(inner);
        let field = if path != "." && !path.is_empty() {
            path
        } else if let Some(f) = message.split('`').nth(1) {
            // "duplicate field `x`" has no path; the message names it.
            f.to_owned()
        } else {
            "query".to_owned()
        };
        AppError::new(ErrorCode::ValidationFailed, message).with_field(&field)
    })
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::limits::PageLimit;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<PageLimit>,
        status: Option<PaymentStatus>,
        cursor: Option<LedgerCursor>,
    }

    #[test]
    fn queries_name_the_failing_parameter() {
        let q: Q = parse_query("limit=5&status=paid&cursor=12").unwrap();
        assert_eq!(q.limit.map(|l| l.get()), Some(5));
        for (qs, field) in [
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=-9223372036854775808", "limit"),
            ("limit=abc", "limit"),
            ("limit=99999999999999999999", "limit"),
            ("status=lost", "status"),
            ("cursor=%00", "cursor"),
            ("cursor=1234567890123456789", "cursor"),
            ("limit=1&limit=2", "limit"),
        ] {
            let e = parse_query::<Q>(qs).unwrap_err();
            assert_eq!(e.code, ErrorCode::ValidationFailed, "{qs}");
            assert_eq!(e.field.as_deref(), Some(field), "{qs}: {}", e.message);
            assert!(!e.message.contains(VALIDATION_MARK), "{}", e.message);
        }
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct B {
        name: Name<10>,
        reason: Reason<20>,
        amount: NonZeroCredits,
        code: ServiceCode,
        currency: Currency,
    }

    #[test]
    fn bodies_name_the_failing_field() {
        let ok: B = platform::http::parse_json(
            br#"{"name": " Asha ", "reason": "two\nlines", "amount": -5, "code": "text_guidance", "currency": "inr"}"#,
        )
        .unwrap();
        assert_eq!(ok.name.as_str(), "Asha");
        assert_eq!(ok.currency.as_str(), "INR");
        let good = serde_json::json!({"name": "a", "reason": "b", "amount": 1, "code": "ab", "currency": "INR"});
        for (field, value) in [
            ("name", r#""   ""#),
            ("name", r#""a\u0000""#),
            ("name", r#""a\u0085""#),
            ("name", r#""a\nb""#),
            ("name", r#""elevenchars""#),
            ("reason", r#""\t\n""#),
            ("reason", r#""a\u0000""#),
            ("amount", "0"),
            ("amount", "-9223372036854775808"),
            ("amount", "9223372036854775807"),
            ("amount", "1000000000001"),
            ("code", r#""Text""#),
            ("code", r#""a\u0000""#),
            ("currency", r#""rupees""#),
        ] {
            let mut body = good.clone();
            body[field] = serde_json::from_str(value).unwrap();
            let body = body.to_string();
            let e = platform::http::parse_json::<B>(body.as_bytes()).unwrap_err();
            assert_eq!(e.code, ErrorCode::ValidationFailed, "{body}");
            assert_eq!(e.field.as_deref(), Some(field), "{body}");
        }
    }

    #[derive(Deserialize, Debug, Default)]
    #[allow(dead_code)]
    struct Inner {
        a: Option<i64>,
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(default, deserialize_with = "object")]
        inner: Inner,
        n: Option<PageLimit>,
    }

    #[test]
    fn bodies_and_nested_objects_must_be_objects() {
        use platform::http::parse_json;
        assert!(
            parse_json::<Outer>(b"[{}, null]").is_ok(),
            "serde alone takes an array"
        );
        for body in [
            &b"[]"[..],
            b"[{}, null]",
            br#"{"inner": []}"#,
            br#"{"inner": [1]}"#,
        ] {
            let e = parse_json::<Object<Outer>>(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::MalformedJson, "{body:?}");
        }
        let ok = parse_json::<Object<Outer>>(br#"{"inner": {"a": 1}}"#).unwrap();
        assert_eq!(ok.0.inner.a, Some(1));
        // Field paths survive the wrapper.
        let e = parse_json::<Object<Outer>>(br#"{"inner": {"a": 1}, "n": 0}"#).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::ValidationFailed, Some("n"))
        );
        let e = parse_json::<Object<Outer>>(br#"{"inner": {"a": "x"}}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("inner.a"));
    }

    #[test]
    fn patterns_agree_with_the_rules() {
        // Spot checks of the documented patterns against the code's rules.
        assert!(name_pattern().starts_with("^[^\\x00-\\x1F\\x7F-\\x9F]*"));
        assert!(decode_payment_cursor(&encode_payment_cursor(Utc::now(), "cs_1")).is_ok());
        assert!(decode_payment_cursor("1.00").is_err()); // a NUL session id
        assert!(decode_payment_cursor("12345678901234567.6161").is_err());
        assert!(instant("at", DateTime::<Utc>::MIN_UTC).is_err());
    }
}
