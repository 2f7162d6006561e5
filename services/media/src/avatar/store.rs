//! Where avatar images and results live: an `object_store` — a local
//! directory (development, tests, one-machine deployments) or, when media is
//! built with its `s3` feature, an S3-compatible bucket.

use super::config::{StoreConfig, StoreKind};
use object_store::path::Path;
use object_store::ObjectStore;
use std::sync::Arc;
use uuid::Uuid;

pub type Store = Arc<dyn ObjectStore>;

/// Builds the configured store (the local directory is created).
pub fn build(cfg: &StoreConfig) -> anyhow::Result<Store> {
    match cfg.kind {
        StoreKind::Local => {
            let dir = if cfg.path.is_empty() {
                std::env::temp_dir().join("jyotiflow-media")
            } else {
                std::path::PathBuf::from(&cfg.path)
            };
            std::fs::create_dir_all(&dir).map_err(|e| {
                anyhow::anyhow!("avatar.store.path: cannot create {}: {e}", dir.display())
            })?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| anyhow::anyhow!("avatar.store.path: {e}"))?;
            Ok(Arc::new(fs))
        }
        StoreKind::S3 => s3(cfg),
    }
}

#[cfg(feature = "s3")]
fn s3(cfg: &StoreConfig) -> anyhow::Result<Store> {
    use secrecy::ExposeSecret;
    // reqwest is built without a default TLS provider: install ring's.
    platform::http_client::install_tls_provider();
    let mut b = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(&cfg.bucket)
        .with_region(&cfg.region)
        .with_allow_http(cfg.allow_http);
    if !cfg.endpoint.is_empty() {
        b = b.with_endpoint(&cfg.endpoint);
    }
    if !cfg.access_key_id.is_empty() {
        b = b
            .with_access_key_id(&cfg.access_key_id)
            .with_secret_access_key(cfg.secret_access_key.expose_secret());
    }
    let s3 = b
        .build()
        .map_err(|e| anyhow::anyhow!("avatar.store: the S3 store cannot be built: {e}"))?;
    Ok(Arc::new(s3))
}

#[cfg(not(feature = "s3"))]
fn s3(_cfg: &StoreConfig) -> anyhow::Result<Store> {
    anyhow::bail!("avatar.store.kind = s3 is not compiled in: build media with its `s3` feature")
}

/// An uploaded avatar image.
pub fn image_key(id: Uuid, content_type: &str) -> String {
    let ext = if content_type == "image/png" {
        "png"
    } else {
        "jpg"
    };
    format!("avatars/images/{id}.{ext}")
}

/// A job's result (the same key on every attempt, so a retry overwrites).
pub fn result_key(job: Uuid, ext: &str) -> String {
    format!("avatars/jobs/{job}/result.{ext}")
}

/// A video job's WebVTT captions.
pub fn captions_key(job: Uuid) -> String {
    format!("avatars/jobs/{job}/captions.vtt")
}

/// The store's path of a key.
pub fn path(key: &str) -> Path {
    Path::from(key)
}
