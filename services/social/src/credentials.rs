//! Channel credentials at rest: AES-256-GCM under a keyring that can be
//! rotated.
//!
//! A sealed value describes itself: `v1:<key id>:<nonce>:<ciphertext>`, the
//! nonce (96 random bits) and the ciphertext (with its 128-bit tag appended)
//! in unpadded base64url. Opening picks the key by its id, so values sealed
//! under an old key still open after `current` moves to a new one;
//! [`Keyring::reseal`] moves a value to the current key.
//!
//! The caller binds every value to where it belongs with the associated
//! data (use [`channel_aad`] with the channel id): a sealed token copied onto
//! another channel's row does not open there. The version and key id are
//! authenticated too.
//!
//! Configuration (`social.credentials` section, keys in standard base64):
//!
//! ```toml
//! [social.credentials]
//! current_key_id = "k2"
//! keys = { k1 = "…44 base64 characters…", k2 = "…" }
//! ```

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The only format version written (and read) today.
const VERSION: &str = "v1";
/// Prefix of the associated data actually authenticated.
const AAD_DOMAIN: &[u8] = b"jyotiflow/social/credentials";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
/// Longest sealed value accepted by [`Keyring::open`] (1 MiB).
pub const MAX_SEALED_LEN: usize = 1 << 20;

/// The `social.credentials` configuration section.
#[derive(Clone, Debug, Deserialize)]
pub struct KeyringConfig {
    /// The key new values are sealed with.
    pub current_key_id: String,
    /// Key id → 32-byte key in standard base64. Keep retired keys here
    /// until every value sealed with them has been resealed.
    pub keys: BTreeMap<String, SecretString>,
}

/// Why credentials could not be sealed or opened. Never carries key
/// material or plaintext.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("credentials keyring configuration: {0}")]
    Config(String),
    #[error("sealed credentials are malformed: {0}")]
    Malformed(&'static str),
    #[error("sealed credentials use format version {0:?}, which this build does not read")]
    UnsupportedVersion(String),
    #[error("sealed credentials name key id {0:?}, which is not in the keyring")]
    UnknownKeyId(String),
    /// Wrong key, wrong associated data (another channel) or altered bytes:
    /// AES-GCM cannot tell these apart, on purpose.
    #[error("sealed credentials do not open: altered, or bound to another channel")]
    Tampered,
    #[error("credentials are too large to seal")]
    TooLarge,
    #[error("opened credentials are not UTF-8 text")]
    NotText,
}

/// A sealed value (`v1:<kid>:<nonce>:<ciphertext>`); safe to store and log.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(String);

impl Sealed {
    /// Wraps text read from storage; checked when opened.
    pub fn from_stored(s: impl Into<String>) -> Sealed {
        Sealed(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The id of the key it was sealed with, if it is well formed.
    pub fn key_id(&self) -> Option<&str> {
        parse(&self.0).ok().map(|p| p.kid)
    }
}

impl AsRef<str> for Sealed {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The ciphertext is not secret, but it is long and useless in logs.
        match self.key_id() {
            Some(kid) => write!(f, "Sealed({VERSION}:{kid}:…)"),
            None => f.write_str("Sealed(<malformed>)"),
        }
    }
}

/// The associated data that binds a sealed value to one channel.
pub fn channel_aad(channel_id: &str) -> Vec<u8> {
    let mut v = b"channel:".to_vec();
    v.extend_from_slice(channel_id.as_bytes());
    v
}

/// A fresh random key in the configuration's format (standard base64).
pub fn generate_key() -> SecretString {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    rand::rngs::OsRng.fill_bytes(key.as_mut());
    SecretString::from(STANDARD.encode(key.as_ref()))
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 32
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

struct Parts<'a> {
    kid: &'a str,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

fn parse(s: &str) -> Result<Parts<'_>, CredentialError> {
    if s.len() > MAX_SEALED_LEN {
        return Err(CredentialError::Malformed("too long"));
    }
    let mut it = s.splitn(4, ':');
    let (Some(version), Some(kid), Some(nonce), Some(ct)) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(CredentialError::Malformed(
            "expected version:key id:nonce:ciphertext",
        ));
    };
    if version != VERSION {
        if version.len() <= 8 && version.starts_with('v') {
            return Err(CredentialError::UnsupportedVersion(version.to_owned()));
        }
        return Err(CredentialError::Malformed("no format version"));
    }
    if !valid_kid(kid) {
        return Err(CredentialError::Malformed("the key id is not valid"));
    }
    let nonce = URL_SAFE_NO_PAD
        .decode(nonce)
        .map_err(|_| CredentialError::Malformed("the nonce is not base64url"))?;
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| CredentialError::Malformed("the nonce is not 96 bits"))?;
    let ciphertext = URL_SAFE_NO_PAD
        .decode(ct)
        .map_err(|_| CredentialError::Malformed("the ciphertext is not base64url"))?;
    if ciphertext.len() < TAG_LEN {
        return Err(CredentialError::Malformed(
            "the ciphertext is shorter than its tag",
        ));
    }
    Ok(Parts {
        kid,
        nonce,
        ciphertext,
    })
}

fn full_aad(kid: &str, aad: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(AAD_DOMAIN.len() + kid.len() + aad.len() + 8);
    v.extend_from_slice(AAD_DOMAIN);
    v.push(0);
    v.extend_from_slice(VERSION.as_bytes());
    v.push(0);
    v.extend_from_slice(kid.as_bytes());
    v.push(0);
    v.extend_from_slice(aad);
    v
}

