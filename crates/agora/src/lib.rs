//! Agora access tokens, written from Agora's published token format:
//!
//! * **AccessToken2 (`007`)**: one token for several services (RTC: join a
//!   channel, publish audio, video and data streams; RTM: log in), each
//!   privilege with its own expiry, signed with a key derived from the app
//!   certificate, the issue time and a salt, then zlib-compressed;
//! * **AccessToken (`006`)**: the legacy RTC token (no compression);
//! * the Notification Center's `Agora-Signature-V2` check
//!   ([`notification_signature_is_valid`]).
//!
//! A token that differs from Agora's reference builders by one byte is
//! refused by Agora, so every byte here follows their layout: little-endian
//! integers, strings and byte strings as a `u16` length then the bytes,
//! services sorted by type and privileges by id, standard base64 with
//! padding, and zlib at the default level (the C library: see Cargo.toml).
//! `../shared/reference/agora/check.py --strict` checks the `media
//! agora-token` command built on [`token_from_json`]; the tests here check
//! the same vectors.
//!
//! The app id and certificate are used as text (their ASCII bytes), never
//! hex-decoded.

#![forbid(unsafe_code)]

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    #[error("{field} is too long ({len} bytes; at most 65535)")]
    TooLong { field: &'static str, len: usize },
}

fn invalid(msg: impl Into<String>) -> TokenError {
    TokenError::Invalid(msg.into())
}

/// RTC privileges (AccessToken2 service type 1, and the 006 token).
pub mod rtc {
    pub const JOIN_CHANNEL: u16 = 1;
    pub const PUBLISH_AUDIO_STREAM: u16 = 2;
    pub const PUBLISH_VIDEO_STREAM: u16 = 3;
    pub const PUBLISH_DATA_STREAM: u16 = 4;
}

/// RTM privileges (AccessToken2 service type 2).
pub mod rtm {
    pub const LOGIN: u16 = 1;
}

/// Service types of AccessToken2 this crate builds.
pub const SERVICE_RTC: u16 = 1;
pub const SERVICE_RTM: u16 = 2;

/// A user in a token: a numeric uid (written as decimal text, 0 as the
/// empty string, meaning any user) or a string account (as it is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uid {
    Number(u32),
    Account(String),
}

impl Uid {
    pub fn text(&self) -> String {
        match self {
            Uid::Number(0) => String::new(),
            Uid::Number(n) => n.to_string(),
            Uid::Account(s) => s.clone(),
        }
    }
}

/// One service of an AccessToken2 and its privileges (`(id, seconds after
/// the issue time)`; 0 means the privilege never expires within the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Service {
    Rtc {
        channel_name: String,
        uid: Uid,
        privileges: Vec<(u16, u32)>,
    },
    Rtm {
        user_id: String,
        privileges: Vec<(u16, u32)>,
    },
}

impl Service {
    fn kind(&self) -> u16 {
        match self {
            Service::Rtc { .. } => SERVICE_RTC,
            Service::Rtm { .. } => SERVICE_RTM,
        }
    }

    fn privileges(&self) -> &[(u16, u32)] {
        match self {
            Service::Rtc { privileges, .. } | Service::Rtm { privileges, .. } => privileges,
        }
    }

    fn pack(&self, out: &mut Vec<u8>) -> Result<(), TokenError> {
        put_u16(out, self.kind());
        pack_privileges(out, self.privileges())?;
        match self {
            Service::Rtc {
                channel_name, uid, ..
            } => {
                put_bytes(out, "channel_name", channel_name.as_bytes())?;
                put_bytes(out, "uid", uid.text().as_bytes())?;
            }
            Service::Rtm { user_id, .. } => put_bytes(out, "user_id", user_id.as_bytes())?,
        }
        Ok(())
    }
}

