//! Internal identity: who is calling, and for whom.
//!
//! Every service process holds its own Ed25519 signing key. A call from one
//! service to another (HTTP or NATS) carries a short-lived internal token
//! (a compact JWS, `alg: EdDSA`) that names the issuing service (`iss`), the
//! one service it is meant for (`aud`), and, when the call acts for a
//! person, that person (`sub`, `roles`). The receiver checks the signature
//! against the issuer's public key, the audience against its own name and
//! the expiry (at most 60 s), and then each endpoint checks its own
//! allow-list of callers. A token leaked from one hop cannot be replayed to
//! another service, and no service can speak for another without that
//! service's private key.
//!
//! The gateway turns a client's access token into such a token for the
//! upstream it routes to; a service acting for a user on a later hop (e.g.
//! guidance asking pricing to hold credits) signs a token of its own naming
//! the same user. No endpoint takes a user id from a body or a bare header.
//!
//! Keys rotate like the JWT keys: receivers trust every key id listed for a
//! peer (`internal_auth.trusted_keys.<service> = "kid:key,kid:key"`), so a
//! new key is added to the receivers first, then the issuer switches to it,
//! then the old one is removed. In `development` and `test`, keys derive
//! from the service name (the `insecure-dev-` placeholder), so a checkout
//! runs without any set-up; production refuses those keys.
//!
//! Events get the same treatment: the outbox relay signs each event
//! (producer, subject, id and payload digest) with the producer's key, and
//! consumers that grant credits or purge caches verify the producer.

use crate::config::{ConfigError, Environment, InternalAuthConfig, INSECURE_DEFAULT_PREFIX};
use crate::error::AppError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use common::{subjects::headers as h, ErrorCode, Principal, Role, UserId};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::{ready, Ready};
use std::sync::Arc;

/// The longest lifetime an internal token may have.
pub const MAX_TTL_SECS: u64 = 60;
/// Key id of keys derived from the development placeholder.
pub const DEV_KID: &str = "dev";
/// The service that speaks for clients at the edge.
pub const GATEWAY: &str = "gateway";

/// Who is calling: a verified service, and the person it acts for, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub service: String,
    pub principal: Option<Principal>,
}

impl Caller {
    /// 403 unless the calling service is on `services`.
    pub fn allow(&self, services: &[&str]) -> Result<&Self, AppError> {
        if services.contains(&self.service.as_str()) {
            Ok(self)
        } else {
            Err(AppError::new(
                ErrorCode::Forbidden,
                format!("the {} service may not call this endpoint", self.service),
            ))
        }
    }

    /// The person this call acts for (401 when it names nobody).
    pub fn principal(&self) -> Result<&Principal, AppError> {
        self.principal.as_ref().ok_or_else(|| {
            AppError::unauthorized("this endpoint acts for a user; the call names none")
        })
    }

    /// The user a request acts for: the token's principal, or another user
    /// named in the request when the principal is an admin. Never a bare id.
    pub fn acting_user(&self, named: Option<UserId>) -> Result<UserId, AppError> {
        acting_user(self.principal()?, named)
    }
}

/// The user a request acts for: `principal` itself, or the user `named` in
/// the request when that is the same user or the principal is an admin.
pub fn acting_user(principal: &Principal, named: Option<UserId>) -> Result<UserId, AppError> {
    match named {
        None => Ok(principal.user_id),
        Some(u) if u == principal.user_id || principal.is_admin() => Ok(u),
        Some(_) => Err(AppError::forbidden()),
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    kid: String,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<UserId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<Role>,
    iat: i64,
    exp: i64,
}

/// A service's public keys by key id.
type KeyRing = Vec<(String, Vec<u8>)>;

struct Inner {
    service: String,
    kid: String,
    key: Ed25519KeyPair,
    ttl_secs: i64,
    trusted: BTreeMap<String, KeyRing>,
    /// Development and test: a peer with no configured keys is trusted with
    /// its derived development key.
    dev_peers: bool,
}

/// Signs and verifies internal tokens and event signatures for one service.
#[derive(Clone)]
pub struct InternalAuth(Arc<Inner>);

/// The development seed of `service` (public: anyone can derive it, which
/// is why production refuses it).
fn dev_seed(service: &str) -> [u8; 32] {
    Sha256::digest(format!("jyotiflow insecure development key of {service}").as_bytes()).into()
}

fn dev_public_key(service: &str) -> Option<Vec<u8>> {
    Ed25519KeyPair::from_seed_unchecked(&dev_seed(service))
        .ok()
        .map(|k| k.public_key().as_ref().to_vec())
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    B64.decode(s.trim_end_matches('='))
        .ok()
        .or_else(|| STANDARD.decode(s).ok())
}

/// Parses `kid:base64key[,kid:base64key...]` (32-byte Ed25519 public keys).
pub fn parse_key_ring(s: &str) -> Result<KeyRing, String> {
    let mut ring = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kid, key) = part
            .split_once(':')
            .ok_or_else(|| "each key must be written kid:base64".to_owned())?;
        let key = decode_b64(key)
            .filter(|k| k.len() == 32)
            .ok_or_else(|| format!("key {kid} is not a base64 32-byte Ed25519 public key"))?;
        if kid.is_empty() {
            return Err("a key id is empty".into());
        }
        ring.push((kid.to_owned(), key));
    }
    if ring.is_empty() {
        return Err("no keys listed".into());
    }
    Ok(ring)
}

