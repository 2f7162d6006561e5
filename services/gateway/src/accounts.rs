//! Accounts: register, login, refresh, logout, me, change password.

use crate::state::GatewayState;
use crate::throttle;
use crate::tokens::{hash_refresh_token, new_refresh_token};
use actix_web::{web, HttpRequest, HttpResponse};
use common::event::UserRegistered;
use common::{subjects, ErrorCode, EventEnvelope, Principal, Role, TokenFamilyId, UserId};
use deadpool_postgres::GenericClient;
use platform::db::{conn, q, DbError};
use platform::http::Json;
use platform::input::Line;
use platform::nats::CallContext;
use platform::AppError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(value_type = String, max_length = 254, format = "email")]
    pub email: Line<254>,
    /// 10 to 128 characters, not a common password, not the email.
    #[schema(value_type = String, min_length = 10, max_length = 128)]
    pub password: Line<128>,
    #[schema(value_type = String, min_length = 1, max_length = 80)]
    pub display_name: Line<80>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(value_type = String, max_length = 254)]
    pub email: Line<254>,
    #[schema(value_type = String, max_length = 1024)]
    pub password: Line<1024>,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(value_type = String, max_length = 256)]
    pub refresh_token: Line<256>,
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, max_length = 1024)]
    pub current_password: Line<1024>,
    /// 10 to 128 characters, not a common password, not the email.
    #[schema(value_type = String, min_length = 10, max_length = 128)]
    pub new_password: Line<128>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuthResponse {
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub token_type: String,
}

/// Lower-cases and checks an email address; the error names `field`.
pub fn normalize_email(field: &str, raw: &str) -> Result<String, AppError> {
    let e = raw.trim().to_lowercase();
    let bad = |m: &str| Err(AppError::validation(field, m.to_owned()));
    if e.is_empty() {
        return bad("email is required");
    }
    if e.len() > 254 {
        return bad("email is too long");
    }
    let Some((local, domain)) = e.split_once('@') else {
        return bad("email must contain @");
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return bad("email is not a valid address");
    }
    if !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return bad("email domain is not valid");
    }
    if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("email must not contain spaces");
    }
    Ok(e)
}

fn clean_display_name(raw: &str) -> Result<String, AppError> {
    let n = raw.trim();
    if n.is_empty() {
        return Err(AppError::validation(
            "display_name",
            "display_name is required",
        ));
    }
    if n.chars().count() > 80 {
        return Err(AppError::validation(
            "display_name",
            "display_name must be at most 80 characters",
        ));
    }
    if n.chars().any(char::is_control) {
        return Err(AppError::validation(
            "display_name",
            "display_name must not contain control characters",
        ));
    }
    Ok(n.to_owned())
}

fn roles_from(db: Vec<String>) -> Vec<Role> {
    db.iter().filter_map(|r| Role::parse(r)).collect()
}

fn user_from_row(r: &tokio_postgres::Row) -> User {
    User {
        id: UserId(r.get("id")),
        email: r.get("email"),
        display_name: r.get("display_name"),
        roles: roles_from(r.get("roles")),
    }
}

/// Inserts a refresh token of `family` and returns its text.
async fn store_refresh<C: GenericClient>(
    db: &C,
    state: &GatewayState,
    user: UserId,
    family: TokenFamilyId,
) -> Result<String, AppError> {
    let (token, hash) = new_refresh_token();
    db.execute(
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(days => $5::int))",
        &[
            &uuid::Uuid::now_v7(),
            &family.as_uuid(),
            &user.as_uuid(),
            &hash,
            &i32::try_from(state.cfg.auth.refresh_ttl_days).unwrap_or(30),
        ],
    )
    .await
    .map_err(q)?;
    Ok(token)
}

fn auth_response(
    state: &GatewayState,
    user: User,
    refresh_token: String,
) -> Result<AuthResponse, AppError> {
    let access_token = state.access.issue(&Principal {
        user_id: user.id,
        roles: user.roles.clone(),
    })?;
    Ok(AuthResponse {
        user,
        access_token,
        refresh_token,
        expires_in: state.access.ttl_secs,
        token_type: "Bearer".into(),
    })
}

