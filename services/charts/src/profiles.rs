//! Saved birth profiles (self, partner, child ...), each linked to its chart.
//! Another user's profile answers 404.

use crate::engine::{BirthInput, OptionsInput};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::Authenticated;
use platform::http::Json;
use platform::AppError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const RELATIONS: &[&str] = &[
    "self", "partner", "spouse", "child", "parent", "sibling", "friend", "other",
];

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Profile {
    pub id: Uuid,
    pub name: String,
    pub relation: String,
    #[schema(value_type = Object)]
    pub birth: serde_json::Value,
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    pub chart_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Profile {
    pub fn inputs(&self) -> Result<(BirthInput, OptionsInput), AppError> {
        let birth = serde_json::from_value(self.birth.clone()).map_err(AppError::internal)?;
        let options = serde_json::from_value(self.options.clone()).map_err(AppError::internal)?;
        Ok((birth, options))
    }
}

fn from_row(r: &tokio_postgres::Row) -> Profile {
    Profile {
        id: r.get("id"),
        name: r.get("name"),
        relation: r.get("relation"),
        birth: r.get("birth"),
        options: r.get("options"),
        chart_id: r.get("chart_id"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

const COLUMNS: &str = "id, name, relation, birth, options, chart_id, created_at, updated_at";

fn check_name(name: &str) -> Result<String, AppError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1 to 100 characters"));
    }
    Ok(n.to_owned())
}

fn check_relation(r: &str) -> Result<String, AppError> {
    let r = r.trim().to_ascii_lowercase();
    if !RELATIONS.contains(&r.as_str()) {
        return Err(AppError::validation(
            "relation",
            format!("must be one of {}", RELATIONS.join(", ")),
        ));
    }
    Ok(r)
}

/// A profile of `user` (404 for anyone else's).
pub async fn load(state: &AppState, user: Uuid, id: Uuid) -> Result<Profile, AppError> {
    let client = platform::db::conn(&state.pool).await?;
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM profiles WHERE id = $1 AND user_id = $2"),
            &[&id, &user],
        )
        .await
        .map_err(platform::db::q)?
        .ok_or_else(|| AppError::not_found("profile"))?;
    Ok(from_row(&row))
}

/// The first profile `user` saved (the oldest; usually their own birth), if any.
pub async fn first(state: &AppState, user: Uuid) -> Result<Option<Profile>, AppError> {
    let client = platform::db::conn(&state.pool).await?;
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM profiles WHERE user_id = $1 ORDER BY id LIMIT 1"),
            &[&user],
        )
        .await
        .map_err(platform::db::q)?;
    Ok(row.as_ref().map(from_row))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProfile {
    pub name: String,
    /// self, partner, spouse, child, parent, sibling, friend, other (default self).
    #[serde(default)]
    pub relation: Option<String>,
    pub birth: BirthInput,
    #[serde(default)]
    pub options: OptionsInput,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProfileReply {
    #[serde(flatten)]
    pub profile: Profile,
    /// The normalized birth, when the chart was (re)computed by this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub input: Option<serde_json::Value>,
}

/// Save a birth profile; its chart is computed (or taken from the cache).
#[utoipa::path(post, path = "/api/v1/profiles", request_body = CreateProfile,
    responses((status = 201, body = ProfileReply), (status = 422, body = common::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Json<CreateProfile>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let user = p.user_id.as_uuid();
    let name = check_name(&b.name)?;
    let relation = check_relation(b.relation.as_deref().unwrap_or("self"))?;
    let chart = state.chart_for(user, &b.birth, &b.options).await?;
    let birth = serde_json::to_value(&b.birth).map_err(AppError::internal)?;
    let options = serde_json::to_value(&b.options).map_err(AppError::internal)?;
    let client = platform::db::conn(&state.pool).await?;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO profiles (id, user_id, name, relation, birth, options, chart_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &user,
                &name,
                &relation,
                &birth,
                &options,
                &chart.chart_id,
            ],
        )
        .await
        .map_err(platform::db::q)?;
    Ok(HttpResponse::Created().json(ProfileReply {
        profile: from_row(&row),
        input: Some(serde_json::to_value(&chart.input).map_err(AppError::internal)?),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProfileList {
    pub profiles: Vec<Profile>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The caller's profiles, oldest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/profiles", params(ListQuery),
    responses((status = 200, body = ProfileList), (status = 422, body = common::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(AppError::validation("limit", "must be between 1 and 100"));
    }
    let after = match query.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            Uuid::parse_str(c)
                .map_err(|_| AppError::validation("cursor", "is not a cursor from this list"))?,
        ),
    };
    let client = platform::db::conn(&state.pool).await?;
    // Ids are UUIDv7, ordered like creation; one extra row tells whether
    // another page follows.
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM profiles WHERE user_id = $1 AND ($2::uuid IS NULL OR id > $2)
                 ORDER BY id LIMIT $3"
            ),
            &[&p.user_id.as_uuid(), &after, &(limit + 1)],
        )
        .await
        .map_err(platform::db::q)?;
    let mut profiles: Vec<Profile> = rows.iter().map(from_row).collect();
    let next_cursor = if profiles.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        profiles.truncate(usize::try_from(limit).unwrap_or(0));
        profiles.last().map(|p| p.id.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(ProfileList {
        profiles,
        next_cursor,
    }))
}

fn profile_id(s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::not_found("profile"))
}

/// One of the caller's profiles.
#[utoipa::path(get, path = "/api/v1/profiles/{id}",
    responses((status = 200, body = Profile), (status = 404, body = common::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let prof = load(&state, p.user_id.as_uuid(), profile_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(prof))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    pub name: Option<String>,
    pub relation: Option<String>,
    /// Replaces the birth details (the chart is recomputed).
    pub birth: Option<BirthInput>,
    /// Replaces the options (the chart is recomputed).
    pub options: Option<OptionsInput>,
}

/// Change a profile; new birth details or options recompute its chart.
#[utoipa::path(patch, path = "/api/v1/profiles/{id}", request_body = UpdateProfile,
    responses((status = 200, body = ProfileReply), (status = 404, body = common::ErrorBody), (status = 422, body = common::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
    body: Json<UpdateProfile>,
) -> Result<HttpResponse, AppError> {
    let user = p.user_id.as_uuid();
    let id = profile_id(&id)?;
    let b = body.0;
    let current = load(&state, user, id).await?;
    let name = match &b.name {
        Some(n) => check_name(n)?,
        None => current.name.clone(),
    };
    let relation = match &b.relation {
        Some(r) => check_relation(r)?,
        None => current.relation.clone(),
    };
    let (mut birth, mut options) = current.inputs()?;
    let recompute = b.birth.is_some() || b.options.is_some() || current.chart_id.is_none();
    if let Some(nb) = b.birth {
        birth = nb;
    }
    if let Some(no) = b.options {
        options = no;
    }
    let (chart_id, input) = if recompute {
        let c = state.chart_for(user, &birth, &options).await?;
        (
            c.chart_id,
            Some(serde_json::to_value(&c.input).map_err(AppError::internal)?),
        )
    } else {
        (current.chart_id.unwrap_or_default(), None)
    };
    let birth = serde_json::to_value(&birth).map_err(AppError::internal)?;
    let options = serde_json::to_value(&options).map_err(AppError::internal)?;
    let client = platform::db::conn(&state.pool).await?;
    let row = client
        .query_opt(
            &format!(
                "UPDATE profiles SET name = $3, relation = $4, birth = $5, options = $6,
                     chart_id = $7, updated_at = now()
                 WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
            ),
            &[&id, &user, &name, &relation, &birth, &options, &chart_id],
        )
        .await
        .map_err(platform::db::q)?
        .ok_or_else(|| AppError::not_found("profile"))?;
    Ok(HttpResponse::Ok().json(ProfileReply {
        profile: from_row(&row),
        input,
    }))
}

/// Delete a profile (its cached chart stays in the shared cache).
#[utoipa::path(delete, path = "/api/v1/profiles/{id}",
    responses((status = 204), (status = 404, body = common::ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = profile_id(&id)?;
    let client = platform::db::conn(&state.pool).await?;
    let n = client
        .execute(
            "DELETE FROM profiles WHERE id = $1 AND user_id = $2",
            &[&id, &p.user_id.as_uuid()],
        )
        .await
        .map_err(platform::db::q)?;
    if n == 0 {
        return Err(AppError::not_found("profile"));
    }
    Ok(HttpResponse::NoContent().finish())
}
