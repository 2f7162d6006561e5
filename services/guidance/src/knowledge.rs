//! The curated corpus: `guidance seed` (idempotent, versioned, only changed
//! chunks re-embedded), the admin API (create, edit, deactivate, search,
//! versions), search for signed-in users over HTTP and for other services
//! over NATS (`guidance.knowledge.search`).
//!
//! Files are parsed and validated in [`crate::corpus`]; writes live in
//! [`store`]; search in [`crate::retrieval`].

pub mod store;

use crate::config::GuidanceConfig;
use crate::corpus::{self, EntryContent, DOMAINS};
use crate::embed::Embedder;
use crate::glossary::Glossary;
use crate::retrieval::{Hit, Retriever, CHANGED_SUBJECT};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use platform::auth::{Admin, Authenticated};
use platform::config::BaseConfig;
use platform::http::Json;
use platform::input::{Int, Line, Text};
use platform::nats::{RpcRequest, RpcServer};
use platform::runtime::Runtime;
use platform::AppError;
use serde::{Deserialize, Deserializer, Serialize};
use std::path::Path;
use std::sync::Arc;
use store::{Entry, Version};
use utoipa::OpenApi;

/// NATS request/reply: knowledge search for other services.
pub const SEARCH_SUBJECT: &str = "guidance.knowledge.search";
/// Services that may search the knowledge base over NATS.
pub const SEARCH_CALLERS: &[&str] = &["social", "media"];
/// Longest search query, in characters.
pub const MAX_QUERY: usize = 500;

#[derive(OpenApi)]
#[openapi(
    paths(
        search,
        admin_list,
        admin_create,
        admin_get,
        admin_update,
        admin_deactivate,
        admin_versions
    ),
    components(schemas(
        Hit,
        SearchReply,
        NewEntry,
        EntryPatch,
        Entry,
        EntryContent,
        EntryList,
        Version,
        VersionList,
        common::ErrorBody
    )),
    modifiers(&InternalTokenAuth)
)]
pub struct ApiDoc;

/// The identity the gateway forwards (`X-Internal-Token`).
struct InternalTokenAuth;
impl utoipa::Modify for InternalTokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "internal",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Internal-Token",
                "short-lived internal token the gateway signs for the authenticated user",
            ))),
        );
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/guidance/knowledge/search").route(web::get().to(search)))
        .service(
            web::resource("/api/v1/admin/guidance/knowledge")
                .route(web::get().to(admin_list))
                .route(web::post().to(admin_create)),
        )
        .service(
            web::resource("/api/v1/admin/guidance/knowledge/{id}")
                .route(web::get().to(admin_get))
                .route(web::patch().to(admin_update))
                .route(web::delete().to(admin_deactivate)),
        )
        .service(
            web::resource("/api/v1/admin/guidance/knowledge/{id}/versions")
                .route(web::get().to(admin_versions)),
        );
}

/// Loads the embedding model (on a blocking thread) and the glossary, and
/// builds the retriever with its index loaded (when the database answers;
/// otherwise it is loaded in the background) and kept current on every
/// replica.
pub async fn start(runtime: &mut Runtime, cfg: &GuidanceConfig) -> anyhow::Result<Arc<Retriever>> {
    let embedder = load_embedder(cfg).await?;
    let glossary = Arc::new(Glossary::load(&cfg.knowledge.glossary)?);
    let retriever = Arc::new(Retriever::new(
        runtime.pool.clone(),
        embedder,
        glossary,
        cfg.retrieval.clone(),
    ));
    if let Err(e) = retriever.refresh().await {
        tracing::warn!(error = ?e, "knowledge index not loaded yet; retrying in the background");
    }
    let r = retriever.clone();
    let bus = runtime.bus.clone();
    runtime.spawn(move |token| r.watch(bus, crate::config::SERVICE, token));
    Ok(retriever)
}

async fn load_embedder(cfg: &GuidanceConfig) -> anyhow::Result<Arc<Embedder>> {
    let dir = cfg.embedding.model_dir.clone();
    let max = cfg.embedding.max_tokens;
    let e = tokio::task::spawn_blocking(move || Embedder::load(&dir, max)).await??;
    Ok(Arc::new(e))
}

/// After a write: reload here, and tell every replica.
async fn changed(state: &AppState) {
    if let Err(e) = state.retriever.refresh().await {
        tracing::warn!(error = ?e, "knowledge index reload failed");
    }
    if let Err(e) = state
        .bus
        .broadcast(CHANGED_SUBJECT, Vec::new().into())
        .await
    {
        tracing::warn!(error = %e, "could not announce the knowledge change to other replicas");
    }
}