/// Creates an account (and its first refresh-token family) and records
/// `gateway.user.registered` in the outbox, all in one transaction.
pub async fn create_user(
    state: &GatewayState,
    email_raw: &str,
    password: String,
    display_name: &str,
    roles: &[Role],
) -> Result<(User, String), AppError> {
    let email = normalize_email("email", email_raw)?;
    let display_name = clean_display_name(display_name)?;
    state.hasher.check_policy("password", &password, &email)?;
    let hash = state.hasher.hash(password).await?;
    let mut client = conn(&state.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    let id = UserId::new();
    let role_names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let inserted = tx
        .query_one(
            "INSERT INTO users (id, email, email_normalized, display_name, password_hash, roles)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, email, display_name, roles",
            &[
                &id.as_uuid(),
                &email_raw.trim(),
                &email,
                &display_name,
                &hash,
                &role_names,
            ],
        )
        .await;
    let row = match inserted {
        Ok(r) => r,
        Err(e) => {
            let e = DbError::from(e);
            if e.is_unique_violation() {
                return Err(AppError::new(
                    ErrorCode::EmailTaken,
                    "an account with this email already exists",
                )
                .with_field("email"));
            }
            return Err(e.into_app_error());
        }
    };
    let user = user_from_row(&row);
    let event = EventEnvelope::new(
        subjects::gateway::SERVICE,
        subjects::gateway::EVT_USER_REGISTERED,
        1,
        UserRegistered {
            user_id: user.id,
            email: email.clone(),
            display_name: user.display_name.clone(),
        },
    );
    platform::outbox::enqueue(&tx, &event, &CallContext::current()).await?;
    let refresh = store_refresh(&tx, state, user.id, TokenFamilyId::new()).await?;
    tx.commit().await.map_err(q)?;
    state.outbox.notify();
    tracing::info!(user_id = %user.id, "account registered");
    Ok((user, refresh))
}

#[utoipa::path(post, path = "/api/v1/auth/register", request_body = RegisterRequest,
    responses((status = 201, body = AuthResponse), (status = 400, body = common::ErrorBody, description = "malformed_json"), (status = 409, body = common::ErrorBody, description = "email_taken"), (status = 413, body = common::ErrorBody, description = "payload_too_large"), (status = 415, body = common::ErrorBody, description = "unsupported_media_type"), (status = 422, body = common::ErrorBody, description = "validation_failed, naming the field"), (status = 429, body = common::ErrorBody, description = "too_many_requests")))]
pub async fn register(
    req: HttpRequest,
    state: web::Data<GatewayState>,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    // Sign-ups cost a password hash each: throttled per address and per email
    // before any hashing.
    let email = normalize_email("email", &b.email)?;
    let t = &state.cfg.throttle;
    {
        let client = conn(&state.pool).await?;
        throttle::take_attempt(
            &client,
            &throttle::Window {
                window_secs: t.register_window_secs,
                lockout_secs: t.register_window_secs,
                message: "too many sign-ups; try again later",
            },
            &[
                throttle::Limit {
                    key: throttle::register_address_key(&client_address(&req, &state.proxies)),
                    max: t.register_max_per_address,
                },
                throttle::Limit {
                    key: throttle::register_account_key(&email),
                    max: t.register_max_per_account,
                },
            ],
        )
        .await?;
    }
    let (user, refresh) = create_user(
        &state,
        &b.email,
        b.password.into_inner(),
        &b.display_name,
        &[Role::User],
    )
    .await?;
    Ok(HttpResponse::Created().json(auth_response(&state, user, refresh)?))
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy
/// (`throttle.trusted_proxies`); then the rightmost `X-Forwarded-For` entry
/// that is not itself a trusted proxy (entries further left were written by
/// the client and could be anything).
pub fn client_address(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    let mut client = peer;
    // All header lines, in order, as one list; walk it from the right.
    let entries: Vec<String> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|e| e.trim().to_owned()))
        .collect();
    for entry in entries.iter().rev() {
        match entry.parse::<std::net::IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ip.to_string(),
            // Garbage where an address should be: stop at the last trusted hop.
            Err(_) => break,
        }
    }
    client.to_string()
}

