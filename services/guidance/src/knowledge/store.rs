//! Writing the knowledge base: `guidance seed` and the admin API share
//! these. Every change to an entry bumps its version and is kept in
//! `knowledge_versions`; entries are deactivated, never deleted. Chunks
//! are re-embedded only when their embedded text (or the model) changed:
//! an embedding is found again by its chunk's content hash.

use crate::corpus::{self, EntryContent};
use crate::embed::{self, Embedder};
use crate::glossary::Glossary;
use crate::retrieval::Retriever;
use chrono::{DateTime, Utc};
use platform::AppError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use tokio_postgres::Row;
use uuid::Uuid;

/// Serialises writers (seed, admin edits) across replicas.
const WRITE_LOCK: &str = "guidance.knowledge.write";

/// One chunk ready to store: its texts, what is embedded and the hash of that.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub ord: i32,
    pub heading: Option<String>,
    pub text: String,
    /// Title, heading and text, glossary terms in English: what MiniLM embeds.
    pub embed_text: String,
    /// SHA-256 over the model and `embed_text`.
    pub hash: String,
    /// Full-text parts: title and tags (weight A), heading (B), text (D),
    /// each followed by the glossary expansions of its terms.
    pub fts_title: String,
    pub fts_heading: String,
    pub fts_text: String,
}

fn with_expansions(glossary: &Glossary, text: &str) -> String {
    let e = glossary.expansions(text);
    if e.is_empty() {
        text.to_owned()
    } else {
        format!("{text} {e}")
    }
}

/// Splits an entry into the chunks stored for it.
pub fn prepare(entry: &EntryContent, glossary: &Glossary) -> Vec<Prepared> {
    let title_tags = format!("{} {}", entry.title, entry.tags.join(" "));
    let fts_title = with_expansions(glossary, &title_tags);
    entry
        .chunks()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let lead = match &c.heading {
                Some(h) => format!("{}: {h}", entry.title),
                None => entry.title.clone(),
            };
            let embed_text = glossary.replace(&format!("{lead}. {}", c.text));
            let mut h = Sha256::new();
            h.update(embed::MODEL_ID.as_bytes());
            h.update([0]);
            h.update(embed_text.as_bytes());
            Prepared {
                ord: i32::try_from(i).unwrap_or(i32::MAX),
                fts_heading: with_expansions(glossary, c.heading.as_deref().unwrap_or("")),
                fts_text: with_expansions(glossary, &c.text),
                fts_title: fts_title.clone(),
                heading: c.heading,
                text: c.text,
                embed_text,
                hash: hex::encode(h.finalize()),
            }
        })
        .collect()
}

/// An entry as stored, with its bookkeeping.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Entry {
    #[serde(flatten)]
    pub content: EntryContent,
    pub version: i32,
    pub active: bool,
    /// `corpus` (a file of the knowledge folder) or `admin`.
    pub origin: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One version of an entry.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Version {
    pub version: i32,
    /// `created`, `updated`, `deactivated` or `reactivated`.
    pub change: String,
    pub active: bool,
    pub content_hash: String,
    /// The admin who made the change (none for `guidance seed`).
    pub changed_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
}

pub const ENTRY_COLUMNS: &str = "id, domain, title, tags, language, sources, graha, house, sign, nakshatra, yoga, body, version, active, origin, created_at, updated_at, content_hash, source_hash";

fn content_of(r: &Row) -> EntryContent {
    EntryContent {
        id: r.get(0),
        domain: r.get(1),
        title: r.get(2),
        tags: r.get(3),
        language: r.get(4),
        sources: r.get(5),
        graha: r.get(6),
        house: r.get(7),
        sign: r.get(8),
        nakshatra: r.get(9),
        yoga: r.get(10),
        body: r.get(11),
    }
}

pub fn entry_of(r: &Row) -> Entry {
    Entry {
        content: content_of(r),
        version: r.get(12),
        active: r.get(13),
        origin: r.get(14),
        created_at: r.get(15),
        updated_at: r.get(16),
    }
}

/// What the database holds for an entry before a change.
#[derive(Clone, Debug)]
struct Current {
    entry: Entry,
    content_hash: String,
    source_hash: Option<String>,
}

fn current_of(r: &Row) -> Current {
    Current {
        entry: entry_of(r),
        content_hash: r.get(17),
        source_hash: r.get(18),
    }
}