// ------------------------------------------------------------------ search

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The question or words to search for (one line, at most 500 characters).
    #[param(value_type = String, max_length = 500, pattern = r"^[^\x00-\x1F\x7F]*$")]
    pub q: Option<String>,
    /// Results wanted (default `retrieval.default_k`, at most `retrieval.max_k`).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 20)]
    pub k: Option<String>,
    /// Only entries of this domain.
    #[param(value_type = Option<String>)]
    pub domain: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchReply {
    pub results: Vec<Hit>,
}

fn check_domain(domain: Option<&str>) -> Result<(), AppError> {
    match domain {
        Some(d) if !DOMAINS.contains(&d) => Err(AppError::validation(
            "domain",
            format!("must be one of {}", DOMAINS.join(", ")),
        )),
        _ => Ok(()),
    }
}

fn check_k(k: i64, max: usize) -> Result<usize, AppError> {
    match usize::try_from(k) {
        Ok(k) if (1..=max).contains(&k) => Ok(k),
        _ => Err(AppError::validation(
            "k",
            format!("must be between 1 and {max}"),
        )),
    }
}

/// Search the knowledge base (signed-in users): hybrid semantic and
/// full-text search, Sanskrit/Tamil/Hindi terms understood through the glossary.
#[utoipa::path(get, path = "/api/v1/guidance/knowledge/search", params(SearchParams),
    responses(
        (status = 200, body = SearchReply),
        (status = 400, body = common::ErrorBody, description = "bad_request: an unreadable query string"),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 422, body = common::ErrorBody, description = "validation_failed, naming q, k or domain")),
    security(("internal" = [])))]
pub async fn search(
    state: web::Data<AppState>,
    _who: Authenticated,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, AppError> {
    let p = params.into_inner();
    let q = p.q.unwrap_or_default();
    platform::input::check_line("q", &q, MAX_QUERY)?;
    if q.trim().is_empty() {
        return Err(AppError::validation("q", "give words to search for"));
    }
    let max = state.cfg.retrieval.max_k;
    let k = match p.k.as_deref() {
        None => state.cfg.retrieval.default_k,
        Some(s) => check_k(
            s.trim().parse::<i64>().map_err(|_| {
                AppError::validation("k", format!("must be a whole number between 1 and {max}"))
            })?,
            max,
        )?,
    };
    if let Some(d) = p.domain.as_deref() {
        platform::input::check_line("domain", d, 40)?;
    }
    let domain = p.domain.as_deref().filter(|d| !d.is_empty());
    check_domain(domain)?;
    let results = state.retriever.search(&q, k, domain).await?;
    Ok(HttpResponse::Ok().json(SearchReply { results }))
}

/// `guidance.knowledge.search`: the same search for other services.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub q: Line<MAX_QUERY>,
    #[serde(default)]
    pub k: Option<Int<1, 1000>>,
    #[serde(default)]
    pub domain: Option<Line<40>>,
}

async fn search_rpc(state: &AppState, body: SearchRequest) -> Result<SearchReply, AppError> {
    if body.q.trim().is_empty() {
        return Err(AppError::validation("q", "give words to search for"));
    }
    let k = match body.k {
        None => state.cfg.retrieval.default_k,
        Some(k) => check_k(k.get(), state.cfg.retrieval.max_k)?,
    };
    let domain = body.domain.as_deref().filter(|d| !d.is_empty());
    check_domain(domain)?;
    let results = state.retriever.search(&body.q, k, domain).await?;
    Ok(SearchReply { results })
}

pub async fn register(rpc: &mut RpcServer, state: web::Data<AppState>) -> anyhow::Result<()> {
    let st = state.into_inner();
    rpc.endpoint(
        SEARCH_SUBJECT,
        SEARCH_CALLERS,
        move |_req: RpcRequest, body: SearchRequest| {
            let st = st.clone();
            async move { search_rpc(&st, body).await }
        },
    )
    .await?;
    Ok(())
}

// ------------------------------------------------------------------ admin