#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 400, body = common::ErrorBody, description = "malformed_json"), (status = 401, body = common::ErrorBody, description = "invalid_credentials"), (status = 413, body = common::ErrorBody, description = "payload_too_large"), (status = 415, body = common::ErrorBody, description = "unsupported_media_type"), (status = 422, body = common::ErrorBody, description = "validation_failed, naming the field"), (status = 429, body = common::ErrorBody, description = "too_many_requests")))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<GatewayState>,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let invalid = || {
        AppError::new(
            ErrorCode::InvalidCredentials,
            "email or password is incorrect",
        )
    };
    let t = &state.cfg.throttle;
    let addr_key = throttle::address_key(&client_address(&req, &state.proxies));
    // An unparseable email is treated as an unknown account: same answer, same throttling.
    let email =
        normalize_email("email", &b.email).unwrap_or_else(|_| b.email.trim().to_lowercase());
    let acct_key = throttle::account_key(&email);
    // Take the attempt first (atomically, so concurrent guesses cannot all
    // pass), then look the account up; no connection is held while hashing.
    let row = {
        let client = conn(&state.pool).await?;
        throttle::take_attempt(
            &client,
            &throttle::Window {
                window_secs: t.window_secs,
                lockout_secs: t.lockout_secs,
                message: "too many failed logins; try again later",
            },
            &[
                throttle::Limit {
                    key: acct_key.clone(),
                    max: t.account_max_failures,
                },
                throttle::Limit {
                    key: addr_key.clone(),
                    max: t.address_max_failures,
                },
            ],
        )
        .await?;
        client
            .query_opt(
                "SELECT id, email, display_name, roles, password_hash FROM users WHERE email_normalized = $1",
                &[&email],
            )
            .await
            .map_err(q)?
    };
    let hash = row.as_ref().map(|r| r.get::<_, String>("password_hash"));
    let ok = b.password.chars().count() <= crate::passwords::MAX_LEN
        && state.hasher.verify(b.password.into_inner(), hash).await?;
    let Some(row) = row.filter(|_| ok) else {
        return Err(invalid());
    };
    let client = conn(&state.pool).await?;
    throttle::clear(&client, &acct_key).await?;
    throttle::give_back(&client, &addr_key).await?;
    let user = user_from_row(&row);
    let refresh = store_refresh(&client, &state, user.id, TokenFamilyId::new()).await?;
    Ok(HttpResponse::Ok().json(auth_response(&state, user, refresh)?))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", request_body = RefreshRequest,
    responses((status = 200, body = AuthResponse), (status = 400, body = common::ErrorBody, description = "malformed_json"), (status = 401, body = common::ErrorBody, description = "invalid_token, token_expired or refresh_token_reused"), (status = 413, body = common::ErrorBody, description = "payload_too_large"), (status = 415, body = common::ErrorBody, description = "unsupported_media_type"), (status = 422, body = common::ErrorBody, description = "validation_failed, naming the field")))]
