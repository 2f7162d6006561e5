//! Password policy and Argon2id hashing.
//!
//! Policy: at least `password_min_len` characters (10 by default), at most
//! 128, not one of the most common passwords, and not the account's email
//! or its local part. Hashing runs on the blocking pool, at most a few at a
//! time, so a burst of logins cannot starve the async workers or exhaust
//! memory (each hash takes `argon2_memory_kib`).

use crate::config::AuthConfig;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use platform::AppError;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub const MAX_LEN: usize = 128;

/// Frequently used passwords (from published breach-frequency lists) that
/// meet the length rule and would otherwise be accepted.
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "abcdefghij",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "iloveyou12",
    "iloveyou123",
    "1111111111",
    "0000000000",
    "9876543210",
    "0987654321",
    "asdfghjkl1",
    "asdfghjkl;",
    "zaq12wsxcde",
    "zxcvbnm123",
    "letmein123",
    "welcome123",
    "welcome1234",
    "administrator",
    "football123",
    "baseball123",
    "princess123",
    "sunshine123",
    "superman123",
    "trustno1234",
    "starwars123",
    "dragon1234",
    "monkey12345",
    "computer123",
    "michael123",
    "jennifer123",
    "changeme123",
    "11223344556",
    "aa123456789",
    "a123456789",
    "abc1234567",
    "abcd123456",
    "abcd1234567",
    "qazwsxedc123",
    "q1w2e3r4t5",
    "q1w2e3r4t5y6",
    "1q2w3e4r5t6y",
    "123qweasdzxc",
    "password1!",
    "p@ssw0rd123",
    "p@ssword123",
    "secret1234",
    "master1234",
    "shadow1234",
    "killer1234",
    "hello12345",
    "internet123",
    "samsung123",
    "whatever123",
    "mustang123",
    "jordan2323",
    "liverpool123",
    "chelsea123",
    "arsenal123",
    "pokemon123",
    "minecraft123",
    "blink18218",
    "charlie123",
    "aaaaaaaaaa",
    "qqqqqqqqqq",
    "1234512345",
    "1234554321",
    "123123123123",
    "987654321a",
    "jyotiflow123",
    "astrology123",
    "horoscope123",
];

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    min_len: usize,
    permits: Arc<Semaphore>,
    /// Password checks performed (logins, password changes).
    pub verifications: prometheus_client::metrics::counter::Counter,
}

impl Hasher {
    pub fn new(cfg: &AuthConfig) -> anyhow::Result<Self> {
        let params = Params::new(
            cfg.argon2_memory_kib,
            cfg.argon2_iterations,
            cfg.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Self {
            params,
            min_len: cfg.password_min_len,
            permits: Arc::new(Semaphore::new(workers * 2)),
            verifications: Default::default(),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Checks the policy; the error names the `password` field (or `field`).
    pub fn check_policy(&self, field: &str, password: &str, email: &str) -> Result<(), AppError> {
        let n = password.chars().count();
        if n < self.min_len {
            return Err(AppError::validation(
                field,
                format!("password must be at least {} characters", self.min_len),
            ));
        }
        if n > MAX_LEN {
            return Err(AppError::validation(
                field,
                format!("password must be at most {MAX_LEN} characters"),
            ));
        }
        let lower = password.to_lowercase();
        if COMMON.contains(&lower.as_str()) || password.chars().all(|c| password.starts_with(c)) {
            return Err(AppError::validation(
                field,
                "password is too common; choose another",
            ));
        }
        let email = email.to_lowercase();
        let local = email.split('@').next().unwrap_or("");
        if lower == email || (local.len() >= 4 && lower == local) {
            return Err(AppError::validation(
                field,
                "password must not be your email address",
            ));
        }
        Ok(())
    }

    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let argon2 = self.argon2();
        tokio::task::spawn_blocking(move || {
            let mut salt_bytes = [0u8; 16];
            rand::Rng::fill(&mut rand::thread_rng(), &mut salt_bytes);
            let salt =
                SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("argon2: {e}"))
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
    }

    /// Verifies in constant time per hash. `None` (unknown account) still
    /// spends the same work against a dummy hash so timing does not reveal
    /// whether an email is registered.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        self.verifications.inc();
        let argon2 = self.argon2();
        let dummy = hash.is_none();
        let hash = match hash {
            Some(h) => h,
            None => self.dummy_hash(),
        };
        tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            let ok = argon2.verify_password(password.as_bytes(), &parsed).is_ok();
            anyhow::Ok(ok && !dummy)
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
    }

    fn dummy_hash(&self) -> String {
        // A fixed salt is fine: this hash never protects anything.
        format!(
            "$argon2id$v=19$m={},t={},p={}$ZHVtbXlzYWx0ZHVtbXk$tR2t1ECpTU3WCIP/pwyJd3bPIUq0mWy0DUuojlA+DCs",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn hasher() -> Hasher {
        Hasher::new(&AuthConfig {
            jwt_kid: "k".into(),
            jwt_secret: SecretString::from("x"),
            jwt_previous_kid: None,
            jwt_previous_secret: None,
            access_ttl_secs: 900,
            refresh_ttl_days: 30,
            argon2_memory_kib: 8192,
            argon2_iterations: 1,
            argon2_parallelism: 1,
            password_min_len: 10,
            revocation_sync_ms: 5000,
        })
        .unwrap()
    }

    #[test]
    fn policy() {
        let h = hasher();
        assert!(h.check_policy("password", "short", "a@b.co").is_err());
        assert!(h.check_policy("password", "Password123", "a@b.co").is_err());
        assert!(h
            .check_policy("password", "aaaaaaaaaaaa", "a@b.co")
            .is_err());
        assert!(h
            .check_policy("password", "someone@example.com", "someone@example.com")
            .is_err());
        assert!(h
            .check_policy("password", &"x".repeat(129), "a@b.co")
            .is_err());
        assert!(h
            .check_policy("password", "correct horse battery", "a@b.co")
            .is_ok());
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hasher();
        let hash = h.hash("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(h
            .verify("correct horse battery".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!h
            .verify("wrong horse battery".into(), Some(hash))
            .await
            .unwrap());
        assert!(!h.verify("anything".into(), None).await.unwrap());
    }
}