/// A new entry (admins). Ids are never reused.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// Lowercase `a-z`, `0-9` and `-`.
    pub id: Line<120>,
    pub domain: Line<40>,
    pub title: Line<200>,
    /// 3 to 10 lowercase tags.
    pub tags: Vec<Line<60>>,
    /// `en`, `ta` or `hi` (default `en`).
    #[serde(default)]
    pub language: Option<Line<2>>,
    #[serde(default)]
    pub sources: Vec<Line<300>>,
    #[serde(default)]
    pub graha: Option<Line<20>>,
    #[serde(default)]
    pub house: Option<Int<1, 12>>,
    #[serde(default)]
    pub sign: Option<Line<20>>,
    #[serde(default)]
    pub nakshatra: Option<Line<40>>,
    #[serde(default)]
    pub yoga: Option<Line<40>>,
    /// Markdown; `##` headings split it into chunks.
    pub body: Text<20000>,
}

fn double<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to an entry (admins): fields left out stay as they are; `null`
/// clears an optional key; `active` deactivates or reactivates.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryPatch {
    /// The version this edit was made against (409 when it is not current).
    #[serde(default)]
    pub expected_version: Option<Int<1, 2_147_483_647>>,
    #[serde(default)]
    pub domain: Option<Line<40>>,
    #[serde(default)]
    pub title: Option<Line<200>>,
    #[serde(default)]
    pub tags: Option<Vec<Line<60>>>,
    #[serde(default)]
    pub language: Option<Line<2>>,
    #[serde(default)]
    pub sources: Option<Vec<Line<300>>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub graha: Option<Option<Line<20>>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 12)]
    pub house: Option<Option<Int<1, 12>>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub sign: Option<Option<Line<20>>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub nakshatra: Option<Option<Line<40>>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub yoga: Option<Option<Line<40>>>,
    #[serde(default)]
    pub body: Option<Text<20000>>,
    #[serde(default)]
    pub active: Option<bool>,
}

fn lines<const N: usize>(v: Vec<Line<N>>) -> Vec<String> {
    v.into_iter().map(Line::into_inner).collect()
}

fn opt<const N: usize>(v: Option<Line<N>>) -> Option<String> {
    v.map(Line::into_inner).filter(|s| !s.is_empty())
}

fn house(v: Option<Int<1, 12>>) -> Option<i32> {
    v.and_then(|h| i32::try_from(h.get()).ok())
}

fn validated(c: EntryContent) -> Result<EntryContent, AppError> {
    c.validate()
        .map_err(|p| AppError::validation(&p.key, p.message))?;
    Ok(c)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Matches the id, title, tags or body (case ignored).
    #[param(value_type = Option<String>, max_length = 200)]
    pub q: Option<String>,
    #[param(value_type = Option<String>)]
    pub domain: Option<String>,
    /// `true` or `false`; default both.
    #[param(value_type = Option<bool>)]
    pub active: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<i64>, minimum = 0)]
    pub offset: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EntryList {
    pub entries: Vec<Entry>,
    pub total: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VersionList {
    pub versions: Vec<Version>,
}

fn int_param(
    field: &str,
    v: Option<&str>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, AppError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| AppError::validation(field, format!("must be between {min} and {max}"))),
    }
}

fn entry_id(id: &str) -> Result<String, AppError> {
    if corpus::valid_id(id) {
        Ok(id.to_owned())
    } else {
        Err(AppError::not_found("knowledge entry"))
    }
}

/// List and search entries, active or not (admins).
#[utoipa::path(get, path = "/api/v1/admin/guidance/knowledge", params(ListParams),
    responses(
        (status = 200, body = EntryList),
        (status = 400, body = common::ErrorBody, description = "bad_request: an unreadable query string"),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 403, body = common::ErrorBody, description = "forbidden: not an admin"),
        (status = 422, body = common::ErrorBody, description = "validation_failed, naming the parameter")),
    security(("internal" = [])))]
pub async fn admin_list(
    state: web::Data<AppState>,
    _admin: Admin,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let p = params.into_inner();
    if let Some(q) = p.q.as_deref() {
        platform::input::check_line("q", q, 200)?;
    }
    if let Some(d) = p.domain.as_deref() {
        platform::input::check_line("domain", d, 40)?;
    }
    let domain = p.domain.as_deref().filter(|d| !d.is_empty());
    check_domain(domain)?;
    let active = match p.active.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(AppError::validation("active", "must be true or false")),
    };
    let limit = int_param("limit", p.limit.as_deref(), 50, 1, 500)?;
    let offset = int_param("offset", p.offset.as_deref(), 0, 0, 1_000_000)?;
    let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let (entries, total) = store::list(&state.pool, q, domain, active, limit, offset).await?;
    Ok(HttpResponse::Ok().json(EntryList { entries, total }))
}