pub async fn refresh(
    state: web::Data<GatewayState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, AppError> {
    let hash = hash_refresh_token(body.0.refresh_token.trim());
    let mut client = conn(&state.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    let row = tx
        .query_opt(
            "SELECT t.id, t.family_id, t.used_at IS NOT NULL AS used, t.revoked_at IS NOT NULL AS revoked,
                    t.expires_at <= now() AS expired,
                    u.id AS user_id, u.email, u.display_name, u.roles
             FROM refresh_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 FOR UPDATE OF t",
            &[&hash],
        )
        .await
        .map_err(q)?;
    let Some(row) = row else {
        return Err(AppError::new(
            ErrorCode::InvalidToken,
            "refresh token is not valid",
        ));
    };
    let family: uuid::Uuid = row.get("family_id");
    if row.get::<_, bool>("revoked") {
        return Err(AppError::new(
            ErrorCode::InvalidToken,
            "refresh token has been revoked",
        ));
    }
    if row.get::<_, bool>("used") {
        // Reuse of a rotated token: someone else may hold this family. Revoke all of it.
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
            &[&family],
        )
        .await
        .map_err(q)?;
        tx.commit().await.map_err(q)?;
        tracing::warn!(family_id = %family, "refresh token reuse detected; family revoked");
        return Err(AppError::new(
            ErrorCode::RefreshTokenReused,
            "refresh token was already used; all sessions from this login are signed out",
        ));
    }
    if row.get::<_, bool>("expired") {
        return Err(AppError::new(
            ErrorCode::TokenExpired,
            "refresh token has expired",
        ));
    }
    let token_id: uuid::Uuid = row.get("id");
    tx.execute(
        "UPDATE refresh_tokens SET used_at = now() WHERE id = $1",
        &[&token_id],
    )
    .await
    .map_err(q)?;
    let user = User {
        id: UserId(row.get("user_id")),
        email: row.get("email"),
        display_name: row.get("display_name"),
        roles: roles_from(row.get("roles")),
    };
    let new_refresh = store_refresh(&tx, &state, user.id, TokenFamilyId(family)).await?;
    tx.commit().await.map_err(q)?;
    Ok(HttpResponse::Ok().json(auth_response(&state, user, new_refresh)?))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", request_body = RefreshRequest,
    responses((status = 204, description = "signed out (also when the token was not valid)"), (status = 400, body = common::ErrorBody, description = "malformed_json"), (status = 401, body = common::ErrorBody, description = "malformed Authorization header"), (status = 413, body = common::ErrorBody, description = "payload_too_large"), (status = 415, body = common::ErrorBody, description = "unsupported_media_type"), (status = 422, body = common::ErrorBody, description = "validation_failed, naming the field")))]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<GatewayState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, AppError> {
    let hash = hash_refresh_token(body.0.refresh_token.trim());
    // The access token sent with the logout dies with the session.
    let access = bearer_token(&req)
        .ok()
        .flatten()
        .and_then(|t| state.access.verify(t).ok());
    let mut client = conn(&state.pool).await?;
    let tx = client.transaction().await.map_err(q)?;
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = now()
         WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL",
        &[&hash],
    )
    .await
    .map_err(q)?;
    let revocation = access
        .filter(|v| v.jti.is_some())
        .map(|v| crate::revocations::Revocation {
            jti: v.jti,
            user_id: None,
            not_before_ms: None,
            expires_at: v.exp,
        });
    if let Some(r) = &revocation {
        crate::revocations::record(&tx, r).await?;
    }
    tx.commit().await.map_err(q)?;
    if let Some(r) = &revocation {
        crate::revocations::announce(&state.revocations, state.bus.as_ref(), r).await;
    }
    Ok(HttpResponse::NoContent().finish())
}

fn bearer_token(req: &HttpRequest) -> Result<Option<&str>, AppError> {
    let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AppError::new(ErrorCode::InvalidToken, "malformed Authorization header"))?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(|t| Some(t.trim()))
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::InvalidToken,
                "Authorization must be a Bearer token",
            )
        })
}

/// The principal from `Authorization: Bearer <access token>` (401 for a
/// bad, expired or revoked token).
pub fn bearer_principal(
    req: &HttpRequest,
    state: &GatewayState,
) -> Result<Option<Principal>, AppError> {
    let Some(token) = bearer_token(req)? else {
        return Ok(None);
    };
    let v = state.access.verify(token)?;
    if state
        .revocations
        .is_revoked(v.principal.user_id, v.jti, v.issued_ms)
    {
        return Err(AppError::new(
            ErrorCode::InvalidToken,
            "access token has been revoked",
        ));
    }
    Ok(Some(v.principal))
}

pub fn require_user(req: &HttpRequest, state: &GatewayState) -> Result<Principal, AppError> {
    bearer_principal(req, state)?.ok_or_else(|| AppError::unauthorized("authentication required"))
}

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = User), (status = 401, body = common::ErrorBody, description = "unauthorized, invalid_token or token_expired")),
    security(("bearer" = [])))]
