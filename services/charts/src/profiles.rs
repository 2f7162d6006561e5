//! Saved birth profiles (self, partner, child ...), each linked to its chart.
//! Another user's profile answers 404.

use crate::api::{path_uuid, query_int, IdPath};
use crate::engine::{BirthInput, OptionsInput};
use crate::input::{self, Choices, Relation, RelationName};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::Authenticated;
use platform::http::Json;
use platform::input::Line;
use platform::AppError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Profile {
    pub id: Uuid,
    pub name: String,
    /// self, partner, spouse, child, parent, sibling, friend or other.
    pub relation: String,
    /// The birth details as given (see `BirthInput`).
    #[schema(value_type = Object)]
    pub birth: serde_json::Value,
    /// The options as given (see `OptionsInput`).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    /// The profile's chart; null after a purge until it is recomputed.
    pub chart_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Profile {
    /// The saved birth and options, checked by today's rules (a profile
    /// saved under older, looser rules is a 422 asking for an update).
    pub fn inputs(&self) -> Result<(BirthInput, OptionsInput), AppError> {
        let stale = |what: &str, e: serde_json::Error| {
            AppError::validation(
                what,
                format!("the profile's saved {what} no longer passes validation ({e}); update the profile"),
            )
        };
        let birth = serde_json::from_value(self.birth.clone()).map_err(|e| stale("birth", e))?;
        let options =
            serde_json::from_value(self.options.clone()).map_err(|e| stale("options", e))?;
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

/// The most characters of a profile name.
pub const MAX_NAME_CHARS: usize = 100;
/// A profile name: one line, 1 to 100 characters, not only spaces.
pub type Name = Line<MAX_NAME_CHARS>;

/// The name as saved: trimmed, not empty.
fn check_name(name: &Name) -> Result<String, AppError> {
    let n = name.trim();
    if n.is_empty() {
        return Err(AppError::validation("name", "must not be empty"));
    }
    Ok(n.to_owned())
}

fn name_schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_CHARS))
        .pattern(Some(platform::input::LINE_PATTERN))
        .description(Some("1 to 100 characters, not only spaces, one line"))
        .into()
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
    #[schema(schema_with = name_schema)]
    pub name: Name,
    /// Default `self`.
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(inline, nullable = false)]
    pub relation: Option<RelationName>,
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
#[utoipa::path(post, path = "/api/v1/profiles",
    request_body(content = CreateProfile, example = json!({"name": "Asha", "relation": "self", "birth": {"date": "1990-05-01", "time": "06:30", "place_id": 1264527}})),
    responses((status = 201, description = "the saved profile and its normalized birth", body = ProfileReply)),
    security(("internal" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Json<CreateProfile>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let user = p.user_id.as_uuid();
    let name = check_name(&b.name)?;
    let relation = b.relation.map_or(Relation::Myself, |c| c.0).name_of();
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

/// The largest page of profiles.
pub const MAX_PAGE: i64 = 100;

crate::param_schema!(
    /// The size of a page of profiles.
    PageLimit,
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int64,
        )))
        .minimum(Some(1))
        .maximum(Some(MAX_PAGE))
        .into()
);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 50).
    #[param(value_type = Option<PageLimit>, inline)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<input::UuidParam>, inline)]
    pub cursor: Option<String>,
}

/// The caller's profiles, oldest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/profiles", params(ListQuery),
    responses((status = 200, description = "a page of profiles", body = ProfileList)),
    security(("internal" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = match query.limit.as_deref() {
        None => 50,
        Some(s) => query_int("limit", s, 1, MAX_PAGE)?,
    };
    let after = match query.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            input::parse_uuid(c)
                .ok_or_else(|| AppError::validation("cursor", "is not a cursor from this list"))?,
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

fn profile_id(path: &IdPath) -> Result<Uuid, AppError> {
    path_uuid(&path.id, "profile")
}

/// One of the caller's profiles.
#[utoipa::path(get, path = "/api/v1/profiles/{id}", params(IdPath),
    responses((status = 200, description = "the profile", body = Profile)),
    security(("internal" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<IdPath>,
) -> Result<HttpResponse, AppError> {
    let prof = load(&state, p.user_id.as_uuid(), profile_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(prof))
}

/// Fields left out keep their value (`null` is not a value here).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(schema_with = name_schema, nullable = false)]
    pub name: Option<Name>,
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(inline, nullable = false)]
    pub relation: Option<RelationName>,
    /// Replaces the birth details (the chart is recomputed).
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(nullable = false)]
    pub birth: Option<BirthInput>,
    /// Replaces the options (the chart is recomputed).
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(nullable = false)]
    pub options: Option<OptionsInput>,
}

/// Change a profile; new birth details or options recompute its chart.
#[utoipa::path(patch, path = "/api/v1/profiles/{id}", params(IdPath),
    request_body(content = UpdateProfile, example = json!({"name": "Asha", "relation": "spouse"})),
    responses((status = 200, description = "the changed profile (with `input` when the chart was recomputed)", body = ProfileReply)),
    security(("internal" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<IdPath>,
    body: Json<UpdateProfile>,
) -> Result<HttpResponse, AppError> {
    let user = p.user_id.as_uuid();
    let id = profile_id(&path)?;
    let b = body.0;
    let current = load(&state, user, id).await?;
    let name = match &b.name {
        Some(n) => check_name(n)?,
        None => current.name.clone(),
    };
    let relation = match b.relation {
        Some(r) => r.0.name_of().to_owned(),
        None => current.relation.clone(),
    };
    // New birth details or options, or a chart lost to a purge: recompute.
    let recompute = b.birth.is_some() || b.options.is_some();
    let (chart_id, input, birth, options) = match current.chart_id {
        Some(chart_id) if !recompute => (chart_id, None, current.birth, current.options),
        _ => {
            let (birth, options) = match (b.birth, b.options) {
                (Some(birth), Some(options)) => (birth, options),
                (birth, options) => {
                    let (saved_birth, saved_options) = current.inputs()?;
                    (
                        birth.unwrap_or(saved_birth),
                        options.unwrap_or(saved_options),
                    )
                }
            };
            let c = state.chart_for(user, &birth, &options).await?;
            (
                c.chart_id,
                Some(serde_json::to_value(&c.input).map_err(AppError::internal)?),
                serde_json::to_value(&birth).map_err(AppError::internal)?,
                serde_json::to_value(&options).map_err(AppError::internal)?,
            )
        }
    };
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
#[utoipa::path(delete, path = "/api/v1/profiles/{id}", params(IdPath),
    responses((status = 204, description = "deleted")),
    security(("internal" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    path: web::Path<IdPath>,
) -> Result<HttpResponse, AppError> {
    let id = profile_id(&path)?;
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
