//! Stripe: a typed client for Checkout Sessions and the webhook endpoint.
//!
//! The webhook verifies `Stripe-Signature` as Stripe documents it
//! (`t=<unix>,v1=<hex>[,v1=...]`, HMAC-SHA256 with the endpoint secret over
//! `"<t>.<raw body>"`, constant-time comparison, a timestamp tolerance), then
//! hands the event to `crate::payments`, which applies it once: the event id
//! goes into `stripe_events` and the grant is keyed by the checkout session
//! id, both in the grant's transaction; credits are granted only for the
//! price our checkout recorded (see `crate::payments`).

use crate::payments;
use crate::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use common::{ErrorCode, UserId};
use hmac::{Hmac, Mac};
use platform::auth::Authenticated;
use platform::db::q;
use platform::input::Line;
use platform::AppError;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    api_base: String,
    secret_key: SecretString,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    pub url: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `application/x-www-form-urlencoded`, with Stripe's bracketed keys.
pub fn form(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub struct NewSession<'a> {
    pub user: UserId,
    pub package_id: Uuid,
    pub package_name: &'a str,
    pub price_minor: i64,
    pub currency: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

impl StripeClient {
    pub fn new(cfg: &crate::config::StripeConfig) -> anyhow::Result<Self> {
        let http = platform::http_client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            api_base: cfg.api_base.trim_end_matches('/').to_owned(),
            secret_key: cfg.secret_key.clone(),
        })
    }

    /// False while the secret key is the shipped development placeholder.
    pub fn configured(&self) -> bool {
        !self
            .secret_key
            .expose_secret()
            .starts_with(platform::config::INSECURE_DEFAULT_PREFIX)
    }

    /// `POST /v1/checkout/sessions` (form-encoded, `mode=payment`).
    pub async fn create_checkout_session(
        &self,
        s: &NewSession<'_>,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, AppError> {
        let body = form(&[
            ("mode", "payment".into()),
            ("client_reference_id", s.user.to_string()),
            ("success_url", s.success_url.to_owned()),
            ("cancel_url", s.cancel_url.to_owned()),
            ("line_items[0][quantity]", "1".into()),
            (
                "line_items[0][price_data][currency]",
                s.currency.to_ascii_lowercase(),
            ),
            (
                "line_items[0][price_data][unit_amount]",
                s.price_minor.to_string(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                s.package_name.to_owned(),
            ),
            ("metadata[package_id]", s.package_id.to_string()),
            ("metadata[user_id]", s.user.to_string()),
        ]);
        let resp = self
            .http
            .post(format!("{}/v1/checkout/sessions", self.api_base))
            .bearer_auth(self.secret_key.expose_secret())
            .header("Idempotency-Key", idempotency_key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                AppError::new(
                    ErrorCode::ProviderError,
                    "the payment provider is unreachable",
                )
                .with_cause(e)
            })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| {
            AppError::new(ErrorCode::ProviderError, "the payment provider failed").with_cause(e)
        })?;
        if !status.is_success() {
            return Err(AppError::new(
                ErrorCode::ProviderError,
                "the payment provider refused the checkout",
            )
            .with_cause(anyhow::anyhow!("stripe answered {status}: {text}")));
        }
        serde_json::from_str(&text).map_err(|e| {
            AppError::new(
                ErrorCode::ProviderError,
                "the payment provider answered unreadably",
            )
            .with_cause(e)
        })
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed Stripe-Signature header")]
    Malformed,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("no matching signature")]
    Mismatch,
}