/// Embeddings for these chunk hashes: found again in the database, or
/// computed (on a blocking thread). Returns them and how many were computed.
async fn embeddings_for(
    client: &deadpool_postgres::Object,
    embedder: &Arc<Embedder>,
    chunks: &[&Prepared],
    batch_size: usize,
) -> Result<(HashMap<String, Vec<f32>>, usize), AppError> {
    let hashes: Vec<String> = chunks.iter().map(|c| c.hash.clone()).collect();
    let mut found: HashMap<String, Vec<f32>> = HashMap::new();
    if !hashes.is_empty() {
        for r in client
            .query(
                "SELECT DISTINCT ON (content_hash) content_hash, embedding FROM knowledge_chunks
                 WHERE embedding_model = $1 AND content_hash = ANY($2)",
                &[&embed::MODEL_ID, &hashes],
            )
            .await
            .map_err(platform::db::q)?
        {
            let v: Vec<f32> = r.get(1);
            if v.len() == embed::DIM {
                found.insert(r.get(0), v);
            }
        }
    }
    let mut missing: Vec<(String, String)> = Vec::new();
    for c in chunks {
        if !found.contains_key(&c.hash) && !missing.iter().any(|(h, _)| *h == c.hash) {
            missing.push((c.hash.clone(), c.embed_text.clone()));
        }
    }
    let computed = missing.len();
    if computed > 0 {
        let embedder = embedder.clone();
        let vectors = tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = missing.iter().map(|(_, t)| t.as_str()).collect();
            embedder.embed_all(&texts, batch_size).map(|v| (missing, v))
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
        let (missing, vectors) = vectors;
        for ((h, _), v) in missing.into_iter().zip(vectors) {
            found.insert(h, v);
        }
    }
    Ok((found, computed))
}

async fn lock(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), AppError> {
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&WRITE_LOCK])
        .await
        .map_err(platform::db::q)?;
    Ok(())
}

/// Replaces an entry's chunks.
async fn write_chunks(
    tx: &deadpool_postgres::Transaction<'_>,
    entry: &EntryContent,
    chunks: &[Prepared],
    embeddings: &HashMap<String, Vec<f32>>,
    active: bool,
) -> Result<(), AppError> {
    tx.execute(
        "DELETE FROM knowledge_chunks WHERE entry_id = $1",
        &[&entry.id],
    )
    .await
    .map_err(platform::db::q)?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO knowledge_chunks
               (entry_id, ord, heading, text, content_hash, embedding_model, embedding, fts_config, tsv, active)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text,
               setweight(to_tsvector($8::text::regconfig, $9), 'A')
               || setweight(to_tsvector($8::text::regconfig, $10), 'B')
               || to_tsvector($8::text::regconfig, $11), $12)",
        )
        .await
        .map_err(platform::db::q)?;
    let config = entry.fts_config();
    for c in chunks {
        let embedding = embeddings.get(&c.hash).ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("no embedding for a chunk of {}", entry.id))
        })?;
        tx.execute(
            &insert,
            &[
                &entry.id,
                &c.ord,
                &c.heading,
                &c.text,
                &c.hash,
                &embed::MODEL_ID,
                embedding,
                &config,
                &c.fts_title,
                &c.fts_heading,
                &c.fts_text,
                &active,
            ],
        )
        .await
        .map_err(platform::db::q)?;
    }
    Ok(())
}

async fn set_chunks_active(
    tx: &deadpool_postgres::Transaction<'_>,
    id: &str,
    active: bool,
) -> Result<(), AppError> {
    tx.execute(
        "UPDATE knowledge_chunks SET active = $2, updated_at = now() WHERE entry_id = $1 AND active <> $2",
        &[&id, &active],
    )
    .await
    .map_err(platform::db::q)?;
    Ok(())
}

/// How an entry's row changes.
struct EntryWrite<'a> {
    content: &'a EntryContent,
    version: i32,
    active: bool,
    origin: &'a str,
    change: &'a str,
    /// `Some(x)`: set `source_hash` to x; `None`: leave it.
    source_hash: Option<Option<String>>,
    changed_by: Option<Uuid>,
}

