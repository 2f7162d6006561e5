//! Access tokens (JWT, HS256, 15 minutes by default, with a key id so keys
//! rotate) and opaque refresh tokens (32 random bytes; only their SHA-256 is stored).

use crate::config::AuthConfig;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use common::{ErrorCode, Principal, Role, UserId};
use platform::jwt::{Claims, JwtError, KeySet};
use platform::AppError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const AUDIENCE: &str = "jyotiflow-api";
pub const ISSUER: &str = "jyotiflow-gateway";

#[derive(Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: UserId,
    pub roles: Vec<Role>,
    pub iat: i64,
    pub exp: i64,
    pub aud: String,
    pub iss: String,
    /// Token id (UUIDv7: it also records the issue time to the
    /// millisecond), so one token can be revoked.
    #[serde(default)]
    pub jti: Option<uuid::Uuid>,
}

/// A verified access token.
#[derive(Clone, Debug)]
pub struct Verified {
    pub principal: Principal,
    pub jti: Option<uuid::Uuid>,
    /// Issue time in Unix milliseconds.
    pub issued_ms: i64,
    pub exp: i64,
}

impl Claims for AccessClaims {
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

#[derive(Clone)]
pub struct AccessTokens {
    keys: KeySet,
    pub ttl_secs: i64,
}

impl AccessTokens {
    pub fn new(cfg: &AuthConfig) -> Self {
        let mut keys = vec![(cfg.jwt_kid.clone(), cfg.jwt_secret.clone())];
        if let (Some(k), Some(s)) = (&cfg.jwt_previous_kid, &cfg.jwt_previous_secret) {
            keys.push((k.clone(), s.clone()));
        }
        let keys = KeySet::new(keys)
            .unwrap_or_else(|| KeySet::single(&cfg.jwt_kid, cfg.jwt_secret.clone()));
        Self {
            keys,
            ttl_secs: cfg.access_ttl_secs,
        }
    }

    pub fn issue(&self, principal: &Principal) -> Result<String, AppError> {
        let now = chrono::Utc::now().timestamp();
        self.keys
            .sign(&AccessClaims {
                sub: principal.user_id,
                roles: principal.roles.clone(),
                iat: now,
                exp: now + self.ttl_secs,
                aud: AUDIENCE.into(),
                iss: ISSUER.into(),
                jti: Some(uuid::Uuid::now_v7()),
            })
            .map_err(AppError::internal)
    }

    pub fn verify(&self, token: &str) -> Result<Verified, AppError> {
        let now = chrono::Utc::now().timestamp();
        match self
            .keys
            .verify::<AccessClaims>(token, AUDIENCE, ISSUER, now)
        {
            Ok(c) => Ok(Verified {
                issued_ms: c
                    .jti
                    .and_then(|j| j.get_timestamp())
                    .map(|t| {
                        let (s, n) = t.to_unix();
                        i64::try_from(s).unwrap_or(i64::MAX) * 1000 + i64::from(n / 1_000_000)
                    })
                    .unwrap_or(c.iat.saturating_mul(1000)),
                jti: c.jti,
                exp: c.exp,
                principal: Principal {
                    user_id: c.sub,
                    roles: c.roles,
                },
            }),
            Err(JwtError::Expired) => Err(AppError::new(
                ErrorCode::TokenExpired,
                "access token has expired",
            )),
            Err(e) => Err(AppError::new(
                ErrorCode::InvalidToken,
                format!("access token rejected: {e}"),
            )),
        }
    }
}

/// A new refresh token and the hash to store.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::thread_rng(), &mut bytes);
    let token = B64.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