/// Verifies a `Stripe-Signature` header over the raw body.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secret: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut t: Option<&str> = None;
    let mut sigs: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => t = Some(v),
            "v1" => {
                if let Ok(b) = hex::decode(v) {
                    sigs.push(b);
                }
            }
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    let ts: i64 = t.parse().map_err(|_| SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // abs_diff cannot overflow, whatever the header says (t=i64::MIN included).
    if now.abs_diff(ts) > tolerance_secs.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    for sig in &sigs {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            return Err(SignatureError::Mismatch);
        };
        mac.update(t.as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(sig).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// Signs a payload as Stripe does (for tests and tools).
pub fn sign(body: &[u8], secret: &[u8], t: i64) -> String {
    let mut hex_sig = String::new();
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) {
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        hex_sig = hex::encode(mac.finalize().into_bytes());
    }
    format!("t={t},v1={hex_sig}")
}

// ---------------------------------------------------------------- checkout

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CheckoutRequest {
    /// An active package (`GET /api/v1/credits/packages`).
    #[schema(value_type = String, format = Uuid)]
    pub package_id: Uuid,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CheckoutResponse {
    /// The Stripe Checkout Session id.
    pub id: String,
    /// Where to send the buyer (Stripe's hosted page).
    pub url: Option<String>,
}

/// `POST /api/v1/credits/checkout`
#[utoipa::path(
    post,
    path = "/api/v1/credits/checkout",
    request_body = CheckoutRequest,
    security(("internal_token" = [])),
    responses(
        (status = 201, description = "a Stripe Checkout Session for the package", body = CheckoutResponse),
        (status = 400, description = "malformed_json (package_id not a UUID among them)"),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 404, description = "not_found: no such active package"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type: the body must be application/json"),
        (status = 502, description = "provider_error: Stripe refused the checkout or could not be reached"),
        (status = 503, description = "provider_not_configured (stripe.secret_key is the shipped placeholder) or database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn checkout(
    st: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: crate::input::Body<CheckoutRequest>,
) -> Result<HttpResponse, AppError> {
    let package_id = body.0.package_id;
    if !st.stripe.configured() {
        return Err(AppError::new(
            ErrorCode::ProviderNotConfigured,
            "payments are not configured (set stripe.secret_key)",
        ));
    }
    let client = platform::db::conn(&st.pool).await?;
    let row = client
        .query_opt(
            "SELECT name, credits, bonus_credits, price_minor, currency FROM packages
             WHERE id = $1 AND active AND deleted_at IS NULL",
            &[&package_id],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("package"))?;
    let name: String = row.get(0);
    let price_minor: i64 = row.get(3);
    let currency: String = row.get(4);
    // Packages are within the limits since migration 0004; one from before
    // that is outside them is never sold (it could never be granted).
    let credits = row
        .get::<_, i64>(1)
        .checked_add(row.get::<_, i64>(2))
        .filter(|c| (1..=crate::limits::MAX_PACKAGE_CREDITS).contains(c))
        .filter(|_| (1..=crate::limits::MAX_PRICE_MINOR).contains(&price_minor))
        .ok_or_else(|| AppError::not_found("package"))?;
    let session = st
        .stripe
        .create_checkout_session(
            &NewSession {
                user: p.user_id,
                package_id,
                package_name: &name,
                price_minor,
                currency: &currency,
                success_url: &st.cfg.stripe.success_url,
                cancel_url: &st.cfg.stripe.cancel_url,
            },
            &Uuid::now_v7().to_string(),
        )
        .await?;
    client
        .execute(
            "INSERT INTO payments (session_id, user_id, package_id, payment_intent, amount_minor, currency, credits, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open') ON CONFLICT (session_id) DO NOTHING",
            &[
                &session.id,
                &p.user_id.as_uuid(),
                &package_id,
                &session.payment_intent,
                &price_minor,
                &currency,
                &credits,
            ],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Created().json(CheckoutResponse {
        id: session.id,
        url: session.url,
    }))
}

// ---------------------------------------------------------------- webhook

/// A Stripe event as the webhook reads it (other fields are ignored).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StripeEvent {
    #[schema(inline)]
    pub id: Line<255>,
    /// e.g. checkout.session.completed, charge.refunded; others are ignored.
    #[serde(rename = "type")]
    #[schema(inline)]
    pub event_type: Line<255>,
    #[serde(deserialize_with = "crate::input::object")]
    pub data: StripeEventData,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StripeEventData {
    /// The Checkout Session or Charge.
    #[schema(value_type = Object)]
    pub object: serde_json::Value,
}

/// The webhook's answer to an event it accepted (applied or ignored).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookReceived {
    pub received: bool,
}

fn bad_signature(e: SignatureError) -> AppError {
    AppError::new(ErrorCode::BadRequest, "invalid webhook signature").with_cause(e)
}

/// `POST /api/v1/payments/stripe/webhook` (public; authenticated by the signature).
#[utoipa::path(
    post,
    path = "/api/v1/payments/stripe/webhook",
    request_body(content = StripeEvent, description = "a Stripe event, exactly as Stripe sent it (the signature covers the raw body)"),
    params(("Stripe-Signature" = String, Header, description = "required: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">[,v1=...]")),
    responses(
        (status = 200, description = "accepted: applied, already applied, recorded as a mismatch, or ignored", body = WebhookReceived),
        (status = 400, description = "bad_request: missing or invalid signature, or a timestamp outside the tolerance; malformed_json"),
        (status = 413, description = "payload_too_large"),
        (status = 422, description = "validation_failed: a signed event whose ids contain control characters (never sent by Stripe)"),
        (status = 503, description = "provider_not_configured (stripe.webhook_secret is the shipped placeholder) or database_unavailable; Stripe retries"),
        (status = 504, description = "timeout: the database did not answer in time; Stripe retries"),
    )
)]
pub async fn webhook(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let secret = st.cfg.stripe.webhook_secret.expose_secret();
    if secret.starts_with(platform::config::INSECURE_DEFAULT_PREFIX) {
        // The shipped placeholder is public: accepting it would let anyone mint credits.
        return Err(AppError::new(
            ErrorCode::ProviderNotConfigured,
            "payments are not configured (set stripe.webhook_secret)",
        ));
    }
    let header = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad_signature(SignatureError::Malformed))?;
    verify_signature(
        header,
        &body,
        secret.as_bytes(),
        chrono::Utc::now().timestamp(),
        st.cfg.stripe.tolerance_secs,
    )
    .map_err(bad_signature)?;
    let event: StripeEvent = platform::http::parse_json::<crate::input::Object<_>>(&body)?.0;
    let (id, kind) = (event.id.as_str(), event.event_type.as_str());
    match kind {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            payments::session_paid(&st, id, kind, &event.data.object).await?
        }
        "charge.refunded" => payments::charge_refunded(&st, id, kind, &event.data.object).await?,
        other => tracing::debug!(event_type = other, "stripe event ignored"),
    }
    Ok(HttpResponse::Ok().json(WebhookReceived { received: true }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_reject() {
        let body = br#"{"id":"evt_1"}"#;
        let h = sign(body, b"whsec_x", 1000);
        assert_eq!(verify_signature(&h, body, b"whsec_x", 1000, 300), Ok(()));
        assert_eq!(
            verify_signature(&h, body, b"whsec_y", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&h, b"{\"id\":\"evt_2\"}", b"whsec_x", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&h, body, b"whsec_x", 1301, 300),
            Err(SignatureError::Stale)
        );
        // Several v1 signatures (secret rotation): any one may match.
        let other = sign(body, b"old", 1000);
        let both = format!("{},v1={}", other, h.split("v1=").nth(1).unwrap_or(""));
        assert_eq!(verify_signature(&both, body, b"whsec_x", 1000, 300), Ok(()));
        assert_eq!(
            verify_signature("garbage", body, b"whsec_x", 1000, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn extreme_timestamps_are_stale_and_never_overflow() {
        let body = br#"{"id":"evt_1"}"#;
        for t in [i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1] {
            let h = sign(body, b"whsec_x", t);
            for now in [0, 1_700_000_000, i64::MIN, i64::MAX] {
                let r = verify_signature(&h, body, b"whsec_x", now, 300);
                if (i128::from(now) - i128::from(t)).abs() <= 300 {
                    assert_eq!(r, Ok(()), "t={t} now={now}");
                } else {
                    assert_eq!(r, Err(SignatureError::Stale), "t={t} now={now}");
                }
            }
        }
        let h = format!("t=-9223372036854775808,v1={}", "ab".repeat(32));
        assert_eq!(
            verify_signature(&h, body, b"whsec_x", 1_700_000_000, 300),
            Err(SignatureError::Stale)
        );
        let h = format!("t=9223372036854775807,v1={}", "ab".repeat(32));
        assert_eq!(
            verify_signature(&h, body, b"whsec_x", 1_700_000_000, 300),
            Err(SignatureError::Stale)
        );
        // The widest differences compare exactly against the widest tolerance.
        let h = sign(body, b"whsec_x", i64::MIN);
        assert_eq!(verify_signature(&h, body, b"whsec_x", -1, i64::MAX), Ok(()));
        assert_eq!(
            verify_signature(&h, body, b"whsec_x", 0, i64::MAX),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(&h, body, b"whsec_x", i64::MAX, i64::MAX),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(
            form(&[("metadata[user_id]", "a b&c".into())]),
            "metadata%5Buser_id%5D=a%20b%26c"
        );
    }
}