/// The RTC privileges of a role, each valid for `expire` seconds after the
/// issue time: a publisher (1) may join and publish audio, video and data;
/// a subscriber (2) may only join.
pub fn rtc_role_privileges(role: u8, expire: u32) -> Result<Vec<(u16, u32)>, TokenError> {
    match role {
        1 => Ok(vec![
            (rtc::JOIN_CHANNEL, expire),
            (rtc::PUBLISH_AUDIO_STREAM, expire),
            (rtc::PUBLISH_VIDEO_STREAM, expire),
            (rtc::PUBLISH_DATA_STREAM, expire),
        ]),
        2 => Ok(vec![(rtc::JOIN_CHANNEL, expire)]),
        _ => Err(invalid(format!(
            "role {role} is neither 1 (publisher) nor 2 (subscriber)"
        ))),
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, field: &'static str, b: &[u8]) -> Result<(), TokenError> {
    let len = u16::try_from(b.len()).map_err(|_| TokenError::TooLong {
        field,
        len: b.len(),
    })?;
    put_u16(out, len);
    out.extend_from_slice(b);
    Ok(())
}

/// Privileges as a map: sorted by id, the last value given for an id wins.
fn pack_privileges(out: &mut Vec<u8>, privileges: &[(u16, u32)]) -> Result<(), TokenError> {
    let mut sorted: Vec<(usize, u16, u32)> = privileges
        .iter()
        .enumerate()
        .map(|(i, &(id, v))| (i, id, v))
        .collect();
    // By id, and for one id the last given first; then one per id.
    sorted.sort_unstable_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
    sorted.dedup_by_key(|p| p.1);
    let n = u16::try_from(sorted.len()).map_err(|_| invalid("too many privileges"))?;
    put_u16(out, n);
    for (_, id, value) in sorted {
        put_u16(out, id);
        put_u32(out, value);
    }
    Ok(())
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, TokenError> {
    // HMAC takes keys of any length; the error cannot happen.
    let mut mac = HmacSha256::new_from_slice(key).map_err(|e| invalid(format!("HMAC key: {e}")))?;
    for p in parts {
        mac.update(p);
    }
    Ok(mac.finalize().into_bytes().to_vec())
}

fn check_app_text(name: &'static str, v: &str) -> Result<(), TokenError> {
    if v.len() != 32 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!("{name} must be 32 hexadecimal characters")));
    }
    Ok(())
}

/// An AccessToken2 to build.
#[derive(Clone, Debug)]
pub struct AccessToken2 {
    pub app_id: String,
    pub app_certificate: String,
    /// Unix seconds.
    pub issue_ts: u32,
    /// Seconds after `issue_ts` the token is valid for.
    pub expire: u32,
    pub salt: u32,
    pub services: Vec<Service>,
}

impl AccessToken2 {
    /// The signed content before compression: the signature (as a byte
    /// string) then the message.
    pub fn content(&self) -> Result<Vec<u8>, TokenError> {
        check_app_text("app_id", &self.app_id)?;
        check_app_text("app_certificate", &self.app_certificate)?;
        if self.services.is_empty() {
            return Err(invalid("a token needs at least one service"));
        }
        let mut message = Vec::with_capacity(128);
        put_bytes(&mut message, "app_id", self.app_id.as_bytes())?;
        put_u32(&mut message, self.issue_ts);
        put_u32(&mut message, self.expire);
        put_u32(&mut message, self.salt);
        // One service per type (a later one replaces an earlier one, as in
        // Agora's builders, which keep them in a map by type), sorted.
        let mut by_type: Vec<(usize, &Service)> = self.services.iter().enumerate().collect();
        by_type.sort_unstable_by(|a, b| a.1.kind().cmp(&b.1.kind()).then(b.0.cmp(&a.0)));
        by_type.dedup_by_key(|(_, s)| s.kind());
        let n = u16::try_from(by_type.len()).map_err(|_| invalid("too many services"))?;
        put_u16(&mut message, n);
        for (_, s) in by_type {
            s.pack(&mut message)?;
        }
        // The signing key: HMAC over the certificate keyed with the issue
        // time, then HMAC over that keyed with the salt.
        let first = hmac(
            &self.issue_ts.to_le_bytes(),
            &[self.app_certificate.as_bytes()],
        )?;
        let signing_key = hmac(&self.salt.to_le_bytes(), &[&first])?;
        let signature = hmac(&signing_key, &[&message])?;
        let mut content = Vec::with_capacity(message.len() + 40);
        put_bytes(&mut content, "signature", &signature)?;
        content.extend_from_slice(&message);
        Ok(content)
    }

    /// `007` + base64(zlib(content)).
    pub fn build(&self) -> Result<String, TokenError> {
        let content = self.content()?;
        let compressed = zlib(&content)?;
        Ok(format!(
            "007{}",
            base64::engine::general_purpose::STANDARD.encode(compressed)
        ))
    }
}

thread_local! {
    /// One zlib compressor per thread, reset for each token: initialising
    /// one allocates and clears ~256 KB, most of a token's cost; a reset
    /// stream compresses exactly as a new one.
    static DEFLATE: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::default(), true));
}