/// A new signing key: (seed to configure as `internal_auth.signing_key`,
/// public key to list in the peers' `trusted_keys`), both base64.
pub fn generate_key() -> anyhow::Result<(String, String)> {
    let seed: [u8; 32] = rand::random();
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
        .map_err(|_| anyhow::anyhow!("could not derive a key pair"))?;
    Ok((B64.encode(seed), B64.encode(pair.public_key().as_ref())))
}

/// Checks the `internal_auth` section (called by config validation).
pub fn validate_config(cfg: &InternalAuthConfig, env: Environment) -> Result<(), ConfigError> {
    let key = cfg.signing_key.expose_secret();
    let dev = key.starts_with(INSECURE_DEFAULT_PREFIX);
    if dev && env == Environment::Production {
        return Err(ConfigError::invalid(
            "internal_auth.signing_key",
            "is the insecure development default; set a key made by `<service> keygen` in production",
        ));
    }
    if !dev && decode_b64(key).is_none_or(|k| k.len() != 32) {
        return Err(ConfigError::invalid(
            "internal_auth.signing_key",
            "must be a base64 32-byte Ed25519 seed (see `<service> keygen`)",
        ));
    }
    if cfg.key_id.trim().is_empty() || cfg.key_id.contains([':', ',', '.']) {
        return Err(ConfigError::invalid(
            "internal_auth.key_id",
            "must be non-empty without ':', ',' or '.'",
        ));
    }
    if cfg.ttl_secs == 0 || cfg.ttl_secs > MAX_TTL_SECS {
        return Err(ConfigError::invalid(
            "internal_auth.ttl_secs",
            format!("must be between 1 and {MAX_TTL_SECS}"),
        ));
    }
    for (service, ring) in &cfg.trusted_keys {
        parse_key_ring(ring).map_err(|m| {
            ConfigError::invalid(&format!("internal_auth.trusted_keys.{service}"), m)
        })?;
    }
    Ok(())
}

fn invalid_token(message: impl Into<String>) -> AppError {
    AppError::new(
        ErrorCode::InvalidToken,
        format!("internal token rejected: {}", message.into()),
    )
}