async fn write_entry(
    tx: &deadpool_postgres::Transaction<'_>,
    w: &EntryWrite<'_>,
    insert: bool,
) -> Result<(), AppError> {
    let c = w.content;
    let hash = c.content_hash();
    if insert {
        tx.execute(
            "INSERT INTO knowledge_entries
               (id, domain, title, tags, language, sources, graha, house, sign, nakshatra, yoga, body,
                content_hash, source_hash, version, active, origin)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            &[
                &c.id,
                &c.domain,
                &c.title,
                &c.tags,
                &c.language,
                &c.sources,
                &c.graha,
                &c.house,
                &c.sign,
                &c.nakshatra,
                &c.yoga,
                &c.body,
                &hash,
                &w.source_hash.clone().flatten(),
                &w.version,
                &w.active,
                &w.origin,
            ],
        )
        .await
        .map_err(platform::db::q)?;
    } else {
        tx.execute(
            "UPDATE knowledge_entries SET
               domain = $2, title = $3, tags = $4, language = $5, sources = $6, graha = $7,
               house = $8, sign = $9, nakshatra = $10, yoga = $11, body = $12, content_hash = $13,
               source_hash = CASE WHEN $14 THEN $15 ELSE source_hash END,
               version = $16, active = $17, origin = $18, updated_at = now()
             WHERE id = $1",
            &[
                &c.id,
                &c.domain,
                &c.title,
                &c.tags,
                &c.language,
                &c.sources,
                &c.graha,
                &c.house,
                &c.sign,
                &c.nakshatra,
                &c.yoga,
                &c.body,
                &hash,
                &w.source_hash.is_some(),
                &w.source_hash.clone().flatten(),
                &w.version,
                &w.active,
                &w.origin,
            ],
        )
        .await
        .map_err(platform::db::q)?;
    }
    let snapshot = serde_json::to_value(c).map_err(AppError::internal)?;
    tx.execute(
        "INSERT INTO knowledge_versions
           (entry_id, version, change, title, body, content_hash, content, active, changed_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &c.id,
            &w.version,
            &w.change,
            &c.title,
            &c.body,
            &hash,
            &snapshot,
            &w.active,
            &w.changed_by,
        ],
    )
    .await
    .map_err(platform::db::q)?;
    Ok(())
}

// ------------------------------------------------------------------ seed

/// What a seed did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SeedReport {
    pub files: usize,
    pub created: usize,
    pub updated: usize,
    pub reactivated: usize,
    pub deactivated: usize,
    pub unchanged: usize,
    /// Entries whose chunks were rewritten.
    pub rechunked: usize,
    /// Chunks embedded by the model during this seed.
    pub embedded: usize,
}

impl SeedReport {
    pub fn changed(&self) -> bool {
        self.created + self.updated + self.reactivated + self.deactivated + self.rechunked > 0
    }
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} files: {} created, {} updated, {} reactivated, {} deactivated, {} unchanged; \
             {} entries re-chunked, {} chunks embedded",
            self.files,
            self.created,
            self.updated,
            self.reactivated,
            self.deactivated,
            self.unchanged,
            self.rechunked,
            self.embedded
        )
    }
}

enum Plan {
    Create,
    /// The file changed since the last seed: take its content (and reactivate).
    Update {
        change: &'static str,
    },
    /// Only `source_hash` to record (the content already equals the file).
    Record,
    Unchanged,
    /// The file is gone.
    Deactivate,
    /// The file is gone from an entry already inactive: forget its hash.
    Forget,
}

async fn read_all(
    client: &deadpool_postgres::Object,
) -> Result<BTreeMap<String, Current>, AppError> {
    let rows = client
        .query(
            &format!("SELECT {ENTRY_COLUMNS} FROM knowledge_entries"),
            &[],
        )
        .await
        .map_err(platform::db::q)?;
    Ok(rows
        .iter()
        .map(|r| {
            let c = current_of(r);
            (c.entry.content.id.clone(), c)
        })
        .collect())
}

async fn chunk_hashes(
    client: &deadpool_postgres::Object,
) -> Result<HashMap<String, Vec<(String, bool)>>, AppError> {
    let rows = client
        .query(
            "SELECT entry_id, content_hash, active FROM knowledge_chunks ORDER BY entry_id, ord",
            &[],
        )
        .await
        .map_err(platform::db::q)?;
    let mut out: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    for r in rows {
        out.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
    }
    Ok(out)
}

