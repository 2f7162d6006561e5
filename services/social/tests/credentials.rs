//! Channel credentials sealed at rest: round trips, key rotation, tamper
//! and misuse detection, and input that must never panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use social::credentials::{
    channel_aad, generate_key, CredentialError, Keyring, KeyringConfig, Sealed,
};
use std::collections::BTreeMap;

const TOKEN: &str = "EAAB-page-token-that-must-stay-secret";

fn config(current: &str, keys: &[(&str, &SecretString)]) -> KeyringConfig {
    KeyringConfig {
        current_key_id: current.into(),
        keys: keys
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

#[test]
fn round_trip() {
    let k1 = generate_key();
    let ring = Keyring::from_config(&config("k1", &[("k1", &k1)])).unwrap();
    let aad = channel_aad("0190a4b2-channel-1");
    let sealed = ring.seal(TOKEN.as_bytes(), &aad).unwrap();
    assert!(sealed.as_str().starts_with("v1:k1:"));
    assert!(!sealed.as_str().contains(TOKEN));
    assert_eq!(&ring.open(&sealed, &aad).unwrap()[..], TOKEN.as_bytes());

    let secret = ring.seal_secret(&SecretString::from(TOKEN), &aad).unwrap();
    assert_eq!(
        ring.open_secret(&secret, &aad).unwrap().expose_secret(),
        TOKEN
    );
    // Stored as text and read back.
    let stored = serde_json::to_string(&secret).unwrap();
    let back: Sealed = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        ring.open_secret(back.as_str(), &aad)
            .unwrap()
            .expose_secret(),
        TOKEN
    );
    // Empty plaintexts are fine too.
    let empty = ring.seal(b"", &aad).unwrap();
    assert!(ring.open(&empty, &aad).unwrap().is_empty());
}

#[test]
fn rotation_keeps_old_values_readable_and_reseal_moves_them() {
    let k1 = generate_key();
    let k2 = generate_key();
    let aad = channel_aad("channel-7");
    let old_ring = Keyring::from_config(&config("k1", &[("k1", &k1)])).unwrap();
    let sealed = old_ring.seal(TOKEN.as_bytes(), &aad).unwrap();
    assert_eq!(sealed.key_id(), Some("k1"));

    // k2 becomes current; k1 stays for reading.
    let ring = Keyring::from_config(&config("k2", &[("k1", &k1), ("k2", &k2)])).unwrap();
    assert_eq!(ring.current_key_id(), "k2");
    assert!(ring.needs_reseal(&sealed));
    assert_eq!(&ring.open(&sealed, &aad).unwrap()[..], TOKEN.as_bytes());
    let fresh = ring.seal(b"new", &aad).unwrap();
    assert_eq!(fresh.key_id(), Some("k2"));

    let moved = ring.reseal(&sealed, &aad).unwrap();
    assert_eq!(moved.key_id(), Some("k2"));
    assert!(!ring.needs_reseal(&moved));
    assert_eq!(&ring.open(&moved, &aad).unwrap()[..], TOKEN.as_bytes());
    // Resealing binds to the same channel.
    assert_eq!(
        ring.open(&moved, &channel_aad("channel-8")).unwrap_err(),
        CredentialError::Tampered
    );

    // Once k1 is retired, only the resealed value opens.
    let retired = Keyring::from_config(&config("k2", &[("k2", &k2)])).unwrap();
    assert_eq!(&retired.open(&moved, &aad).unwrap()[..], TOKEN.as_bytes());
    assert_eq!(
        retired.open(&sealed, &aad).unwrap_err(),
        CredentialError::UnknownKeyId("k1".into())
    );
}

#[test]
fn any_flipped_bit_is_detected() {
    let k1 = generate_key();
    let ring = Keyring::from_config(&config("k1", &[("k1", &k1)])).unwrap();
    let aad = channel_aad("c");
    let sealed = ring.seal(TOKEN.as_bytes(), &aad).unwrap();
    let parts: Vec<&str> = sealed.as_str().split(':').collect();
    let nonce = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let ct = URL_SAFE_NO_PAD.decode(parts[3]).unwrap();

    // Every byte of the ciphertext and tag, and of the nonce.
    for i in 0..ct.len() {
        let mut bad = ct.clone();
        bad[i] ^= 0x01;
        let s = format!("v1:k1:{}:{}", parts[2], URL_SAFE_NO_PAD.encode(&bad));
        assert_eq!(
            ring.open(&s, &aad).unwrap_err(),
            CredentialError::Tampered,
            "byte {i}"
        );
    }
    for i in 0..nonce.len() {
        let mut bad = nonce.clone();
        bad[i] ^= 0x80;
        let s = format!("v1:k1:{}:{}", URL_SAFE_NO_PAD.encode(&bad), parts[3]);
        assert_eq!(
            ring.open(&s, &aad).unwrap_err(),
            CredentialError::Tampered,
            "nonce {i}"
        );
    }
    // A truncated tag.
    let s = format!(
        "v1:k1:{}:{}",
        parts[2],
        URL_SAFE_NO_PAD.encode(&ct[..ct.len() - 1])
    );
    assert_eq!(ring.open(&s, &aad).unwrap_err(), CredentialError::Tampered);
}

#[test]
fn the_key_id_is_authenticated() {
    // Two keys with the same bytes: relabelling a value still fails.
    let k = generate_key();
    let ring = Keyring::from_config(&config("a", &[("a", &k), ("b", &k)])).unwrap();
    let sealed = ring.seal(TOKEN.as_bytes(), b"c").unwrap();
    let relabelled = sealed.as_str().replacen("v1:a:", "v1:b:", 1);
    assert_eq!(
        ring.open(&relabelled, b"c").unwrap_err(),
        CredentialError::Tampered
    );
}

#[test]
fn wrong_associated_data_is_refused() {
    let k1 = generate_key();
    let ring = Keyring::from_config(&config("k1", &[("k1", &k1)])).unwrap();
    let sealed = ring
        .seal(TOKEN.as_bytes(), &channel_aad("channel-1"))
        .unwrap();
    for aad in [channel_aad("channel-2"), Vec::new(), b"channel-1".to_vec()] {
        assert_eq!(
            ring.open(&sealed, &aad).unwrap_err(),
            CredentialError::Tampered
        );
    }
    assert_eq!(
        ring.reseal(&sealed, &channel_aad("channel-2")).unwrap_err(),
        CredentialError::Tampered
    );
}

#[test]
fn unknown_key_id_and_other_keys_are_refused() {
    let k1 = generate_key();
    let other = generate_key();
    let ring = Keyring::from_config(&config("k1", &[("k1", &k1)])).unwrap();
    let foreign = Keyring::from_config(&config("k9", &[("k9", &other)])).unwrap();
    let sealed = foreign.seal(TOKEN.as_bytes(), b"c").unwrap();
    let e = ring.open(&sealed, b"c").unwrap_err();
    assert_eq!(e, CredentialError::UnknownKeyId("k9".into()));
    assert!(e.to_string().contains("\"k9\""));
    // The same id but another key.
    let impostor = Keyring::from_config(&config("k1", &[("k1", &other)])).unwrap();
    let sealed = impostor.seal(TOKEN.as_bytes(), b"c").unwrap();
    assert_eq!(
        ring.open(&sealed, b"c").unwrap_err(),
        CredentialError::Tampered
    );
}

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    let k1 = generate_key();
    let ring = Keyring::from_config(&config("k1", &[("k1", &k1)])).unwrap();
    let good = ring.seal(b"x", b"").unwrap();
    let parts: Vec<&str> = good.as_str().split(':').collect();
    let long = "A".repeat(2 << 20);
    let cases: Vec<String> = vec![
        String::new(),
        ":".into(),
        ":::".into(),
        "v1".into(),
        "v1:k1".into(),
        "v1:k1:".into(),
        format!("v1:k1:{}", parts[2]),
        format!("v1:k1:{}:", parts[2]),
        format!("v1:k1::{}", parts[3]),
        format!("v2:k1:{}:{}", parts[2], parts[3]),
        format!("V1:k1:{}:{}", parts[2], parts[3]),
        format!("v1::{}:{}", parts[2], parts[3]),
        format!("v1:k 1:{}:{}", parts[2], parts[3]),
        format!("v1:k1:{}:{}", "!!!!", parts[3]),
        format!("v1:k1:{}:{}", parts[2], "***"),
        format!("v1:k1:{}:{}", &parts[2][..4], parts[3]),
        format!("v1:k1:{}:{}", parts[2], "AAAA"),
        format!("v1:k1:{}:{}:extra", parts[2], parts[3]),
        format!("v1:k1:{}=:{}", parts[2], parts[3]),
        "v1:k1:ü:ü".into(),
        "\0\0\0".into(),
        long,
    ];
    for c in &cases {
        let r = ring.open(c, b"");
        assert!(
            r.is_err(),
            "{:?} opened",
            c.chars().take(40).collect::<String>()
        );
        let e = r.unwrap_err();
        assert!(
            matches!(
                e,
                CredentialError::Malformed(_)
                    | CredentialError::UnsupportedVersion(_)
                    | CredentialError::UnknownKeyId(_)
                    | CredentialError::Tampered
            ),
            "{e:?}"
        );
    }
    assert_eq!(
        ring.open(format!("v2:k1:{}:{}", parts[2], parts[3]), b"")
            .unwrap_err(),
        CredentialError::UnsupportedVersion("v2".into())
    );
    // Bytes derived from a pseudo-random walk over printable input.
    let mut state = 0x2545f4914f6cdd1du64;
    for _ in 0..2_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 80) as usize;
        let s: String = (0..len)
            .map(|i| {
                let b = ((state >> (i % 56)) as u8 % 64) + 0x2d;
                char::from(b)
            })
            .collect();
        let _ = ring.open(format!("v1:k1:{s}"), b"");
        let _ = ring.open(&s, b"");
    }
}