/// The keys credentials are sealed with. `Debug` names the key ids only.
pub struct Keyring {
    current: String,
    keys: BTreeMap<String, SecretBox<[u8; KEY_LEN]>>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// Checks the whole section: every key id plain (`[A-Za-z0-9._-]`, at
    /// most 32), every key exactly 32 bytes of standard base64, the current
    /// id present. Errors name the bad key id, never the key.
    pub fn from_config(cfg: &KeyringConfig) -> Result<Keyring, CredentialError> {
        if cfg.keys.is_empty() {
            return Err(CredentialError::Config("no keys are configured".into()));
        }
        let mut keys = BTreeMap::new();
        for (kid, b64) in &cfg.keys {
            if !valid_kid(kid) {
                return Err(CredentialError::Config(format!(
                    "key id {kid:?} must be 1 to 32 of A-Z a-z 0-9 . _ -"
                )));
            }
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(b64.expose_secret().trim())
                    .map_err(|_| CredentialError::Config(format!("key {kid:?} is not base64")))?,
            );
            if bytes.len() != KEY_LEN {
                return Err(CredentialError::Config(format!(
                    "key {kid:?} is {} bytes; AES-256 needs 32",
                    bytes.len()
                )));
            }
            let mut key = Box::new([0u8; KEY_LEN]);
            key.copy_from_slice(&bytes);
            keys.insert(kid.clone(), SecretBox::new(key));
        }
        if !keys.contains_key(&cfg.current_key_id) {
            return Err(CredentialError::Config(format!(
                "current_key_id {:?} is not among the keys",
                cfg.current_key_id
            )));
        }
        Ok(Keyring {
            current: cfg.current_key_id.clone(),
            keys,
        })
    }

    /// The id new values are sealed with.
    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    fn cipher(&self, kid: &str) -> Result<Aes256Gcm, CredentialError> {
        let key = self
            .keys
            .get(kid)
            .ok_or_else(|| CredentialError::UnknownKeyId(kid.to_owned()))?;
        Aes256Gcm::new_from_slice(key.expose_secret())
            .map_err(|_| CredentialError::Config("a key has the wrong length".into()))
    }

    /// Seals `plaintext` under the current key, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, CredentialError> {
        // Keep the sealed text under MAX_SEALED_LEN (base64 grows by 4/3).
        if plaintext.len() > MAX_SEALED_LEN / 2 {
            return Err(CredentialError::TooLarge);
        }
        let kid = self.current.as_str();
        let cipher = self.cipher(kid)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = full_aad(kid, aad);
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CredentialError::TooLarge)?;
        Ok(Sealed(format!(
            "{VERSION}:{kid}:{}:{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ct)
        )))
    }

    /// Seals a secret string (an access token).
    pub fn seal_secret(
        &self,
        secret: &SecretString,
        aad: &[u8],
    ) -> Result<Sealed, CredentialError> {
        self.seal(secret.expose_secret().as_bytes(), aad)
    }

    /// Opens a value sealed under any key of the ring, checking `aad`.
    /// Never panics, whatever the input.
    pub fn open(
        &self,
        sealed: impl AsRef<str>,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
        let parts = parse(sealed.as_ref())?;
        let cipher = self.cipher(parts.kid)?;
        let aad = full_aad(parts.kid, aad);
        cipher
            .decrypt(
                Nonce::from_slice(&parts.nonce),
                Payload {
                    msg: &parts.ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CredentialError::Tampered)
    }

    /// Opens a sealed secret string (an access token).
    pub fn open_secret(
        &self,
        sealed: impl AsRef<str>,
        aad: &[u8],
    ) -> Result<SecretString, CredentialError> {
        let bytes = self.open(sealed, aad)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| CredentialError::NotText)?;
        Ok(SecretString::from(text))
    }

    /// Whether `sealed` was sealed under a key other than the current one.
    pub fn needs_reseal(&self, sealed: &Sealed) -> bool {
        sealed.key_id() != Some(self.current.as_str())
    }

    /// Opens `sealed` (under whichever key) and seals it again under the
    /// current key with a fresh nonce; the rotation step. A value already
    /// under the current key is checked and sealed again all the same.
    pub fn reseal(&self, sealed: impl AsRef<str>, aad: &[u8]) -> Result<Sealed, CredentialError> {
        let plain = self.open(sealed, aad)?;
        self.seal(&plain, aad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(current: &str, kids: &[&str]) -> Keyring {
        let keys = kids
            .iter()
            .map(|k| ((*k).to_owned(), generate_key()))
            .collect();
        Keyring::from_config(&KeyringConfig {
            current_key_id: current.into(),
            keys,
        })
        .unwrap()
    }

    #[test]
    fn format_is_self_describing() {
        let r = ring("k1", &["k1"]);
        let s = r.seal(b"token", b"channel:1").unwrap();
        let parts: Vec<_> = s.as_str().split(':').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0], "v1");
        assert_eq!(parts[1], "k1");
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 12);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[3]).unwrap().len(), 5 + 16);
        assert_eq!(s.key_id(), Some("k1"));
    }

    #[test]
    fn nonces_differ() {
        let r = ring("k1", &["k1"]);
        let a = r.seal(b"same", b"x").unwrap();
        let b = r.seal(b"same", b"x").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn config_errors_name_the_key_id_only() {
        let mut keys = BTreeMap::new();
        keys.insert("k1".to_owned(), SecretString::from("c2hvcnQ="));
        let e = Keyring::from_config(&KeyringConfig {
            current_key_id: "k1".into(),
            keys,
        })
        .unwrap_err();
        assert!(e.to_string().contains("\"k1\""), "{e}");
        assert!(!e.to_string().contains("c2hvcnQ="), "{e}");
    }
}