impl InternalAuth {
    /// Builds the service's identity from its validated configuration.
    pub fn from_config(
        service: &str,
        cfg: &InternalAuthConfig,
        env: Environment,
    ) -> anyhow::Result<InternalAuth> {
        validate_config(cfg, env)?;
        let secret = cfg.signing_key.expose_secret();
        let dev = secret.starts_with(INSECURE_DEFAULT_PREFIX);
        let (kid, seed) = if dev {
            (DEV_KID.to_owned(), dev_seed(service).to_vec())
        } else {
            (
                cfg.key_id.clone(),
                decode_b64(secret).ok_or_else(|| anyhow::anyhow!("bad signing key"))?,
            )
        };
        let key = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| {
            anyhow::anyhow!("internal_auth.signing_key is not a valid Ed25519 seed")
        })?;
        let mut trusted = BTreeMap::new();
        for (peer, ring) in &cfg.trusted_keys {
            trusted.insert(
                peer.clone(),
                parse_key_ring(ring).map_err(|m| anyhow::anyhow!(m))?,
            );
        }
        Ok(InternalAuth(Arc::new(Inner {
            service: service.to_owned(),
            kid,
            key,
            ttl_secs: i64::try_from(cfg.ttl_secs.min(MAX_TTL_SECS)).unwrap_or(60),
            trusted,
            dev_peers: env != Environment::Production,
        })))
    }

    /// The development identity of `service` (tests, benchmarks, tools).
    pub fn development(service: &str) -> anyhow::Result<InternalAuth> {
        let key = Ed25519KeyPair::from_seed_unchecked(&dev_seed(service))
            .map_err(|_| anyhow::anyhow!("could not derive the development key"))?;
        Ok(InternalAuth(Arc::new(Inner {
            service: service.to_owned(),
            kid: DEV_KID.to_owned(),
            key,
            ttl_secs: 60,
            trusted: BTreeMap::new(),
            dev_peers: true,
        })))
    }

    /// This service's name.
    pub fn service(&self) -> &str {
        &self.0.service
    }

    /// `kid:base64` of this service's public key, as peers list it.
    pub fn public_key(&self) -> String {
        format!(
            "{}:{}",
            self.0.kid,
            B64.encode(self.0.key.public_key().as_ref())
        )
    }

    fn peer_key(&self, service: &str, kid: &str) -> Option<Vec<u8>> {
        if let Some(ring) = self.0.trusted.get(service) {
            return ring.iter().find(|(k, _)| k == kid).map(|(_, v)| v.clone());
        }
        if self.0.dev_peers && kid == DEV_KID {
            return dev_public_key(service);
        }
        None
    }

    /// A token for a call to `audience`, acting for `principal` if given.
    pub fn sign(&self, audience: &str, principal: Option<&Principal>) -> Result<String, AppError> {
        let now = chrono::Utc::now().timestamp();
        self.sign_at(audience, principal, now, now + self.0.ttl_secs)
    }

    fn sign_at(
        &self,
        audience: &str,
        principal: Option<&Principal>,
        iat: i64,
        exp: i64,
    ) -> Result<String, AppError> {
        let header = Header {
            alg: "EdDSA".into(),
            kid: self.0.kid.clone(),
        };
        let claims = Claims {
            iss: self.0.service.clone(),
            aud: audience.to_owned(),
            sub: principal.map(|p| p.user_id),
            roles: principal.map(|p| p.roles.clone()).unwrap_or_default(),
            iat,
            exp,
        };
        let h = serde_json::to_vec(&header).map_err(AppError::internal)?;
        let c = serde_json::to_vec(&claims).map_err(AppError::internal)?;
        let input = format!("{}.{}", B64.encode(h), B64.encode(c));
        let sig = self.0.key.sign(input.as_bytes());
        Ok(format!("{input}.{}", B64.encode(sig.as_ref())))
    }

    /// Verifies a token meant for this service.
    pub fn verify(&self, token: &str) -> Result<Caller, AppError> {
        let now = chrono::Utc::now().timestamp();
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid_token("malformed"));
        };
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| invalid_token("malformed header"))?;
        if header.alg != "EdDSA" {
            return Err(invalid_token("algorithm not accepted"));
        }
        let claims: Claims = B64
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| invalid_token("malformed claims"))?;
        let key = self
            .peer_key(&claims.iss, &header.kid)
            .ok_or_else(|| invalid_token(format!("unknown issuer or key id ({})", claims.iss)))?;
        let sig = B64
            .decode(s)
            .map_err(|_| invalid_token("malformed signature"))?;
        let signed = &token[..h.len() + 1 + c.len()];
        UnparsedPublicKey::new(&ED25519, key)
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| invalid_token("bad signature"))?;
        if claims.aud != self.0.service {
            return Err(invalid_token("meant for another service"));
        }
        if claims.exp <= now {
            return Err(invalid_token("expired"));
        }
        // A little clock skew between hosts, and never a long-lived token.
        if claims.iat > now + 30
            || claims.exp - claims.iat > i64::try_from(MAX_TTL_SECS).unwrap_or(60)
        {
            return Err(invalid_token("lifetime not accepted"));
        }
        Ok(Caller {
            service: claims.iss,
            principal: claims.sub.map(|user_id| Principal {
                user_id,
                roles: claims.roles,
            }),
        })
    }

    /// The caller named by a NATS message's internal-token header, if any.
    pub fn from_nats_headers(
        &self,
        headers: Option<&async_nats::HeaderMap>,
    ) -> Result<Option<Caller>, AppError> {
        match headers.and_then(|hm| hm.get(h::INTERNAL_TOKEN)) {
            Some(v) => self.verify(v.as_str()).map(Some),
            None => Ok(None),
        }
    }

    fn event_message(producer: &str, subject: &str, event_id: &str, payload: &[u8]) -> Vec<u8> {
        format!(
            "jyotiflow-event\n{producer}\n{subject}\n{event_id}\n{}",
            hex_digest(payload)
        )
        .into_bytes()
    }

    /// Adds the producer and its signature to an event's headers.
    pub fn sign_event(
        &self,
        headers: &mut async_nats::HeaderMap,
        subject: &str,
        event_id: &str,
        payload: &[u8],
    ) {
        let msg = Self::event_message(&self.0.service, subject, event_id, payload);
        let sig = self.0.key.sign(&msg);
        headers.insert(h::EVENT_PRODUCER, self.0.service.as_str());
        headers.insert(
            h::EVENT_SIGNATURE,
            format!("{}:{}", self.0.kid, B64.encode(sig.as_ref())).as_str(),
        );
    }

    /// Verifies an event's producer signature; returns the producer.
    pub fn verify_event(
        &self,
        headers: Option<&async_nats::HeaderMap>,
        subject: &str,
        payload: &[u8],
    ) -> Result<String, AppError> {
        let get = |name: &str| {
            headers
                .and_then(|hm| hm.get(name))
                .map(|v| v.as_str().to_owned())
        };
        let producer =
            get(h::EVENT_PRODUCER).ok_or_else(|| invalid_token("event is not signed"))?;
        let signature =
            get(h::EVENT_SIGNATURE).ok_or_else(|| invalid_token("event is not signed"))?;
        let event_id = get(h::MSG_ID).ok_or_else(|| invalid_token("event has no id"))?;
        let (kid, sig) = signature
            .split_once(':')
            .ok_or_else(|| invalid_token("malformed event signature"))?;
        let key = self
            .peer_key(&producer, kid)
            .ok_or_else(|| invalid_token(format!("unknown producer or key id ({producer})")))?;
        let sig = B64
            .decode(sig)
            .map_err(|_| invalid_token("malformed event signature"))?;
        let msg = Self::event_message(&producer, subject, &event_id, payload);
        UnparsedPublicKey::new(&ED25519, key)
            .verify(&msg, &sig)
            .map_err(|_| invalid_token("bad event signature"))?;
        Ok(producer)
    }
}