#[test]
fn bad_configuration_names_the_key_not_its_value() {
    let good = generate_key();
    let short = SecretString::from("c2hvcnQta2V5");
    let e = Keyring::from_config(&config("k1", &[("k1", &short)])).unwrap_err();
    assert!(
        matches!(&e, CredentialError::Config(m) if m.contains("\"k1\"") && m.contains("9 bytes")),
        "{e:?}"
    );
    assert!(!e.to_string().contains("c2hvcnQta2V5"));
    let bad = SecretString::from("not base64 at all!");
    assert!(Keyring::from_config(&config("k1", &[("k1", &bad)])).is_err());
    assert!(Keyring::from_config(&config("k2", &[("k1", &good)])).is_err());
    assert!(Keyring::from_config(&config("k:1", &[("k:1", &good)])).is_err());
    assert!(Keyring::from_config(&config("k1", &[])).is_err());
}

#[test]
fn debug_never_shows_keys_or_plaintext() {
    let k1 = generate_key();
    let cfg = config("k1", &[("k1", &k1)]);
    let ring = Keyring::from_config(&cfg).unwrap();
    let key = k1.expose_secret().to_owned();
    for d in [format!("{ring:?}"), format!("{cfg:?}"), format!("{k1:?}")] {
        assert!(!d.contains(&key), "{d}");
    }
    assert_eq!(
        format!("{ring:?}"),
        "Keyring { current: \"k1\", key_ids: [\"k1\"] }"
    );
    let secret = ring
        .open_secret(ring.seal(TOKEN.as_bytes(), b"").unwrap(), b"")
        .unwrap();
    assert!(!format!("{secret:?}").contains(TOKEN));
    let sealed = ring.seal(TOKEN.as_bytes(), b"").unwrap();
    assert_eq!(format!("{sealed:?}"), "Sealed(v1:k1:…)");
}
