//! Avatar images: admins upload PNG or JPEG files (checked by their magic
//! bytes and their own headers' dimensions, read here without an image
//! library), videos use them; users list the active ones.

use super::store;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use common::ErrorCode;
use futures_util::StreamExt;
use object_store::{ObjectStoreExt, PutPayload};
use platform::auth::{Admin, Authenticated};
use platform::db::q;
use platform::AppError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// The image formats accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
        }
    }

    fn from_content_type(ct: &str) -> Option<Format> {
        match ct {
            "image/png" => Some(Format::Png),
            "image/jpeg" | "image/jpg" => Some(Format::Jpeg),
            _ => None,
        }
    }

    /// The format the bytes themselves say.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&PNG_SIGNATURE) {
            Some(Format::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else {
            None
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 2)?;
    Some(u32::from(u16::from_be_bytes([s[0], s[1]])))
}

/// Width and height from a PNG's IHDR chunk (the first chunk, by the spec).
pub fn png_size(b: &[u8]) -> Result<(u32, u32), &'static str> {
    if b.get(12..16) != Some(b"IHDR".as_slice()) {
        return Err("the PNG does not start with an IHDR header");
    }
    let w = b.get(16..20).ok_or("the PNG header is cut short")?;
    let h = b.get(20..24).ok_or("the PNG header is cut short")?;
    Ok((
        u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
        u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
    ))
}

/// Width and height from a JPEG's frame header (SOF0..SOF15 but DHT, JPG
/// and DAC), found by walking the markers before the scan.
pub fn jpeg_size(b: &[u8]) -> Result<(u32, u32), &'static str> {
    const CUT: &str = "the JPEG ends before its frame header";
    let mut i = 2;
    loop {
        if b.get(i) != Some(&0xFF) {
            return Err("the JPEG's markers are corrupt");
        }
        while b.get(i) == Some(&0xFF) {
            i += 1;
        }
        let marker = *b.get(i).ok_or(CUT)?;
        i += 1;
        match marker {
            // markers without a length
            0x01 | 0xD0..=0xD8 => continue,
            0xD9 | 0xDA => return Err("the JPEG has no frame header before its image data"),
            _ => {
                let len = be16(b, i).ok_or(CUT)? as usize;
                if len < 2 {
                    return Err("the JPEG's markers are corrupt");
                }
                let is_sof =
                    (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
                if is_sof {
                    let h = be16(b, i + 3).ok_or(CUT)?;
                    let w = be16(b, i + 5).ok_or(CUT)?;
                    return Ok((w, h));
                }
                i += len;
            }
        }
    }
}

