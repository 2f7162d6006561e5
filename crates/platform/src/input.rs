//! Input rules shared by every service, applied while a request body (or
//! query) is parsed, so bad input never reaches the logic or the database.
//!
//! * [`Line<MAX>`]: one line of text: at most `MAX` characters, no control
//!   characters at all (no NUL, no newline).
//! * [`Text<MAX>`]: free text: at most `MAX` characters; newlines and tabs
//!   allowed, other control characters (NUL among them) not.
//! * [`Int<MIN, MAX>`]: an integer within a documented range, checked before
//!   any arithmetic.
//!
//! Each documents itself in OpenAPI (`maxLength` and a `pattern`, or
//! `minimum`/`maximum`), and a violation is answered 422
//! `validation_failed` naming the field (see [`crate::http::parse_json`]).
//! [`check_line`] and [`check_text`] apply the same rules to values that
//! arrive some other way (path segments, headers, NATS).

use crate::error::AppError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};

/// Marks a deserialization error as a validation failure (422), not a
/// malformed body (400); [`crate::http::parse_json`] strips it.
pub const VALIDATION_MARK: &str = "validation: ";

/// JSON Schema pattern of a [`Line`]: no control characters.
pub const LINE_PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";
/// JSON Schema pattern of a [`Text`]: no control characters but tab, LF, CR.
pub const TEXT_PATTERN: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$";

fn line_problem(value: &str, max: usize) -> Option<String> {
    if value.chars().any(char::is_control) {
        return Some("must not contain control characters".into());
    }
    if value.chars().count() > max {
        return Some(format!("must be at most {max} characters"));
    }
    None
}

fn text_problem(value: &str, max: usize) -> Option<String> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Some("must not contain control characters".into());
    }
    if value.chars().count() > max {
        return Some(format!("must be at most {max} characters"));
    }
    None
}

/// The [`Line`] rule for a value that did not come through serde.
pub fn check_line(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    match line_problem(value, max) {
        Some(m) => Err(AppError::validation(field, m)),
        None => Ok(()),
    }
}

/// The [`Text`] rule for a value that did not come through serde.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    match text_problem(value, max) {
        Some(m) => Err(AppError::validation(field, m)),
        None => Ok(()),
    }
}

fn string_schema(max: usize, pattern: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .into()
}

macro_rules! text_type {
    ($name:ident, $problem:ident, $pattern:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name<const MAX: usize>(pub String);

        impl<const MAX: usize> $name<MAX> {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl<const MAX: usize> std::ops::Deref for $name<MAX> {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl<const MAX: usize> fmt::Debug for $name<MAX> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl<const MAX: usize> fmt::Display for $name<MAX> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de, const MAX: usize> Deserialize<'de> for $name<MAX> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                match $problem(&s, MAX) {
                    Some(m) => Err(serde::de::Error::custom(format!("{VALIDATION_MARK}{m}"))),
                    None => Ok($name(s)),
                }
            }
        }

        impl<const MAX: usize> Serialize for $name<MAX> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<const MAX: usize> utoipa::PartialSchema for $name<MAX> {
            fn schema() -> RefOr<Schema> {
                string_schema(MAX, $pattern)
            }
        }

        // One schema per bound: `Line80`, `Line200`, ... (not one `Line`
        // that the last registration would define for every use).
        impl<const MAX: usize> utoipa::ToSchema for $name<MAX> {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Owned(format!("{}{MAX}", stringify!($name)))
            }
        }
    };
}

text_type!(
    Line,
    line_problem,
    LINE_PATTERN,
    "One line of text, at most `MAX` characters, without control characters."
);
text_type!(
    Text,
    text_problem,
    TEXT_PATTERN,
    "Free text, at most `MAX` characters; newlines and tabs allowed, other control characters not."
);

/// An integer in `MIN..=MAX`, checked when parsed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Int<const MIN: i64, const MAX: i64>(pub i64);

impl<const MIN: i64, const MAX: i64> Int<MIN, MAX> {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<const MIN: i64, const MAX: i64> fmt::Debug for Int<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Int<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if (MIN..=MAX).contains(&v) {
            Ok(Int(v))
        } else {
            Err(serde::de::Error::custom(format!(
                "{VALIDATION_MARK}must be between {MIN} and {MAX}"
            )))
        }
    }
}

impl<const MIN: i64, const MAX: i64> Serialize for Int<MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::PartialSchema for Int<MIN, MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Integer))
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(MIN as f64))
            .maximum(Some(MAX as f64))
            .into()
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::ToSchema for Int<MIN, MAX> {
    fn name() -> std::borrow::Cow<'static, str> {
        let bound = |v: i64| {
            if v < 0 {
                format!("Minus{}", v.unsigned_abs())
            } else {
                v.to_string()
            }
        };
        std::borrow::Cow::Owned(format!("Int{}To{}", bound(MIN), bound(MAX)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::http::parse_json;
    use common::ErrorCode;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        name: Line<5>,
        note: Option<Text<20>>,
        amount: Int<1, 1000>,
    }

    #[test]
    fn rules_apply_while_parsing_and_name_the_field() {
        let ok: Body =
            parse_json(br#"{"name": "Asha", "note": "two\nlines", "amount": 5}"#).unwrap();
        assert_eq!(ok.name.as_str(), "Asha");
        for (body, field) in [
            (r#"{"name": "a\u0000b", "amount": 5}"#, "name"),
            (r#"{"name": "a\nb", "amount": 5}"#, "name"),
            (r#"{"name": "toolong", "amount": 5}"#, "name"),
            (
                r#"{"name": "ok", "note": "nul\u0000", "amount": 5}"#,
                "note",
            ),
            (r#"{"name": "ok", "amount": 0}"#, "amount"),
            (
                r#"{"name": "ok", "amount": -9223372036854775808}"#,
                "amount",
            ),
        ] {
            let e = parse_json::<Body>(body.as_bytes()).unwrap_err();
            assert_eq!(e.code, ErrorCode::ValidationFailed, "{body}");
            assert_eq!(e.field.as_deref(), Some(field), "{body}");
            assert!(!e.message.contains(VALIDATION_MARK), "{}", e.message);
        }
        // A wrong type is still a malformed body.
        let e = parse_json::<Body>(br#"{"name": 3, "amount": 5}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedJson);
        // Too large for i64 at all.
        let e =
            parse_json::<Body>(br#"{"name": "x", "amount": 99999999999999999999}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedJson);
    }

    #[test]
    fn each_bound_is_its_own_schema() {
        use utoipa::ToSchema;
        assert_eq!(<Line<80> as ToSchema>::name(), "Line80");
        assert_eq!(<Text<4000> as ToSchema>::name(), "Text4000");
        assert_eq!(<Int<-5, 10> as ToSchema>::name(), "IntMinus5To10");
        assert!(
            check_line("x", "a\u{85}b", 10).is_err(),
            "C1 controls are refused"
        );
    }

    #[test]
    fn schemas_document_the_rules() {
        let s = serde_json::to_value(<Line<80> as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(s["maxLength"], 80);
        assert_eq!(s["pattern"], LINE_PATTERN);
        let s = serde_json::to_value(<Int<1, 500> as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(
            (s["minimum"].as_f64(), s["maximum"].as_f64()),
            (Some(1.0), Some(500.0))
        );
    }
}
