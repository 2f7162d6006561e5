//! Readers: the role an admin grants (a row here), the profile a reader
//! keeps, and the status (online, busy, offline) users choose by.

use super::path_id;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use common::ErrorBody;
use platform::auth::{Admin, Authenticated};
use platform::db::q;
use platform::http::Json;
use platform::input::{Line, Text};
use platform::AppError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Languages a reader may list (ISO 639-1).
pub const LANGUAGES: &[&str] = &[
    "en", "hi", "ta", "te", "kn", "ml", "mr", "bn", "gu", "pa", "sa",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReaderStatus {
    Online,
    Busy,
    Offline,
}

impl ReaderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReaderStatus::Online => "online",
            ReaderStatus::Busy => "busy",
            ReaderStatus::Offline => "offline",
        }
    }
}

impl<'de> Deserialize<'de> for ReaderStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "online" => Ok(ReaderStatus::Online),
            "busy" => Ok(ReaderStatus::Busy),
            "offline" => Ok(ReaderStatus::Offline),
            _ => Err(serde::de::Error::custom(format!(
                "{}must be one of online, busy, offline",
                platform::input::VALIDATION_MARK
            ))),
        }
    }
}

/// A reader as users see them.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReaderView {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: Uuid,
    pub display_name: String,
    pub languages: Vec<String>,
    pub specialties: Vec<String>,
    /// Kinds of session offered: `chat`, `voice`, `video`.
    pub kinds: Vec<String>,
    pub bio: String,
    pub photo_url: Option<String>,
    /// `online` (can be requested), `busy` (in a session) or `offline`.
    pub status: String,
    /// Mean rating from users, 1 to 5 (absent before the first rating).
    pub rating: Option<f64>,
    pub ratings: i64,
    pub minutes_served: i64,
    /// The catalog code each kind is priced by, per minute (prices:
    /// `GET /api/v1/pricing/services`; the price is quoted at request time).
    pub service_codes: std::collections::BTreeMap<String, String>,
    /// Only in the admin listing: whether the role is granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReaderList {
    pub readers: Vec<ReaderView>,
}

/// A reader's own profile (every field optional: what is absent stays).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReaderProfile {
    #[schema(inline)]
    pub display_name: Option<Line<80>>,
    /// ISO 639-1 codes from the supported list (en, hi, ta, te, kn, ml, mr, bn, gu, pa, sa).
    #[schema(value_type = Option<Vec<String>>, max_items = 11)]
    pub languages: Option<Vec<Line<2>>>,
    #[schema(value_type = Option<Vec<String>>, max_items = 10)]
    pub specialties: Option<Vec<Line<60>>>,
    #[schema(value_type = Option<Vec<super::Kind>>, max_items = 3)]
    pub kinds: Option<Vec<super::Kind>>,
    #[schema(inline)]
    pub bio: Option<Text<2000>>,
    /// An https URL of the reader's photo.
    #[schema(inline)]
    pub photo_url: Option<Line<500>>,
}

/// An admin's grant (or update) of the reader role: the initial profile.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReaderGrant {
    #[schema(inline)]
    pub display_name: Line<80>,
    #[schema(value_type = Option<Vec<String>>, max_items = 11)]
    pub languages: Option<Vec<Line<2>>>,
    #[schema(value_type = Option<Vec<String>>, max_items = 10)]
    pub specialties: Option<Vec<Line<60>>>,
    #[schema(value_type = Option<Vec<super::Kind>>, max_items = 3)]
    pub kinds: Option<Vec<super::Kind>>,
    #[schema(inline)]
    pub bio: Option<Text<2000>>,
    #[schema(inline)]
    pub photo_url: Option<Line<500>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: ReaderStatus,
}

const COLUMNS: &str =
    "user_id, display_name, languages, specialties, kinds, bio, photo_url, status, \
     active, rating_sum, rating_count, minutes_served, updated_at";