/// Checks an upload: the declared type matches the bytes, and the
/// dimensions are within `min..=max`. Returns the format and size.
pub fn check(
    declared: &str,
    bytes: &[u8],
    min: u32,
    max: u32,
) -> Result<(Format, u32, u32), AppError> {
    let want = Format::from_content_type(declared).ok_or_else(|| {
        AppError::new(
            ErrorCode::UnsupportedMediaType,
            "avatar images must be sent as image/png or image/jpeg",
        )
    })?;
    if bytes.is_empty() {
        return Err(AppError::validation("body", "the image is empty"));
    }
    let got = Format::sniff(bytes).ok_or_else(|| {
        AppError::validation(
            "body",
            format!(
                "the bytes are not a PNG or JPEG image (Content-Type says {})",
                want.content_type()
            ),
        )
    })?;
    if got != want {
        return Err(AppError::validation(
            "body",
            format!(
                "the bytes are {}, but Content-Type says {}",
                got.content_type(),
                want.content_type()
            ),
        ));
    }
    let (w, h) = match got {
        Format::Png => png_size(bytes),
        Format::Jpeg => jpeg_size(bytes),
    }
    .map_err(|m| AppError::validation("body", m))?;
    if w < min || h < min || w > max || h > max {
        return Err(AppError::validation(
            "body",
            format!("the image is {w}x{h}; each side must be between {min} and {max} pixels"),
        ));
    }
    Ok((got, w, h))
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AvatarImage {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// `image/png` or `image/jpeg`.
    pub content_type: String,
    pub width: i32,
    pub height: i32,
    pub bytes: i64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Used by new video jobs (a deactivated image is kept for old ones).
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AvatarImageList {
    /// Newest first.
    pub images: Vec<AvatarImage>,
}

const COLUMNS: &str = "id, content_type, width, height, size_bytes, sha256, active, created_at";

fn from_row(r: &tokio_postgres::Row) -> AvatarImage {
    AvatarImage {
        id: r.get("id"),
        content_type: r.get("content_type"),
        width: r.get("width"),
        height: r.get("height"),
        bytes: r.get("size_bytes"),
        sha256: r.get("sha256"),
        active: r.get("active"),
        created_at: r.get("created_at"),
    }
}

/// The image a video job uses: `wanted` (which must be active), else the
/// newest active one, else none (a plain background).
pub async fn resolve(
    c: &deadpool_postgres::Object,
    wanted: Option<Uuid>,
) -> Result<Option<Uuid>, AppError> {
    match wanted {
        Some(id) => {
            let row = c
                .query_opt(
                    "SELECT id FROM avatar_images WHERE id = $1 AND active",
                    &[&id],
                )
                .await
                .map_err(q)?;
            row.map(|r| Some(r.get(0))).ok_or_else(|| {
                AppError::validation("image_id", "there is no active avatar image with this id")
            })
        }
        None => Ok(c
            .query_opt(
                "SELECT id FROM avatar_images WHERE active ORDER BY created_at DESC, id DESC LIMIT 1",
                &[],
            )
            .await
            .map_err(q)?
            .map(|r| r.get(0))),
    }
}

/// Upload an avatar image (the raw file as the body).
#[utoipa::path(post, path = "/api/v1/admin/media/avatar-images",
    request_body(content((super::model::Binary = "image/png"), (super::model::Binary = "image/jpeg")),
        description = "the PNG or JPEG file itself (at most avatar.images.max_bytes, 5 MiB by default); \
            its bytes must match the Content-Type and each side must be 64 to 4096 pixels (configurable)"),
    responses(
        (status = 201, body = AvatarImage, description = "stored; new video jobs without an image_id use it"),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 403, body = common::ErrorBody, description = "forbidden (admins only)"),
        (status = 413, body = common::ErrorBody, description = "payload_too_large"),
        (status = 415, body = common::ErrorBody, description = "unsupported_media_type (not image/png or image/jpeg)"),
        (status = 422, body = common::ErrorBody, description = "validation_failed (field `body`: the bytes are not the declared type, or the dimensions are out of range)"),
        (status = 503, body = common::ErrorBody, description = "database_unavailable, or the store is unavailable")),
    security(("internal_token" = [])))]
pub async fn upload(
    state: web::Data<AppState>,
    Admin(p): Admin,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let cfg = &state.cfg.avatar.images;
    let declared = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if Format::from_content_type(&declared).is_none() {
        return Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            "avatar images must be sent as image/png or image/jpeg",
        ));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            AppError::new(
                ErrorCode::BadRequest,
                format!("could not read the request body: {e}"),
            )
        })?;
        if body.len() + chunk.len() > cfg.max_bytes {
            return Err(AppError::new(
                ErrorCode::PayloadTooLarge,
                format!("avatar images are at most {} bytes", cfg.max_bytes),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let bytes = body.freeze();
    let (format, w, h) = check(&declared, &bytes, cfg.min_side, cfg.max_side)?;
    let id = Uuid::now_v7();
    let key = store::image_key(id, format.content_type());
    let sha = hex::encode(Sha256::digest(&bytes));
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    state
        .avatars
        .store
        .put(&store::path(&key), PutPayload::from(bytes))
        .await
        .map_err(|e| {
            AppError::new(
                ErrorCode::ServiceUnavailable,
                "the avatar store is unavailable",
            )
            .with_cause(e)
        })?;
    let (wi, hi) = (
        i32::try_from(w).unwrap_or(i32::MAX),
        i32::try_from(h).unwrap_or(i32::MAX),
    );
    let c = platform::db::conn(&state.pool).await?;
    let row = c
        .query_one(
            &format!(
                "INSERT INTO avatar_images (id, content_type, width, height, size_bytes, sha256, object_key, uploaded_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &format.content_type(),
                &wi,
                &hi,
                &size,
                &sha,
                &key,
                &p.user_id.as_uuid(),
            ],
        )
        .await
        .map_err(q)?;
    tracing::info!(image = %id, width = w, height = h, bytes = size, "avatar image uploaded");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/admin/media/avatar-images/{id}"),
        ))
        .json(from_row(&row)))
}

