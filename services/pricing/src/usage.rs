//! Usage events from JetStream, the input of the engine's demand factor.
//!
//! A durable consumer (`pricing-usage`) reads `evt.pricing.credits.spent`
//! (every capture names its service when the hold came from a quote), and
//! another (`pricing-guidance-usage`) guidance's `evt.guidance.usage.recorded`
//! (answers, and text generated for other services). Each records one
//! `usage_events` row, idempotently (event id primary key plus
//! `processed_events`), and an answer both events describe counts once: they
//! name the same hold, which is unique in the table.

use crate::events::CreditsSpent;
use crate::AppState;
use platform::db::q;
use platform::nats::{ConsumerSpec, Delivery};

pub const CONSUMER: &str = "pricing-usage";
pub const SUBJECT: &str = "evt.pricing.credits.spent";

pub fn spec() -> ConsumerSpec {
    ConsumerSpec::new(common::subjects::pricing::SERVICE, CONSUMER, SUBJECT)
}

pub const GUIDANCE_CONSUMER: &str = "pricing-guidance-usage";
pub const GUIDANCE_SUBJECT: &str = "evt.guidance.usage.recorded";

/// Guidance's usage events (signed by guidance).
pub fn guidance_spec() -> ConsumerSpec {
    ConsumerSpec::new(
        common::subjects::guidance::SERVICE,
        GUIDANCE_CONSUMER,
        GUIDANCE_SUBJECT,
    )
}

#[tracing::instrument(skip_all, fields(event = %d.envelope.id))]
pub async fn handle_recorded(
    st: &AppState,
    d: Delivery<common::event::UsageRecorded>,
) -> anyhow::Result<()> {
    let u = &d.envelope.data;
    let mut client = platform::db::conn(&st.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    if platform::outbox::mark_processed(&tx, GUIDANCE_CONSUMER, d.envelope.id.as_uuid()).await? {
        let units = u.units.clamp(0, 1_000_000);
        // Text generated for a service is charged to that service's account.
        let credits = match (&u.caller, u.user_id) {
            (Some(service), None) if units > 0 => {
                charge_service(
                    &tx,
                    d.envelope.id.as_uuid(),
                    service,
                    u,
                    units,
                    d.envelope.occurred_at,
                )
                .await?
            }
            _ => u.credits.clamp(0, crate::limits::MAX_BALANCE),
        };
        tx.execute(
            "INSERT INTO usage_events (event_id, service_code, units, credits, occurred_at, hold_id, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &d.envelope.id.as_uuid(),
                &u.service_code,
                &units,
                &credits,
                &d.envelope.occurred_at,
                &u.hold_id.map(|h| h.as_uuid()),
                &d.producer,
            ],
        )
        .await
        .map_err(q)?;
    }
    tx.commit().await.map_err(q)?;
    Ok(())
}