fn hex_digest(payload: &[u8]) -> String {
    Sha256::digest(payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn caller_from(req: &HttpRequest) -> Result<Caller, AppError> {
    let auth = req.app_data::<web::Data<InternalAuth>>().ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "InternalAuth is not registered as app data"
        ))
    })?;
    let token = req
        .headers()
        .get(h::INTERNAL_TOKEN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::unauthorized("authentication required"))?;
    auth.verify(token)
}

/// Extractor: the person a request acts for (401 without a valid internal
/// token naming one).
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller_from(req).and_then(|c| {
            c.principal
                .ok_or_else(|| AppError::unauthorized("authentication required"))
                .map(Authenticated)
        }))
    }
}

/// Extractor: an authenticated admin (403 for other users).
pub struct Admin(pub Principal);

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            caller_from(req)
                .and_then(|c| {
                    c.principal
                        .ok_or_else(|| AppError::unauthorized("authentication required"))
                })
                .and_then(|p| {
                    if p.is_admin() {
                        Ok(Admin(p))
                    } else {
                        Err(AppError::forbidden())
                    }
                }),
        )
    }
}

/// Extractor: a verified calling service (and the user it acts for, if
/// any), for `/internal/*` endpoints. The handler checks its allow-list with
/// [`Caller::allow`]. The gateway is never accepted here: internal
/// endpoints are not part of the public API, so a gateway bug cannot reach
/// them.
pub struct ServiceCall(pub Caller);