/// Loads the corpus in `dir` into the database. The whole corpus is
/// validated first: any problem refuses it before anything is written.
/// Entries whose file is unchanged since the last seed are left as they are
/// (an admin's edit stands); only chunks whose text changed are embedded.
pub async fn seed(
    retriever: &Retriever,
    dir: &Path,
    batch_size: usize,
) -> anyhow::Result<SeedReport> {
    let files = corpus::load_dir(dir)?;
    let mut attempt = 0;
    loop {
        match seed_once(retriever, &files, batch_size).await {
            Ok(Some(r)) => return Ok(r),
            Ok(None) if attempt < 3 => attempt += 1,
            Ok(None) => {
                anyhow::bail!("the knowledge base kept changing during the seed; try again")
            }
            Err(e) => return Err(anyhow::anyhow!("{e:?}")),
        }
    }
}

/// One attempt; `None` when another writer changed entries meanwhile.
async fn seed_once(
    retriever: &Retriever,
    files: &[corpus::FileEntry],
    batch_size: usize,
) -> Result<Option<SeedReport>, AppError> {
    let glossary = retriever.glossary().clone();
    let mut client = platform::db::conn(retriever.pool()).await?;
    let existing = read_all(&client).await?;
    let chunks_now = chunk_hashes(&client).await?;
    let mut report = SeedReport {
        files: files.len(),
        ..Default::default()
    };
    // Entry by entry: what happens to it, and its content and state after.
    let mut plans: Vec<(Plan, EntryContent, bool, String)> = Vec::new();
    let mut in_files: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for f in files {
        let e = &f.entry;
        in_files.insert(e.id.as_str());
        let h = e.content_hash();
        let plan = match existing.get(&e.id) {
            None => Plan::Create,
            Some(x) if x.source_hash.as_deref() == Some(h.as_str()) => Plan::Unchanged,
            Some(x) if x.content_hash == h && x.entry.active && x.entry.origin == "corpus" => {
                Plan::Record
            }
            Some(x) if x.content_hash == h => Plan::Update {
                change: if x.entry.active {
                    "updated"
                } else {
                    "reactivated"
                },
            },
            Some(_) => Plan::Update { change: "updated" },
        };
        let (content, active) = match (&plan, existing.get(&e.id)) {
            (Plan::Unchanged, Some(x)) => (x.entry.content.clone(), x.entry.active),
            _ => (e.clone(), true),
        };
        plans.push((plan, content, active, h));
    }
    for (id, x) in &existing {
        if x.entry.origin != "corpus" || in_files.contains(id.as_str()) {
            continue;
        }
        if x.entry.active {
            plans.push((
                Plan::Deactivate,
                x.entry.content.clone(),
                false,
                String::new(),
            ));
        } else if x.source_hash.is_some() {
            plans.push((Plan::Forget, x.entry.content.clone(), false, String::new()));
        }
    }
    // Chunks: rewrite those of active entries whose chunk hashes differ.
    let mut rewrite: Vec<(String, Vec<Prepared>)> = Vec::new();
    let mut deactivate_chunks: Vec<String> = Vec::new();
    for (_, content, active, _) in &plans {
        let now = chunks_now.get(&content.id);
        if *active {
            let prepared = prepare(content, &glossary);
            let same = now.is_some_and(|n| {
                n.len() == prepared.len()
                    && n.iter()
                        .zip(&prepared)
                        .all(|((h, a), p)| *a && *h == p.hash)
            });
            if !same {
                rewrite.push((content.id.clone(), prepared));
            }
        } else if now.is_some_and(|n| n.iter().any(|(_, a)| *a)) {
            deactivate_chunks.push(content.id.clone());
        }
    }
    let all: Vec<&Prepared> = rewrite.iter().flat_map(|(_, p)| p.iter()).collect();
    let (embeddings, computed) =
        embeddings_for(&client, retriever.embedder(), &all, batch_size).await?;
    report.embedded = computed;
    report.rechunked = rewrite.len();

    let tx = client.transaction().await.map_err(platform::db::q)?;
    lock(&tx).await?;
    // Another writer since we read? Then plan again.
    let versions: HashMap<String, i32> = tx
        .query("SELECT id, version FROM knowledge_entries", &[])
        .await
        .map_err(platform::db::q)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let unchanged_since = versions.len() == existing.len()
        && existing
            .iter()
            .all(|(id, x)| versions.get(id) == Some(&x.entry.version));
    if !unchanged_since {
        return Ok(None);
    }
    for (plan, content, _, hash) in &plans {
        let prior = existing.get(&content.id);
        let next_version = prior.map(|x| x.entry.version + 1).unwrap_or(1);
        match plan {
            Plan::Unchanged => report.unchanged += 1,
            Plan::Create => {
                report.created += 1;
                write_entry(
                    &tx,
                    &EntryWrite {
                        content,
                        version: 1,
                        active: true,
                        origin: "corpus",
                        change: "created",
                        source_hash: Some(Some(hash.clone())),
                        changed_by: None,
                    },
                    true,
                )
                .await?;
            }
            Plan::Update { change } => {
                if *change == "reactivated" {
                    report.reactivated += 1;
                } else {
                    report.updated += 1;
                }
                write_entry(
                    &tx,
                    &EntryWrite {
                        content,
                        version: next_version,
                        active: true,
                        origin: "corpus",
                        change,
                        source_hash: Some(Some(hash.clone())),
                        changed_by: None,
                    },
                    false,
                )
                .await?;
            }
            Plan::Record => {
                report.unchanged += 1;
                tx.execute(
                    "UPDATE knowledge_entries SET source_hash = $2 WHERE id = $1",
                    &[&content.id, hash],
                )
                .await
                .map_err(platform::db::q)?;
            }
            Plan::Deactivate => {
                report.deactivated += 1;
                let origin = prior.map(|x| x.entry.origin.as_str()).unwrap_or("corpus");
                write_entry(
                    &tx,
                    &EntryWrite {
                        content,
                        version: next_version,
                        active: false,
                        origin,
                        change: "deactivated",
                        source_hash: Some(None),
                        changed_by: None,
                    },
                    false,
                )
                .await?;
            }
            Plan::Forget => {
                tx.execute(
                    "UPDATE knowledge_entries SET source_hash = NULL WHERE id = $1",
                    &[&content.id],
                )
                .await
                .map_err(platform::db::q)?;
            }
        }
    }
    let by_id: HashMap<&str, &EntryContent> = plans
        .iter()
        .map(|(_, c, _, _)| (c.id.as_str(), c))
        .collect();
    for (id, prepared) in &rewrite {
        if let Some(content) = by_id.get(id.as_str()) {
            write_chunks(&tx, content, prepared, &embeddings, true).await?;
        }
    }
    for id in &deactivate_chunks {
        set_chunks_active(&tx, id, false).await?;
    }
    tx.commit().await.map_err(platform::db::q)?;
    Ok(Some(report))
}