pub async fn me(
    req: HttpRequest,
    state: web::Data<GatewayState>,
) -> Result<HttpResponse, AppError> {
    let p = require_user(&req, &state)?;
    let client = conn(&state.pool).await?;
    let row = client
        .query_opt(
            "SELECT id, email, display_name, roles FROM users WHERE id = $1",
            &[&p.user_id.as_uuid()],
        )
        .await
        .map_err(q)?
        .ok_or_else(|| AppError::new(ErrorCode::InvalidToken, "the account no longer exists"))?;
    Ok(HttpResponse::Ok().json(user_from_row(&row)))
}

#[utoipa::path(post, path = "/api/v1/me/password", request_body = ChangePasswordRequest,
    responses((status = 204, description = "changed; every session signs in again"), (status = 400, body = common::ErrorBody, description = "malformed_json"), (status = 401, body = common::ErrorBody, description = "unauthorized, invalid_token or invalid_credentials (current_password)"), (status = 413, body = common::ErrorBody, description = "payload_too_large"), (status = 415, body = common::ErrorBody, description = "unsupported_media_type"), (status = 422, body = common::ErrorBody, description = "validation_failed, naming the field"), (status = 429, body = common::ErrorBody, description = "too_many_requests")), security(("bearer" = [])))]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<GatewayState>,
    body: Json<ChangePasswordRequest>,
) -> Result<HttpResponse, AppError> {
    let p = require_user(&req, &state)?;
    let b = body.0;
    let t = &state.cfg.throttle;
    let pwd_key = throttle::password_change_key(&p.user_id);
    let addr_key = throttle::address_key(&client_address(&req, &state.proxies));
    // The current password is a guess like a login's: counted first, and no
    // connection is held while hashing.
    let row = {
        let client = conn(&state.pool).await?;
        throttle::take_attempt(
            &client,
            &throttle::Window {
                window_secs: t.window_secs,
                lockout_secs: t.lockout_secs,
                message: "too many attempts; try again later",
            },
            &[
                throttle::Limit {
                    key: pwd_key.clone(),
                    max: t.account_max_failures,
                },
                throttle::Limit {
                    key: addr_key.clone(),
                    max: t.address_max_failures,
                },
            ],
        )
        .await?;
        client
            .query_opt(
                "SELECT email_normalized, password_hash FROM users WHERE id = $1",
                &[&p.user_id.as_uuid()],
            )
            .await
            .map_err(q)?
            .ok_or_else(|| AppError::new(ErrorCode::InvalidToken, "the account no longer exists"))?
    };
    let email: String = row.get(0);
    if !state
        .hasher
        .verify(b.current_password.into_inner(), Some(row.get(1)))
        .await?
    {
        return Err(AppError::new(
            ErrorCode::InvalidCredentials,
            "current password is incorrect",
        )
        .with_field("current_password"));
    }
    state
        .hasher
        .check_policy("new_password", &b.new_password, &email)?;
    let hash = state.hasher.hash(b.new_password.into_inner()).await?;
    let mut client = conn(&state.pool).await?;
    throttle::clear(&client, &pwd_key).await?;
    throttle::give_back(&client, &addr_key).await?;
    let tx = client.transaction().await.map_err(q)?;
    tx.execute(
        "UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now() WHERE id = $1",
        &[&p.user_id.as_uuid(), &hash],
    )
    .await
    .map_err(q)?;
    // Every session signs in again: refresh tokens revoked, and every access
    // token issued until now refused from here on.
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        &[&p.user_id.as_uuid()],
    )
    .await
    .map_err(q)?;
    let now = chrono::Utc::now();
    let revocation = crate::revocations::Revocation {
        jti: None,
        user_id: Some(p.user_id),
        not_before_ms: Some(now.timestamp_millis()),
        expires_at: now.timestamp() + state.access.ttl_secs + 60,
    };
    crate::revocations::record(&tx, &revocation).await?;
    tx.commit().await.map_err(q)?;
    crate::revocations::announce(&state.revocations, state.bus.as_ref(), &revocation).await;
    Ok(HttpResponse::NoContent().finish())
}