/// A zlib stream of `data` at the default level, as `zlib.compress` makes it.
fn zlib(data: &[u8]) -> Result<Vec<u8>, TokenError> {
    DEFLATE.with(|cell| {
        let mut z = cell.borrow_mut();
        z.reset();
        let mut out = Vec::with_capacity(data.len() + 64);
        loop {
            let read = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
            let rest = data.get(read..).unwrap_or_default();
            let status = z
                .compress_vec(rest, &mut out, flate2::FlushCompress::Finish)
                .map_err(|e| invalid(format!("compressing: {e}")))?;
            match status {
                flate2::Status::StreamEnd => return Ok(out),
                // The output is full: give it more room and go on.
                flate2::Status::Ok | flate2::Status::BufError => out.reserve(out.len().max(64)),
            }
        }
    })
}

/// A legacy AccessToken (`006`) to build.
#[derive(Clone, Debug)]
pub struct AccessToken006 {
    pub app_id: String,
    pub app_certificate: String,
    pub channel_name: String,
    pub uid: Uid,
    pub salt: u32,
    /// Unix seconds when the token expires.
    pub ts: u32,
    /// `(privilege id, absolute Unix seconds; 0 = never)`.
    pub privileges: Vec<(u16, u32)>,
}

impl AccessToken006 {
    /// `006` + app id + base64(content).
    pub fn build(&self) -> Result<String, TokenError> {
        check_app_text("app_id", &self.app_id)?;
        check_app_text("app_certificate", &self.app_certificate)?;
        let uid = self.uid.text();
        let mut message = Vec::with_capacity(64);
        put_u32(&mut message, self.salt);
        put_u32(&mut message, self.ts);
        pack_privileges(&mut message, &self.privileges)?;
        let signature = hmac(
            self.app_certificate.as_bytes(),
            &[
                self.app_id.as_bytes(),
                self.channel_name.as_bytes(),
                uid.as_bytes(),
                &message,
            ],
        )?;
        let mut content = Vec::with_capacity(message.len() + 48);
        put_bytes(&mut content, "signature", &signature)?;
        put_u32(&mut content, crc32fast::hash(self.channel_name.as_bytes()));
        put_u32(&mut content, crc32fast::hash(uid.as_bytes()));
        put_bytes(&mut content, "message", &message)?;
        Ok(format!(
            "006{}{}",
            self.app_id,
            base64::engine::general_purpose::STANDARD.encode(content)
        ))
    }
}

// ------------------------------------------------------ notifications

/// Whether `signature` (the `Agora-Signature-V2` header: lower- or
/// upper-case hex) is the HMAC-SHA256 of the raw request body keyed with
/// the Notification Center secret. Compared in constant time; anything
/// malformed is simply not valid.
pub fn notification_signature_is_valid(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(expected) = hex::decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

// ------------------------------------------------------------ JSON input

/// A uid as JSON: a number (decimal text, 0 = any user) or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonUid {
    Number(u32),
    Text(String),
}

impl From<JsonUid> for Uid {
    fn from(u: JsonUid) -> Uid {
        match u {
            JsonUid::Number(n) => Uid::Number(n),
            JsonUid::Text(s) => Uid::Account(s),
        }
    }
}

#[derive(Deserialize)]
struct JsonService {
    #[serde(rename = "type")]
    kind: u16,
    #[serde(default)]
    privileges: Vec<(u16, u32)>,
    channel_name: Option<String>,
    uid: Option<JsonUid>,
    user_id: Option<String>,
}

#[derive(Deserialize)]
struct JsonToken {
    version: String,
    app_id: String,
    app_certificate: String,
    // 007
    issue_ts: Option<u32>,
    salt: Option<u32>,
    expire: Option<u32>,
    #[serde(default)]
    services: Vec<JsonService>,
    // 006
    channel_name: Option<String>,
    uid: Option<JsonUid>,
    ts: Option<u32>,
    #[serde(default)]
    privileges: Vec<(u16, u32)>,
}

fn need<T>(v: Option<T>, field: &str) -> Result<T, TokenError> {
    v.ok_or_else(|| invalid(format!("{field} is missing")))
}