// ------------------------------------------------------------------ admin

/// One entry by id.
pub async fn get(pool: &deadpool_postgres::Pool, id: &str) -> Result<Entry, AppError> {
    let client = platform::db::conn(pool).await?;
    let row = client
        .query_opt(
            &format!("SELECT {ENTRY_COLUMNS} FROM knowledge_entries WHERE id = $1"),
            &[&id],
        )
        .await
        .map_err(platform::db::q)?
        .ok_or_else(|| AppError::not_found("knowledge entry"))?;
    Ok(entry_of(&row))
}

/// An entry's versions, newest first.
pub async fn versions(pool: &deadpool_postgres::Pool, id: &str) -> Result<Vec<Version>, AppError> {
    let client = platform::db::conn(pool).await?;
    let rows = client
        .query(
            "SELECT version, change, active, content_hash, changed_by, created_at, content
             FROM knowledge_versions WHERE entry_id = $1 ORDER BY version DESC",
            &[&id],
        )
        .await
        .map_err(platform::db::q)?;
    if rows.is_empty() {
        return Err(AppError::not_found("knowledge entry"));
    }
    Ok(rows
        .iter()
        .map(|r| Version {
            version: r.get(0),
            change: r.get(1),
            active: r.get(2),
            content_hash: r.get(3),
            changed_by: r.get(4),
            created_at: r.get(5),
            content: r.get(6),
        })
        .collect())
}

fn conflict(message: impl Into<String>) -> AppError {
    AppError::new(common::ErrorCode::Conflict, message)
}