/// Charges `service`'s account for text generated for it: the catalog price
/// of the event's service code when it happened, times its units (capped
/// at the maximum balance). An unknown service code or a caller that is not
/// a service name is an error (the event is retried, then dead-lettered).
async fn charge_service(
    tx: &tokio_postgres::Transaction<'_>,
    event_id: uuid::Uuid,
    service: &str,
    u: &common::event::UsageRecorded,
    units: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<i64> {
    let valid = !service.is_empty()
        && service.len() <= 63
        && service.starts_with(|c: char| c.is_ascii_lowercase())
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        anyhow::bail!("usage event {event_id}: {service:?} is not a service name");
    }
    let price: Option<i64> = tx
        .query_opt(
            "SELECT effective_price(code, $2) FROM services WHERE code = $1",
            &[&u.service_code, &at],
        )
        .await
        .map_err(q)?
        .and_then(|r| r.get(0));
    let Some(price) = price else {
        anyhow::bail!(
            "usage event {event_id}: service code {:?} has no price",
            u.service_code
        );
    };
    let credits = price
        .checked_mul(units)
        .unwrap_or(i64::MAX)
        .min(crate::limits::MAX_BALANCE);
    let prompt = i64::from(u.prompt_tokens);
    let completion = i64::from(u.completion_tokens);
    tx.execute(
        "INSERT INTO service_accounts (service) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&service],
    )
    .await
    .map_err(q)?;
    let inserted = tx
        .execute(
            "INSERT INTO service_charges (event_id, service, service_code, units, credits,
                                          prompt_tokens, completion_tokens, provider, occurred_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            &[
                &event_id,
                &service,
                &u.service_code,
                &units,
                &credits,
                &prompt,
                &completion,
                &u.provider,
                &at,
            ],
        )
        .await
        .map_err(q)?;
    if inserted == 1 {
        tx.execute(
            "UPDATE service_accounts
                SET charged_credits = LEAST(charged_credits + $2, 1000000000000),
                    uses = uses + 1,
                    prompt_tokens = prompt_tokens + $3,
                    completion_tokens = completion_tokens + $4,
                    last_charged_at = GREATEST(COALESCE(last_charged_at, $5), $5)
              WHERE service = $1",
            &[&service, &credits, &prompt, &completion, &at],
        )
        .await
        .map_err(q)?;
    }
    Ok(credits)
}

#[tracing::instrument(skip_all, fields(event = %d.envelope.id))]
pub async fn handle(st: &AppState, d: Delivery<CreditsSpent>) -> anyhow::Result<()> {
    let Some(code) = d.envelope.data.service_code.as_deref() else {
        return Ok(()); // spending not tied to a catalogued service
    };
    let mut client = platform::db::conn(&st.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    if platform::outbox::mark_processed(&tx, CONSUMER, d.envelope.id.as_uuid()).await? {
        tx.execute(
            "INSERT INTO usage_events (event_id, service_code, units, credits, occurred_at, hold_id)
             VALUES ($1, $2, 1, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[
                &d.envelope.id.as_uuid(),
                &code,
                &d.envelope.data.amount,
                &d.envelope.occurred_at,
                &d.envelope.data.hold_id.as_uuid(),
            ],
        )
        .await
        .map_err(q)?;
    }
    tx.commit().await.map_err(q)?;
    Ok(())
}

/// What one service has been charged for text generated for it.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ServiceAccount {
    /// The calling service (`social`, `media`).
    pub service: String,
    /// Credits charged, at the catalog price when each text was generated.
    pub charged_credits: i64,
    pub uses: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub last_charged_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ServiceAccountList {
    /// By service name.
    pub items: Vec<ServiceAccount>,
}

/// `GET /api/v1/admin/pricing/service-accounts`: what each service has been
/// charged for text generated for it (guidance's `guidance.text.generate`).
#[utoipa::path(
    get,
    path = "/api/v1/admin/pricing/service-accounts",
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "every service account, by name", body = ServiceAccountList),
        (status = 401, description = "unauthorized: no valid internal token naming a user"),
        (status = 403, description = "forbidden: admins only"),
        (status = 503, description = "database_unavailable"),
        (status = 504, description = "timeout: the database did not answer in time"),
    )
)]
pub async fn service_accounts(
    st: actix_web::web::Data<AppState>,
    _a: platform::auth::Admin,
) -> Result<actix_web::HttpResponse, platform::AppError> {
    let c = platform::db::conn(&st.pool).await?;
    let rows = c
        .query(
            "SELECT service, charged_credits, uses, prompt_tokens, completion_tokens, last_charged_at
               FROM service_accounts ORDER BY service",
            &[],
        )
        .await
        .map_err(q)?;
    let items = rows
        .iter()
        .map(|r| ServiceAccount {
            service: r.get(0),
            charged_credits: r.get(1),
            uses: r.get(2),
            prompt_tokens: r.get(3),
            completion_tokens: r.get(4),
            last_charged_at: r.get(5),
        })
        .collect();
    Ok(actix_web::HttpResponse::Ok().json(ServiceAccountList { items }))
}