impl FromRequest for ServiceCall {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller_from(req).and_then(|c| {
            if c.service == GATEWAY {
                Err(AppError::new(
                    ErrorCode::Forbidden,
                    "internal endpoints take service credentials only",
                ))
            } else {
                Ok(ServiceCall(c))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use secrecy::SecretString;

    fn user() -> Principal {
        Principal {
            user_id: UserId::new(),
            roles: vec![Role::User],
        }
    }

    #[test]
    fn tokens_name_issuer_audience_and_user() {
        let gw = InternalAuth::development("gateway").unwrap();
        let charts = InternalAuth::development("charts").unwrap();
        let p = user();
        let t = gw.sign("charts", Some(&p)).unwrap();
        let c = charts.verify(&t).unwrap();
        assert_eq!(c.service, "gateway");
        assert_eq!(c.principal, Some(p));
        // Meant for charts: pricing refuses it.
        let pricing = InternalAuth::development("pricing").unwrap();
        assert!(pricing.verify(&t).is_err());
        // A service token without a user.
        let t = charts.sign("pricing", None).unwrap();
        assert_eq!(pricing.verify(&t).unwrap().principal, None);
    }

    #[test]
    fn forged_expired_and_long_lived_tokens_fail() {
        let gw = InternalAuth::development("gateway").unwrap();
        let charts = InternalAuth::development("charts").unwrap();
        // Signed by charts' key but claiming to be the gateway.
        let t = charts.sign("charts", Some(&user())).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let claims = String::from_utf8(B64.decode(parts[1]).unwrap()).unwrap();
        let forged_claims = claims.replace("\"iss\":\"charts\"", "\"iss\":\"gateway\"");
        let forged = format!("{}.{}.{}", parts[0], B64.encode(forged_claims), parts[2]);
        assert!(charts.verify(&forged).is_err());
        let now = chrono::Utc::now().timestamp();
        let expired = gw.sign_at("charts", None, now - 120, now - 60).unwrap();
        assert!(charts.verify(&expired).is_err());
        let long = gw.sign_at("charts", None, now, now + 3600).unwrap();
        assert!(charts.verify(&long).is_err());
        assert!(charts.verify("a.b.c").is_err());
        assert!(charts.verify("").is_err());
    }

    #[test]
    fn configured_keys_rotate_and_production_refuses_dev_keys() {
        let (seed_old, pub_old) = generate_key().unwrap();
        let (seed_new, pub_new) = generate_key().unwrap();
        let issuer = |seed: &str, kid: &str| {
            InternalAuth::from_config(
                "media",
                &InternalAuthConfig {
                    key_id: kid.into(),
                    signing_key: SecretString::from(seed.to_owned()),
                    ttl_secs: 60,
                    trusted_keys: BTreeMap::new(),
                },
                Environment::Production,
            )
            .unwrap()
        };
        let receiver = InternalAuth::from_config(
            "pricing",
            &InternalAuthConfig {
                key_id: "p1".into(),
                signing_key: SecretString::from(generate_key().unwrap().0),
                ttl_secs: 60,
                trusted_keys: [("media".to_owned(), format!("k1:{pub_old},k2:{pub_new}"))]
                    .into_iter()
                    .collect(),
            },
            Environment::Production,
        )
        .unwrap();
        for (seed, kid) in [(&seed_old, "k1"), (&seed_new, "k2")] {
            let t = issuer(seed, kid).sign("pricing", None).unwrap();
            assert_eq!(receiver.verify(&t).unwrap().service, "media");
        }
        // Production never falls back to development keys.
        let dev = InternalAuth::development("media")
            .unwrap()
            .sign("pricing", None)
            .unwrap();
        assert!(receiver.verify(&dev).is_err());
        let err = validate_config(
            &InternalAuthConfig {
                key_id: "k".into(),
                signing_key: SecretString::from(format!("{INSECURE_DEFAULT_PREFIX}x")),
                ttl_secs: 60,
                trusted_keys: BTreeMap::new(),
            },
            Environment::Production,
        )
        .unwrap_err();
        assert!(err.to_string().contains("internal_auth.signing_key"));
    }

    #[test]
    fn events_are_signed_by_their_producer() {
        let gw = InternalAuth::development("gateway").unwrap();
        let pricing = InternalAuth::development("pricing").unwrap();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(h::MSG_ID, "e1");
        gw.sign_event(&mut headers, "evt.gateway.user.registered", "e1", b"{}");
        assert_eq!(
            pricing
                .verify_event(Some(&headers), "evt.gateway.user.registered", b"{}")
                .unwrap(),
            "gateway"
        );
        assert!(pricing
            .verify_event(Some(&headers), "evt.gateway.user.registered", b"{\"x\":1}")
            .is_err());
        assert!(pricing
            .verify_event(Some(&headers), "evt.gateway.other", b"{}")
            .is_err());
        assert!(pricing
            .verify_event(None, "evt.gateway.user.registered", b"{}")
            .is_err());
        // A client claiming to be the gateway without its key.
        let mut forged = async_nats::HeaderMap::new();
        forged.insert(h::MSG_ID, "e1");
        InternalAuth::development("pricing").unwrap().sign_event(
            &mut forged,
            "evt.gateway.user.registered",
            "e1",
            b"{}",
        );
        forged.insert(h::EVENT_PRODUCER, "gateway");
        assert!(pricing
            .verify_event(Some(&forged), "evt.gateway.user.registered", b"{}")
            .is_err());
    }
}