fn view(state: &AppState, r: &tokio_postgres::Row, admin: bool) -> ReaderView {
    let count: i64 = r.get("rating_count");
    let sum: i64 = r.get("rating_sum");
    let codes = &state.cfg.live.service_codes;
    let kinds: Vec<String> = r.get("kinds");
    let service_codes = kinds
        .iter()
        .filter_map(|k| {
            let code = match super::Kind::parse(k)? {
                super::Kind::Chat => &codes.chat,
                super::Kind::Voice => &codes.voice,
                super::Kind::Video => &codes.video,
            };
            Some((k.clone(), code.clone()))
        })
        .collect();
    ReaderView {
        user_id: r.get("user_id"),
        display_name: r.get("display_name"),
        languages: r.get("languages"),
        specialties: r.get("specialties"),
        kinds,
        bio: r.get("bio"),
        photo_url: r.get("photo_url"),
        status: r.get("status"),
        #[allow(clippy::cast_precision_loss)]
        rating: (count > 0).then(|| ((sum as f64 / count as f64) * 100.0).round() / 100.0),
        ratings: count,
        minutes_served: r.get("minutes_served"),
        service_codes,
        active: admin.then(|| r.get("active")),
        updated_at: r.get("updated_at"),
    }
}

/// Checked profile values, ready for SQL (None: keep what is there).
struct Checked {
    languages: Option<Vec<String>>,
    specialties: Option<Vec<String>>,
    kinds: Option<Vec<String>>,
    bio: Option<String>,
    photo_url: Option<String>,
}

fn check(
    languages: Option<Vec<Line<2>>>,
    specialties: Option<Vec<Line<60>>>,
    kinds: Option<Vec<super::Kind>>,
    bio: Option<Text<2000>>,
    photo_url: Option<Line<500>>,
) -> Result<Checked, AppError> {
    let languages = match languages {
        None => None,
        Some(l) => {
            if l.is_empty() || l.len() > LANGUAGES.len() {
                return Err(AppError::validation(
                    "languages",
                    "list 1 to 11 supported languages",
                ));
            }
            let mut out: Vec<String> = Vec::new();
            for x in l {
                if !LANGUAGES.contains(&x.as_str()) {
                    return Err(AppError::validation(
                        "languages",
                        format!(
                            "`{}` is not supported (one of {})",
                            x.as_str(),
                            LANGUAGES.join(", ")
                        ),
                    ));
                }
                if !out.iter().any(|o| o == x.as_str()) {
                    out.push(x.into_inner());
                }
            }
            Some(out)
        }
    };
    let specialties = match specialties {
        None => None,
        Some(s) if s.len() > 10 => {
            return Err(AppError::validation(
                "specialties",
                "list at most 10 specialties",
            ))
        }
        Some(s) => {
            let mut out: Vec<String> = Vec::new();
            for x in s {
                let t = x.as_str().trim();
                if t.is_empty() {
                    return Err(AppError::validation(
                        "specialties",
                        "a specialty must not be blank",
                    ));
                }
                if !out.iter().any(|o| o == t) {
                    out.push(t.to_owned());
                }
            }
            Some(out)
        }
    };
    let kinds = match kinds {
        None => None,
        Some(k) if k.is_empty() => {
            return Err(AppError::validation(
                "kinds",
                "offer at least one kind of session",
            ))
        }
        Some(k) => {
            let mut out: Vec<String> = Vec::new();
            for x in k {
                if !out.iter().any(|o| o == x.as_str()) {
                    out.push(x.as_str().to_owned());
                }
            }
            Some(out)
        }
    };
    let photo_url = match photo_url {
        None => None,
        Some(u) => {
            let s = u.into_inner();
            if !s.starts_with("https://") || s.len() < 12 || s.contains(char::is_whitespace) {
                return Err(AppError::validation("photo_url", "must be an https:// URL"));
            }
            Some(s)
        }
    };
    Ok(Checked {
        languages,
        specialties,
        kinds,
        bio: bio.map(Text::into_inner),
        photo_url,
    })
}

fn display_name(n: &Line<80>) -> Result<String, AppError> {
    let t = n.as_str().trim();
    if t.is_empty() {
        return Err(AppError::validation("display_name", "must not be blank"));
    }
    Ok(t.to_owned())
}

/// The caller's reader row (active only), or 403.
pub async fn require_reader(state: &AppState, user: Uuid) -> Result<(), AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let ok = c
        .query_opt(
            "SELECT 1 FROM readers WHERE user_id = $1 AND active",
            &[&user],
        )
        .await
        .map_err(q)?
        .is_some();
    if ok {
        Ok(())
    } else {
        Err(AppError::new(
            common::ErrorCode::Forbidden,
            "you are not a reader (an admin grants the role)",
        ))
    }
}

/// Readers users can consult, online first, then by name.
#[utoipa::path(get, path = "/api/v1/live/readers",
    responses(
        (status = 200, body = ReaderList),
        (status = 401, body = ErrorBody, description = "unauthorized")),
    security(("internal_token" = [])))]