/// Create an entry (admins); it is embedded and searchable at once.
#[utoipa::path(post, path = "/api/v1/admin/guidance/knowledge", request_body = NewEntry,
    responses(
        (status = 201, body = Entry),
        (status = 400, body = common::ErrorBody, description = "malformed_json"),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 403, body = common::ErrorBody, description = "forbidden: not an admin"),
        (status = 409, body = common::ErrorBody, description = "conflict: the id exists"),
        (status = 413, body = common::ErrorBody, description = "payload_too_large"),
        (status = 415, body = common::ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = common::ErrorBody, description = "validation_failed, naming the field")),
    security(("internal" = [])))]
pub async fn admin_create(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    body: Json<NewEntry>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let content = validated(EntryContent {
        id: b.id.into_inner(),
        domain: b.domain.into_inner(),
        title: b.title.into_inner(),
        tags: lines(b.tags),
        language: opt(b.language).unwrap_or_else(|| "en".to_owned()),
        sources: lines(b.sources),
        graha: opt(b.graha),
        house: house(b.house),
        sign: opt(b.sign),
        nakshatra: opt(b.nakshatra),
        yoga: opt(b.yoga),
        body: b.body.into_inner().trim().to_owned(),
    })?;
    let entry = store::create(
        &state.retriever,
        content,
        admin.user_id.as_uuid(),
        state.cfg.embedding.batch_size,
    )
    .await?;
    changed(&state).await;
    tracing::info!(id = %entry.content.id, admin = %admin.user_id, "knowledge entry created");
    Ok(HttpResponse::Created().json(entry))
}

/// One entry, active or not (admins).
#[utoipa::path(get, path = "/api/v1/admin/guidance/knowledge/{id}",
    params(("id" = String, Path, description = "entry id (lowercase letters, digits and hyphens)")),
    responses(
        (status = 200, body = Entry),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 403, body = common::ErrorBody, description = "forbidden: not an admin"),
        (status = 404, body = common::ErrorBody, description = "not_found")),
    security(("internal" = [])))]
pub async fn admin_get(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = entry_id(&id)?;
    Ok(HttpResponse::Ok().json(store::get(&state.pool, &id).await?))
}

/// Edit an entry, or deactivate/reactivate it with `active` (admins). Each
/// change is a new version; only chunks whose text changed are re-embedded.
#[utoipa::path(patch, path = "/api/v1/admin/guidance/knowledge/{id}",
    params(("id" = String, Path, description = "entry id (lowercase letters, digits and hyphens)")), request_body = EntryPatch,
    responses(
        (status = 200, body = Entry),
        (status = 400, body = common::ErrorBody, description = "malformed_json"),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 403, body = common::ErrorBody, description = "forbidden: not an admin"),
        (status = 404, body = common::ErrorBody, description = "not_found"),
        (status = 409, body = common::ErrorBody, description = "conflict: expected_version is not the current version"),
        (status = 413, body = common::ErrorBody, description = "payload_too_large"),
        (status = 415, body = common::ErrorBody, description = "unsupported_media_type"),
        (status = 422, body = common::ErrorBody, description = "validation_failed, naming the field")),
    security(("internal" = [])))]
pub async fn admin_update(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    id: web::Path<String>,
    body: Json<EntryPatch>,
) -> Result<HttpResponse, AppError> {
    let id = entry_id(&id)?;
    let p = body.0;
    let expected = p.expected_version.and_then(|v| i32::try_from(v.get()).ok());
    let (entry, did) = store::update(
        &state.retriever,
        &id,
        expected,
        admin.user_id.as_uuid(),
        state.cfg.embedding.batch_size,
        move |c, active| {
            if let Some(v) = p.domain {
                c.domain = v.into_inner();
            }
            if let Some(v) = p.title {
                c.title = v.into_inner();
            }
            if let Some(v) = p.tags {
                c.tags = lines(v);
            }
            if let Some(v) = p.language {
                c.language = v.into_inner();
            }
            if let Some(v) = p.sources {
                c.sources = lines(v);
            }
            if let Some(v) = p.graha {
                c.graha = opt(v);
            }
            if let Some(v) = p.house {
                c.house = house(v);
            }
            if let Some(v) = p.sign {
                c.sign = opt(v);
            }
            if let Some(v) = p.nakshatra {
                c.nakshatra = opt(v);
            }
            if let Some(v) = p.yoga {
                c.yoga = opt(v);
            }
            if let Some(v) = p.body {
                c.body = v.into_inner().trim().to_owned();
            }
            if let Some(a) = p.active {
                *active = a;
            }
            Ok(())
        },
    )
    .await?;
    if did {
        changed(&state).await;
        tracing::info!(id = %id, version = entry.version, admin = %admin.user_id, "knowledge entry changed");
    }
    Ok(HttpResponse::Ok().json(entry))
}