/// Every avatar image, newest first (the 500 newest).
#[utoipa::path(get, path = "/api/v1/admin/media/avatar-images",
    responses(
        (status = 200, body = AvatarImageList),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 403, body = common::ErrorBody, description = "forbidden (admins only)"),
        (status = 503, body = common::ErrorBody, description = "database_unavailable")),
    security(("internal_token" = [])))]
pub async fn admin_list(
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, AppError> {
    list(&state, false).await
}

/// Deactivate an avatar image (new video jobs stop using it; old results stay).
#[utoipa::path(delete, path = "/api/v1/admin/media/avatar-images/{id}",
    params(("id" = String, Path, format = Uuid, description = "image id")),
    responses(
        (status = 204, description = "deactivated (also when it already was)"),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 403, body = common::ErrorBody, description = "forbidden (admins only)"),
        (status = 404, body = common::ErrorBody, description = "not_found"),
        (status = 503, body = common::ErrorBody, description = "database_unavailable")),
    security(("internal_token" = [])))]
pub async fn deactivate(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = Uuid::parse_str(&id).map_err(|_| AppError::not_found("avatar image"))?;
    let c = platform::db::conn(&state.pool).await?;
    let n = c
        .execute(
            "UPDATE avatar_images SET active = false WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(q)?;
    if n == 0 {
        return Err(AppError::not_found("avatar image"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The active avatar images a video job may name, newest first.
#[utoipa::path(get, path = "/api/v1/avatars/images",
    responses(
        (status = 200, body = AvatarImageList),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 503, body = common::ErrorBody, description = "database_unavailable")),
    security(("internal_token" = [])))]
pub async fn user_list(
    state: web::Data<AppState>,
    _user: Authenticated,
) -> Result<HttpResponse, AppError> {
    list(&state, true).await
}

async fn list(state: &AppState, active_only: bool) -> Result<HttpResponse, AppError> {
    let c = platform::db::conn(&state.pool).await?;
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM avatar_images WHERE active OR NOT $1
                 ORDER BY created_at DESC, id DESC LIMIT 500"
            ),
            &[&active_only],
        )
        .await
        .map_err(q)?;
    Ok(HttpResponse::Ok().json(AvatarImageList {
        images: rows.iter().map(from_row).collect(),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut b = PNG_SIGNATURE.to_vec();
        b.extend_from_slice(&13u32.to_be_bytes());
        b.extend_from_slice(b"IHDR");
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    fn jpeg(w: u16, h: u16) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        // APP0 (JFIF), 16 bytes
        b.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
        b.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        // DHT before the frame header (not a SOF)
        b.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x03, 0x00]);
        // SOF2 (progressive)
        b.extend_from_slice(&[0xFF, 0xFF, 0xC2, 0x00, 0x11, 0x08]);
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        b.extend_from_slice(&[0xFF, 0xDA]);
        b
    }

    #[test]
    fn dimensions_come_from_the_headers() {
        assert_eq!(png_size(&png(640, 480)).unwrap(), (640, 480));
        assert_eq!(jpeg_size(&jpeg(101, 77)).unwrap(), (101, 77));
        assert!(png_size(&png(1, 1)[..20]).is_err());
        assert!(jpeg_size(&[0xFF, 0xD8, 0xFF, 0xDA]).is_err());
        assert!(jpeg_size(&[0xFF, 0xD8, 0x00]).is_err());
        assert!(jpeg_size(&jpeg(10, 10)[..12]).is_err());
    }

    #[test]
    fn uploads_are_checked() {
        let (f, w, h) = check("image/png", &png(256, 128), 64, 4096).unwrap();
        assert_eq!((f, w, h), (Format::Png, 256, 128));
        let e = check("image/png", &jpeg(256, 256), 64, 4096).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationFailed);
        assert!(e.message.contains("image/jpeg"), "{}", e.message);
        let e = check("image/jpeg", &jpeg(32, 256), 64, 4096).unwrap_err();
        assert!(e.message.contains("32x256"), "{}", e.message);
        let e = check("image/gif", b"GIF89a", 64, 4096).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedMediaType);
        let e = check("image/png", b"hello", 64, 4096).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
    }
}