pub async fn list_readers(
    state: web::Data<AppState>,
    Authenticated(_p): Authenticated,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM readers WHERE active
                 ORDER BY CASE status WHEN 'online' THEN 0 WHEN 'busy' THEN 1 ELSE 2 END,
                          display_name, user_id LIMIT 500"
            ),
            &[],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(ReaderList {
        readers: rows.iter().map(|r| view(&state, r, false)).collect(),
    }))
}

/// The caller's own reader profile.
#[utoipa::path(get, path = "/api/v1/live/readers/me",
    responses(
        (status = 200, body = ReaderView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (not a reader)")),
    security(("internal_token" = [])))]
pub async fn my_profile(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
) -> Result<HttpResponse, AppError> {
    let me = p.user_id.as_uuid();
    require_reader(&state, me).await?;
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_one(
            &format!("SELECT {COLUMNS} FROM readers WHERE user_id = $1"),
            &[&me],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(view(&state, &row, false)))
}

/// Edit the caller's reader profile.
#[utoipa::path(put, path = "/api/v1/live/readers/me", request_body = ReaderProfile,
    responses(
        (status = 200, body = ReaderView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (not a reader)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (names the field)")),
    security(("internal_token" = [])))]
pub async fn update_my_profile(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Json<ReaderProfile>,
) -> Result<HttpResponse, AppError> {
    let me = p.user_id.as_uuid();
    require_reader(&state, me).await?;
    let b = body.0;
    let name = match &b.display_name {
        Some(n) => Some(display_name(n)?),
        None => None,
    };
    let k = check(b.languages, b.specialties, b.kinds, b.bio, b.photo_url)?;
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_one(
            &format!(
                "UPDATE readers SET
                   display_name = COALESCE($2, display_name),
                   languages = COALESCE($3, languages),
                   specialties = COALESCE($4, specialties),
                   kinds = COALESCE($5, kinds),
                   bio = COALESCE($6, bio),
                   photo_url = COALESCE($7, photo_url),
                   updated_at = now()
                 WHERE user_id = $1 RETURNING {COLUMNS}"
            ),
            &[
                &me,
                &name,
                &k.languages,
                &k.specialties,
                &k.kinds,
                &k.bio,
                &k.photo_url,
            ],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(view(&state, &row, false)))
}

/// Set the caller's status. `busy` is also set (and cleared) by sessions;
/// a reader in a session cannot go online or offline until it ends.
#[utoipa::path(put, path = "/api/v1/live/readers/me/status", request_body = StatusChange,
    responses(
        (status = 200, body = ReaderView),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (not a reader)"),
        (status = 409, body = ErrorBody, description = "conflict (in a session: it must end first)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (status)")),
    security(("internal_token" = [])))]
pub async fn set_my_status(
    state: web::Data<AppState>,
    Authenticated(p): Authenticated,
    body: Json<StatusChange>,
) -> Result<HttpResponse, AppError> {
    let me = p.user_id.as_uuid();
    require_reader(&state, me).await?;
    let c = platform::db::conn(&state.pool).await?;
    let in_session = c
        .query_opt(
            "SELECT 1 FROM live_sessions WHERE reader_id = $1 AND status IN ('accepted', 'active')",
            &[&me],
        )
        .await
        .map_err(q)?
        .is_some();
    if in_session && body.0.status != ReaderStatus::Busy {
        return Err(AppError::new(
            common::ErrorCode::Conflict,
            "you are in a session; end it first",
        ));
    }
    let row = c
        .query_one(
            &format!(
                "UPDATE readers SET status = $2, updated_at = now() WHERE user_id = $1 RETURNING {COLUMNS}"
            ),
            &[&me, &body.0.status.as_str()],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(view(&state, &row, false)))
}

/// Every reader, granted or revoked (admin).
#[utoipa::path(get, path = "/api/v1/admin/media/readers",
    responses(
        (status = 200, body = ReaderList),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden")),
    security(("internal_token" = [])))]
pub async fn admin_list_readers(
    state: web::Data<AppState>,
    Admin(_a): Admin,
) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            &format!("SELECT {COLUMNS} FROM readers ORDER BY created_at, user_id LIMIT 5000"),
            &[],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(ReaderList {
        readers: rows.iter().map(|r| view(&state, r, true)).collect(),
    }))
}