/// Creates an admin entry (409 when the id exists, active or not).
pub async fn create(
    retriever: &Retriever,
    content: EntryContent,
    by: Uuid,
    batch_size: usize,
) -> Result<Entry, AppError> {
    let prepared = prepare(&content, retriever.glossary());
    let mut client = platform::db::conn(retriever.pool()).await?;
    let refs: Vec<&Prepared> = prepared.iter().collect();
    let (embeddings, _) = embeddings_for(&client, retriever.embedder(), &refs, batch_size).await?;
    let tx = client.transaction().await.map_err(platform::db::q)?;
    lock(&tx).await?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM knowledge_entries WHERE id = $1",
            &[&content.id],
        )
        .await
        .map_err(platform::db::q)?
        .is_some();
    if exists {
        return Err(conflict(format!(
            "a knowledge entry {:?} exists already (ids are never reused)",
            content.id
        ))
        .with_field("id"));
    }
    write_entry(
        &tx,
        &EntryWrite {
            content: &content,
            version: 1,
            active: true,
            origin: "admin",
            change: "created",
            source_hash: None,
            changed_by: Some(by),
        },
        true,
    )
    .await?;
    write_chunks(&tx, &content, &prepared, &embeddings, true).await?;
    tx.commit().await.map_err(platform::db::q)?;
    drop(client);
    get(retriever.pool(), &content.id).await
}

/// Changes an entry: new content and/or activity. `expected_version`, when
/// given, must be the current version (409 otherwise). No change: no version.
pub async fn update<F>(
    retriever: &Retriever,
    id: &str,
    expected_version: Option<i32>,
    by: Uuid,
    batch_size: usize,
    change: F,
) -> Result<(Entry, bool), AppError>
where
    F: FnOnce(&mut EntryContent, &mut bool) -> Result<(), AppError>,
{
    let current = get(retriever.pool(), id).await?;
    if let Some(v) = expected_version {
        if v != current.version {
            return Err(conflict(format!(
                "the entry is at version {}, not {v}; reload it and try again",
                current.version
            ))
            .with_field("expected_version"));
        }
    }
    let mut content = current.content.clone();
    let mut active = current.active;
    change(&mut content, &mut active)?;
    content
        .validate()
        .map_err(|p| AppError::validation(&p.key, p.message))?;
    let content_changed = content != current.content;
    if !content_changed && active == current.active {
        return Ok((current, false));
    }
    let kind = match (content_changed, current.active, active) {
        (_, true, false) => "deactivated",
        (_, false, true) => "reactivated",
        _ => "updated",
    };
    let prepared = prepare(&content, retriever.glossary());
    let mut client = platform::db::conn(retriever.pool()).await?;
    let embeddings = if active {
        let refs: Vec<&Prepared> = prepared.iter().collect();
        embeddings_for(&client, retriever.embedder(), &refs, batch_size)
            .await?
            .0
    } else {
        HashMap::new()
    };
    let tx = client.transaction().await.map_err(platform::db::q)?;
    lock(&tx).await?;
    let version: Option<i32> = tx
        .query_opt(
            "SELECT version FROM knowledge_entries WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(platform::db::q)?
        .map(|r| r.get(0));
    if version != Some(current.version) {
        return Err(conflict(
            "the entry changed while this edit was being applied; reload it and try again",
        ));
    }
    write_entry(
        &tx,
        &EntryWrite {
            content: &content,
            version: current.version + 1,
            active,
            origin: &current.origin,
            change: kind,
            source_hash: None,
            changed_by: Some(by),
        },
        false,
    )
    .await?;
    if active {
        write_chunks(&tx, &content, &prepared, &embeddings, true).await?;
    } else {
        set_chunks_active(&tx, id, false).await?;
    }
    tx.commit().await.map_err(platform::db::q)?;
    drop(client);
    Ok((get(retriever.pool(), id).await?, true))
}

/// Entries for the admin list: `q` matches the id, title, tags or body
/// (case ignored); `domain` and `active` filter.
pub async fn list(
    pool: &deadpool_postgres::Pool,
    q: Option<&str>,
    domain: Option<&str>,
    active: Option<bool>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Entry>, i64), AppError> {
    let pattern = q.map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let client = platform::db::conn(pool).await?;
    let filter = "($1::text IS NULL OR id ILIKE $1 OR title ILIKE $1 OR body ILIKE $1
                   OR array_to_string(tags, ' ') ILIKE $1)
              AND ($2::text IS NULL OR domain = $2)
              AND ($3::boolean IS NULL OR active = $3)";
    let total: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM knowledge_entries WHERE {filter}"),
            &[&pattern, &domain, &active],
        )
        .await
        .map_err(platform::db::q)?
        .get(0);
    let rows = client
        .query(
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM knowledge_entries WHERE {filter}
                 ORDER BY id LIMIT $4 OFFSET $5"
            ),
            &[&pattern, &domain, &active, &limit, &offset],
        )
        .await
        .map_err(platform::db::q)?;
    Ok((rows.iter().map(entry_of).collect(), total))
}
