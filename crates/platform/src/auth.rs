//! Internal identity: the gateway signs a short-lived token naming the
//! principal; services verify it with the shared secret and never trust a
//! bare header.

use crate::error::AppError;
use crate::jwt::{Claims, KeySet};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use common::{subjects::headers::INTERNAL_TOKEN, ErrorCode, Principal, Role, UserId};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::future::{ready, Ready};

pub const INTERNAL_AUDIENCE: &str = "jyotiflow-internal";
pub const INTERNAL_ISSUER: &str = "jyotiflow-gateway";

#[derive(Serialize, Deserialize)]
struct InternalClaims {
    sub: UserId,
    roles: Vec<Role>,
    iat: i64,
    exp: i64,
    aud: String,
    iss: String,
}

impl Claims for InternalClaims {
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

/// Signs and verifies internal tokens.
#[derive(Clone)]
pub struct InternalAuth {
    keys: KeySet,
    ttl_secs: i64,
}

impl InternalAuth {
    pub fn new(secret: SecretString, ttl_secs: u64) -> Self {
        let keys = KeySet::single("internal", secret);
        Self {
            keys,
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(60),
        }
    }

    pub fn sign(&self, principal: &Principal) -> Result<String, AppError> {
        let now = chrono::Utc::now().timestamp();
        let claims = InternalClaims {
            sub: principal.user_id,
            roles: principal.roles.clone(),
            iat: now,
            exp: now + self.ttl_secs,
            aud: INTERNAL_AUDIENCE.into(),
            iss: INTERNAL_ISSUER.into(),
        };
        self.keys.sign(&claims).map_err(AppError::internal)
    }

    pub fn verify(&self, token: &str) -> Result<Principal, AppError> {
        let now = chrono::Utc::now().timestamp();
        let c: InternalClaims = self
            .keys
            .verify(token, INTERNAL_AUDIENCE, INTERNAL_ISSUER, now)
            .map_err(|e| {
                AppError::new(
                    ErrorCode::InvalidToken,
                    format!("internal token rejected: {e}"),
                )
            })?;
        Ok(Principal {
            user_id: c.sub,
            roles: c.roles,
        })
    }

    /// The principal named by a NATS message's internal-token header, if any.
    pub fn from_nats_headers(
        &self,
        headers: Option<&async_nats::HeaderMap>,
    ) -> Result<Option<Principal>, AppError> {
        match headers.and_then(|h| h.get(INTERNAL_TOKEN)) {
            Some(v) => self.verify(v.as_str()).map(Some),
            None => Ok(None),
        }
    }
}

fn principal_from(req: &HttpRequest) -> Result<Principal, AppError> {
    let auth = req.app_data::<web::Data<InternalAuth>>().ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "InternalAuth is not registered as app data"
        ))
    })?;
    let token = req
        .headers()
        .get(INTERNAL_TOKEN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::unauthorized("authentication required"))?;
    auth.verify(token)
}

/// Extractor: the authenticated principal (401 without a valid internal token).
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_from(req).map(Authenticated))
    }
}

/// Extractor: an authenticated admin (403 for other users).
pub struct Admin(pub Principal);

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_from(req).and_then(|p| {
            if p.is_admin() {
                Ok(Admin(p))
            } else {
                Err(AppError::forbidden())
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_tokens_round_trip_and_reject_other_secrets() {
        let a = InternalAuth::new(SecretString::from("s".repeat(40)), 60);
        let p = Principal {
            user_id: UserId::new(),
            roles: vec![Role::User],
        };
        let t = a.sign(&p).unwrap();
        assert_eq!(a.verify(&t).unwrap(), p);
        let b = InternalAuth::new(SecretString::from("t".repeat(40)), 60);
        assert!(b.verify(&t).is_err());
    }
}