/// Deactivate an entry (admins): it stops being searched; it is kept with
/// its versions and can be reactivated with `PATCH {"active": true}`.
#[utoipa::path(delete, path = "/api/v1/admin/guidance/knowledge/{id}",
    params(("id" = String, Path, description = "entry id (lowercase letters, digits and hyphens)")),
    responses(
        (status = 200, body = Entry),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 403, body = common::ErrorBody, description = "forbidden: not an admin"),
        (status = 404, body = common::ErrorBody, description = "not_found")),
    security(("internal" = [])))]
pub async fn admin_deactivate(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = entry_id(&id)?;
    let (entry, did) = store::update(
        &state.retriever,
        &id,
        None,
        admin.user_id.as_uuid(),
        state.cfg.embedding.batch_size,
        |_, active| {
            *active = false;
            Ok(())
        },
    )
    .await?;
    if did {
        changed(&state).await;
        tracing::info!(id = %id, admin = %admin.user_id, "knowledge entry deactivated");
    }
    Ok(HttpResponse::Ok().json(entry))
}

/// An entry's versions, newest first (admins).
#[utoipa::path(get, path = "/api/v1/admin/guidance/knowledge/{id}/versions",
    params(("id" = String, Path, description = "entry id (lowercase letters, digits and hyphens)")),
    responses(
        (status = 200, body = VersionList),
        (status = 401, body = common::ErrorBody, description = "unauthorized"),
        (status = 403, body = common::ErrorBody, description = "forbidden: not an admin"),
        (status = 404, body = common::ErrorBody, description = "not_found")),
    security(("internal" = [])))]
pub async fn admin_versions(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = entry_id(&id)?;
    Ok(HttpResponse::Ok().json(VersionList {
        versions: store::versions(&state.pool, &id).await?,
    }))
}

// ------------------------------------------------------------------ seed command

/// `guidance seed [--dir DIR] [--check]`: validates the corpus and, unless
/// `check`, loads it, then tells running replicas to reload.
pub async fn seed_command(
    base: BaseConfig,
    cfg: GuidanceConfig,
    dir: Option<String>,
    check: bool,
) -> anyhow::Result<store::SeedReport> {
    let dir = dir.unwrap_or_else(|| cfg.knowledge.dir.clone());
    if check {
        let files = corpus::load_dir(Path::new(&dir))?;
        println!("{dir}: {} entries, all valid", files.len());
        return Ok(store::SeedReport {
            files: files.len(),
            ..Default::default()
        });
    }
    // Refuse a broken corpus before loading the model or touching the database.
    corpus::load_dir(Path::new(&dir))?;
    let pool = platform::db::build_pool(&base.database, &base.service)?;
    let nats = platform::nats::connect(&base.nats, &base.service).await?;
    let auth =
        platform::auth::InternalAuth::from_config(&base.service, &base.internal_auth, base.env)?;
    let bus = platform::nats::Bus::new(
        nats.clone(),
        auth,
        &base.nats.prefix,
        base.nats.request_timeout(),
    );
    let embedder = load_embedder(&cfg).await?;
    let glossary = Arc::new(Glossary::load(&cfg.knowledge.glossary)?);
    let retriever = Retriever::new(pool.clone(), embedder, glossary, cfg.retrieval.clone());
    let started = std::time::Instant::now();
    let report = store::seed(&retriever, Path::new(&dir), cfg.embedding.batch_size).await?;
    println!("{dir}: {report} ({:.1} s)", started.elapsed().as_secs_f64());
    if report.changed() {
        // Replicas also notice within a minute by themselves (fingerprint check).
        let mut sent = false;
        for _ in 0..20 {
            if nats.connection_state() == async_nats::connection::State::Connected {
                sent = bus
                    .broadcast(CHANGED_SUBJECT, Vec::new().into())
                    .await
                    .is_ok();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), nats.flush()).await;
        if !sent {
            eprintln!(
                "NATS not reachable: running replicas will reload on their own fingerprint check"
            );
        }
    }
    pool.close();
    Ok(report)
}