/// Grant the reader role to a user (201), or update and re-grant it (200).
#[utoipa::path(put, path = "/api/v1/admin/media/readers/{user_id}",
    params(("user_id" = String, Path, format = Uuid, description = "the user to make a reader")),
    request_body = ReaderGrant,
    responses(
        (status = 200, body = ReaderView, description = "updated (and granted again if revoked)"),
        (status = 201, body = ReaderView, description = "granted"),
        (status = 400, body = ErrorBody, description = "malformed_json"),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden"),
        (status = 404, body = ErrorBody, description = "not_found (the path is not a user id)"),
        (status = 413, body = ErrorBody, description = "payload_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = ErrorBody, description = "validation_failed (names the field)")),
    security(("internal_token" = [])))]
pub async fn admin_put_reader(
    state: web::Data<AppState>,
    Admin(a): Admin,
    path: web::Path<String>,
    body: Json<ReaderGrant>,
) -> Result<HttpResponse, AppError> {
    let user = path_id(&path, "user")?;
    let b = body.0;
    let name = display_name(&b.display_name)?;
    let k = check(b.languages, b.specialties, b.kinds, b.bio, b.photo_url)?;
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_one(
            &format!(
                "INSERT INTO readers (user_id, display_name, languages, specialties, kinds, bio, photo_url, granted_by)
                 VALUES ($1, $2, COALESCE($3::text[], '{{en}}'), COALESCE($4::text[], '{{}}'),
                         COALESCE($5::text[], '{{chat,voice,video}}'), COALESCE($6::text, ''), $7::text, $8)
                 ON CONFLICT (user_id) DO UPDATE SET
                   display_name = EXCLUDED.display_name,
                   languages = COALESCE($3::text[], readers.languages),
                   specialties = COALESCE($4::text[], readers.specialties),
                   kinds = COALESCE($5::text[], readers.kinds),
                   bio = COALESCE($6::text, readers.bio),
                   photo_url = COALESCE($7::text, readers.photo_url),
                   active = true, granted_by = $8, updated_at = now()
                 RETURNING {COLUMNS}, (xmax = 0) AS inserted"
            ),
            &[
                &user,
                &name,
                &k.languages,
                &k.specialties,
                &k.kinds,
                &k.bio,
                &k.photo_url,
                &a.user_id.as_uuid(),
            ],
        )
        .await
        .map_err(q)?;
    let inserted: bool = row.get("inserted");
    tracing::info!(reader = %user, admin = %a.user_id, inserted, "reader role granted");
    let v = view(&state, &row, true);
    Ok(if inserted {
        HttpResponse::Created().json(v)
    } else {
        HttpResponse::Ok().json(v)
    })
}

/// Revoke the reader role (the history stays). Refused while the reader
/// is in a session.
#[utoipa::path(delete, path = "/api/v1/admin/media/readers/{user_id}",
    params(("user_id" = String, Path, format = Uuid, description = "the reader")),
    responses(
        (status = 200, body = ReaderView),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden"),
        (status = 404, body = ErrorBody, description = "not_found (no such reader)"),
        (status = 409, body = ErrorBody, description = "conflict (the reader is in a session)")),
    security(("internal_token" = [])))]
pub async fn admin_revoke_reader(
    state: web::Data<AppState>,
    Admin(a): Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = path_id(&path, "reader")?;
    let c = platform::db::conn(&state.pool).await?;
    let busy = c
        .query_opt(
            "SELECT 1 FROM live_sessions WHERE reader_id = $1 AND status IN ('accepted', 'active')",
            &[&user],
        )
        .await
        .map_err(q)?
        .is_some();
    if busy {
        return Err(AppError::new(
            common::ErrorCode::Conflict,
            "the reader is in a session; revoke after it ends",
        ));
    }
    let row = c
        .query_opt(
            &format!(
                "UPDATE readers SET active = false, status = 'offline', updated_at = now()
                 WHERE user_id = $1 RETURNING {COLUMNS}"
            ),
            &[&user],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::not_found("reader"))?;
    // Requests waiting for this reader are declined (their holds released).
    c.execute(
        "UPDATE live_sessions SET status = 'ended', end_reason = 'declined', ended_at = now()
         WHERE reader_id = $1 AND status = 'requested'",
        &[&user],
    )
    .await
    .map_err(q)?;
    state.live_wake.notify_one();
    tracing::info!(reader = %user, admin = %a.user_id, "reader role revoked");
    Ok(HttpResponse::Ok().json(view(&state, &row, true)))
}