/// Builds the token a JSON description asks for (the input format of
/// `../shared/reference/agora/check.py`: `version` `"007"` with `issue_ts`,
/// `salt`, `expire` and `services`, or `"006"` with `channel_name`, `uid`,
/// `salt`, `ts` and `privileges`).
pub fn token_from_json(input: &str) -> Result<String, TokenError> {
    let t: JsonToken =
        serde_json::from_str(input).map_err(|e| invalid(format!("invalid input: {e}")))?;
    match t.version.as_str() {
        "007" => {
            let services = t
                .services
                .into_iter()
                .enumerate()
                .map(|(i, s)| match s.kind {
                    SERVICE_RTC => Ok(Service::Rtc {
                        channel_name: need(s.channel_name, &format!("services[{i}].channel_name"))?,
                        uid: need(s.uid, &format!("services[{i}].uid"))?.into(),
                        privileges: s.privileges,
                    }),
                    SERVICE_RTM => Ok(Service::Rtm {
                        user_id: need(s.user_id, &format!("services[{i}].user_id"))?,
                        privileges: s.privileges,
                    }),
                    other => Err(invalid(format!(
                        "services[{i}].type {other} is not supported (1 rtc, 2 rtm)"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            AccessToken2 {
                app_id: t.app_id,
                app_certificate: t.app_certificate,
                issue_ts: need(t.issue_ts, "issue_ts")?,
                expire: need(t.expire, "expire")?,
                salt: need(t.salt, "salt")?,
                services,
            }
            .build()
        }
        "006" => AccessToken006 {
            app_id: t.app_id,
            app_certificate: t.app_certificate,
            channel_name: need(t.channel_name, "channel_name")?,
            uid: need(t.uid, "uid")?.into(),
            salt: need(t.salt, "salt")?,
            ts: need(t.ts, "ts")?,
            privileges: t.privileges,
        }
        .build(),
        other => Err(invalid(format!(
            "version {other:?} is neither \"007\" nor \"006\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const APP_ID: &str = "970CA35de60c44645bbae8a215061b33";
    const CERT: &str = "5CFd2fd1755d40ecb72977518be15d3b";

    /// Agora's reference vectors, when the shared reference data sits
    /// beside the checkout (`../shared/reference/agora`).
    fn vectors() -> Option<serde_json::Value> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/agora/sample_vectors.json");
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    #[test]
    fn the_reference_vectors_are_reproduced_byte_for_byte() {
        let Some(cases) = vectors() else {
            eprintln!("no ../shared/reference/agora beside the checkout: skipped");
            return;
        };
        let cases = cases.as_array().unwrap();
        assert!(cases.len() >= 4);
        for case in cases {
            let input = serde_json::to_string(case).unwrap();
            let token = token_from_json(&input).unwrap();
            assert_eq!(
                token,
                case["expected_token"].as_str().unwrap(),
                "{}",
                case["id"]
            );
        }
    }

    /// The reference's first case, written out here so the test runs
    /// without the shared data too: RTC, uid 2882341273, join for 600 s.
    #[test]
    fn an_rtc_token_equals_agoras() {
        let t = AccessToken2 {
            app_id: APP_ID.into(),
            app_certificate: CERT.into(),
            issue_ts: 1_111_111,
            expire: 600,
            salt: 1,
            services: vec![Service::Rtc {
                channel_name: "7d72365eb983485397e3e3f9d460bdda".into(),
                uid: Uid::Number(2_882_341_273),
                privileges: rtc_role_privileges(2, 600).unwrap(),
            }],
        };
        assert_eq!(
            t.build().unwrap(),
            "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj"
        );
        // A string account with the same digits is the same token.
        let mut account = t.clone();
        account.services = vec![Service::Rtc {
            channel_name: "7d72365eb983485397e3e3f9d460bdda".into(),
            uid: Uid::Account("2882341273".into()),
            privileges: vec![(rtc::JOIN_CHANNEL, 600)],
        }];
        assert_eq!(account.build().unwrap(), t.build().unwrap());
    }

    #[test]
    fn a_legacy_006_token_equals_agoras() {
        let t = AccessToken006 {
            app_id: APP_ID.into(),
            app_certificate: CERT.into(),
            channel_name: "7d72365eb983485397e3e3f9d460bdda".into(),
            uid: Uid::Number(2_882_341_273),
            salt: 1,
            ts: 1_111_111,
            privileges: vec![(rtc::JOIN_CHANNEL, 1_446_455_471)],
        };
        assert_eq!(
            t.build().unwrap(),
            "006970CA35de60c44645bbae8a215061b33IACV0fZUBw+72cVoL9eyGGh3Q6Poi8bgjwVLnyKSJyOXR7dIfRBXoFHlEAABAAAAR/QQAAEAAQCvKDdW"
        );
    }

    #[test]
    fn notification_signatures_are_checked_over_the_raw_body() {
        let secret = b"ncs-secret";
        let body = br#"{"noticeId":"2000001428:4330:107","productId":1,"eventType":103,"notifyMs":1611566412672,"payload":{"channelName":"c","uid":7,"platform":1,"clientSeq":1625051030746,"ts":1560396843}}"#;
        let good = hex::encode(hmac(secret, &[body]).unwrap());
        assert!(notification_signature_is_valid(secret, body, &good));
        assert!(notification_signature_is_valid(
            secret,
            body,
            &good.to_uppercase()
        ));
        // Another secret, a changed byte, a truncated or non-hex header.
        assert!(!notification_signature_is_valid(b"other", body, &good));
        let mut changed = body.to_vec();
        changed[10] ^= 1;
        assert!(!notification_signature_is_valid(secret, &changed, &good));
        assert!(!notification_signature_is_valid(secret, body, &good[..40]));
        assert!(!notification_signature_is_valid(secret, body, "zz"));
        assert!(!notification_signature_is_valid(secret, body, ""));
    }

    #[test]
    fn uid_zero_is_any_user_and_the_string_zero_is_not() {
        assert_eq!(Uid::Number(0).text(), "");
        assert_eq!(Uid::Account("0".into()).text(), "0");
        assert_eq!(Uid::Number(u32::MAX).text(), "4294967295");
    }

    #[test]
    fn services_and_privileges_are_sorted_whatever_the_order_given() {
        let rtc = Service::Rtc {
            channel_name: "c".into(),
            uid: Uid::Number(7),
            privileges: vec![(4, 60), (1, 60), (3, 60), (2, 60)],
        };
        let rtm = Service::Rtm {
            user_id: "u".into(),
            privileges: vec![(rtm::LOGIN, 60)],
        };
        let token = |services: Vec<Service>| {
            AccessToken2 {
                app_id: APP_ID.into(),
                app_certificate: CERT.into(),
                issue_ts: 3_000_000_000,
                expire: 60,
                salt: 99,
                services,
            }
            .content()
            .unwrap()
        };
        assert_eq!(
            token(vec![rtm.clone(), rtc.clone()]),
            token(vec![rtc.clone(), rtm.clone()])
        );
        let sorted = Service::Rtc {
            channel_name: "c".into(),
            uid: Uid::Number(7),
            privileges: rtc_role_privileges(1, 60).unwrap(),
        };
        assert_eq!(token(vec![rtc.clone()]), token(vec![sorted]));
        // For one privilege id, and for one service type, the last wins.
        let twice = Service::Rtm {
            user_id: "u".into(),
            privileges: vec![(rtm::LOGIN, 5), (rtm::LOGIN, 60)],
        };
        assert_eq!(token(vec![twice]), token(vec![rtm.clone()]));
        let other_user = Service::Rtm {
            user_id: "someone else".into(),
            privileges: vec![(rtm::LOGIN, 60)],
        };
        assert_eq!(
            token(vec![other_user, rtc.clone(), rtm.clone()]),
            token(vec![rtc, rtm])
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let e = token_from_json(r#"{"version": "008", "app_id": "x", "app_certificate": "y"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("008"), "{e}");
        let e = token_from_json(&format!(
            r#"{{"version": "007", "app_id": "short", "app_certificate": "{CERT}",
                "issue_ts": 1, "salt": 1, "expire": 1,
                "services": [{{"type": 2, "user_id": "u", "privileges": [[1, 1]]}}]}}"#
        ))
        .unwrap_err();
        assert!(e.to_string().contains("app_id"), "{e}");
        let e = token_from_json(&format!(
            r#"{{"version": "007", "app_id": "{APP_ID}", "app_certificate": "{CERT}",
                "issue_ts": 1, "salt": 1, "expire": 1,
                "services": [{{"type": 1, "uid": 5, "privileges": [[1, 1]]}}]}}"#
        ))
        .unwrap_err();
        assert!(e.to_string().contains("channel_name"), "{e}");
        let long = "x".repeat(70_000);
        let t = AccessToken2 {
            app_id: APP_ID.into(),
            app_certificate: CERT.into(),
            issue_ts: 1,
            expire: 1,
            salt: 1,
            services: vec![Service::Rtm {
                user_id: long,
                privileges: vec![(1, 1)],
            }],
        };
        assert_eq!(
            t.build().unwrap_err(),
            TokenError::TooLong {
                field: "user_id",
                len: 70_000
            }
        );
    }
}
