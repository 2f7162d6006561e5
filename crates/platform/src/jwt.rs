//! Compact JWS (JWT) with HMAC-SHA256 and key ids, for the gateway's access
//! tokens and the internal tokens it forwards to services.
//!
//! Verification accepts exactly `alg: HS256` with a known `kid`; anything
//! else (`none`, other algorithms, unknown keys, bad signatures, expired
//! tokens) is rejected. Signatures are compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not accepted")]
    Algorithm,
    #[error("token key id is unknown")]
    UnknownKey,
    #[error("token signature is invalid")]
    Signature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token audience or issuer is wrong")]
    Audience,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// Registered claims every token carries.
pub trait Claims: Serialize + DeserializeOwned {
    fn exp(&self) -> i64;
    fn iat(&self) -> i64;
    fn aud(&self) -> &str;
    fn iss(&self) -> &str;
}

/// A signing key and the set of keys accepted for verification.
#[derive(Clone)]
pub struct KeySet {
    current_kid: String,
    keys: Vec<(String, SecretString)>,
}

impl KeySet {
    /// `keys[0]` signs; all verify (so a rotated-out key keeps working until removed).
    pub fn new(keys: Vec<(String, SecretString)>) -> Option<KeySet> {
        let current_kid = keys.first()?.0.clone();
        Some(KeySet { current_kid, keys })
    }

    /// One key that signs and verifies.
    pub fn single(kid: &str, secret: SecretString) -> KeySet {
        KeySet {
            current_kid: kid.to_owned(),
            keys: vec![(kid.to_owned(), secret)],
        }
    }

    pub fn current_kid(&self) -> &str {
        &self.current_kid
    }

    fn key(&self, kid: &str) -> Option<&SecretString> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, s)| s)
    }

    pub fn sign<C: Claims>(&self, claims: &C) -> Result<String, JwtError> {
        let header = Header {
            alg: "HS256".into(),
            typ: Some("JWT".into()),
            kid: Some(self.current_kid.clone()),
        };
        let h = serde_json::to_vec(&header).map_err(|_| JwtError::Malformed)?;
        let c = serde_json::to_vec(claims).map_err(|_| JwtError::Malformed)?;
        let signing_input = format!("{}.{}", B64.encode(h), B64.encode(c));
        let key = self.key(&self.current_kid).ok_or(JwtError::UnknownKey)?;
        let mut mac = HmacSha256::new_from_slice(key.expose_secret().as_bytes())
            .map_err(|_| JwtError::UnknownKey)?;
        mac.update(signing_input.as_bytes());
        let sig = mac.finalize().into_bytes();
        Ok(format!("{signing_input}.{}", B64.encode(sig)))
    }

    /// Verifies signature, algorithm, key id, expiry, audience and issuer.
    pub fn verify<C: Claims>(
        &self,
        token: &str,
        aud: &str,
        iss: &str,
        now: i64,
    ) -> Result<C, JwtError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwtError::Malformed)?;
        if header.alg != "HS256" {
            return Err(JwtError::Algorithm);
        }
        let kid = header.kid.ok_or(JwtError::UnknownKey)?;
        let key = self.key(&kid).ok_or(JwtError::UnknownKey)?;
        let sig = B64.decode(s).map_err(|_| JwtError::Malformed)?;
        let mut mac = HmacSha256::new_from_slice(key.expose_secret().as_bytes())
            .map_err(|_| JwtError::UnknownKey)?;
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(c.as_bytes());
        mac.verify_slice(&sig).map_err(|_| JwtError::Signature)?;
        let claims: C = B64
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwtError::Malformed)?;
        if claims.exp() <= now {
            return Err(JwtError::Expired);
        }
        // Allow a little clock skew between replicas.
        if claims.iat() > now + 30 {
            return Err(JwtError::NotYetValid);
        }
        if claims.aud() != aud || claims.iss() != iss {
            return Err(JwtError::Audience);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct C {
        sub: String,
        exp: i64,
        iat: i64,
        aud: String,
        iss: String,
    }
    impl Claims for C {
        fn exp(&self) -> i64 {
            self.exp
        }
        fn iat(&self) -> i64 {
            self.iat
        }
        fn aud(&self) -> &str {
            &self.aud
        }
        fn iss(&self) -> &str {
            &self.iss
        }
    }

    fn keys() -> KeySet {
        KeySet::new(vec![
            (
                "k2".into(),
                SecretString::from("second-key-0123456789abcdef0123456789"),
            ),
            (
                "k1".into(),
                SecretString::from("first-key-0123456789abcdef01234567890"),
            ),
        ])
        .unwrap()
    }

    fn claims(exp: i64) -> C {
        C {
            sub: "u".into(),
            exp,
            iat: 100,
            aud: "a".into(),
            iss: "i".into(),
        }
    }

    #[test]
    fn round_trip() {
        let t = keys().sign(&claims(200)).unwrap();
        let c: C = keys().verify(&t, "a", "i", 150).unwrap();
        assert_eq!(c, claims(200));
    }

    #[test]
    fn expired_and_wrong_audience() {
        let t = keys().sign(&claims(200)).unwrap();
        assert_eq!(
            keys().verify::<C>(&t, "a", "i", 200),
            Err(JwtError::Expired)
        );
        assert_eq!(
            keys().verify::<C>(&t, "b", "i", 150),
            Err(JwtError::Audience)
        );
    }

    #[test]
    fn tampered_payload_fails() {
        let t = keys().sign(&claims(200)).unwrap();
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        let mut c = claims(200);
        c.sub = "admin".into();
        parts[1] = B64.encode(serde_json::to_vec(&c).unwrap());
        assert_eq!(
            keys().verify::<C>(&parts.join("."), "a", "i", 150),
            Err(JwtError::Signature)
        );
    }

    #[test]
    fn alg_none_and_unknown_kid_fail() {
        let t = keys().sign(&claims(200)).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let none = B64.encode(br#"{"alg":"none","typ":"JWT","kid":"k2"}"#);
        assert_eq!(
            keys().verify::<C>(&format!("{none}.{}.", parts[1]), "a", "i", 150),
            Err(JwtError::Algorithm)
        );
        let other = KeySet::new(vec![("k9".into(), SecretString::from("x".repeat(40)))]).unwrap();
        let t9 = other.sign(&claims(200)).unwrap();
        assert_eq!(
            keys().verify::<C>(&t9, "a", "i", 150),
            Err(JwtError::UnknownKey)
        );
    }

    #[test]
    fn rotated_key_still_verifies() {
        let old = KeySet::new(vec![(
            "k1".into(),
            SecretString::from("first-key-0123456789abcdef01234567890"),
        )])
        .unwrap();
        let t = old.sign(&claims(200)).unwrap();
        assert!(keys().verify::<C>(&t, "a", "i", 150).is_ok());
    }
}
