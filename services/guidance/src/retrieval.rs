//! Hybrid retrieval over the knowledge base: exact cosine search over the
//! embeddings held in memory, fused by reciprocal rank with PostgreSQL
//! full-text search, with domain filters; and the entries that describe a
//! chart's own placements.
//!
//! Three ranked lists are fused, each entry scoring `Σ 1/(rrf_k + rank)`:
//!
//! 1. **vectors**: the query (glossary-expanded) embedded by MiniLM, cosine
//!    against every active chunk in memory, an entry ranked by its best chunk;
//! 2. **full text**: PostgreSQL full-text search of the chunks: the query's
//!    lexemes as `to_tsvector` reads them (English stemming and the simple
//!    configuration), looked up in `knowledge_postings`, the inverted index
//!    of the active chunks' tsvectors that a trigger keeps; any query word
//!    matching, each chunk scored by the IDF of the words it matches (title
//!    and tags count double, headings 1.5 times), words in more than a fifth
//!    of the chunks left out; one statement;
//! 3. **placements named in the query**: "Shani in the 7th bhava" names
//!    Saturn and the seventh house, so the entry whose structured keys say
//!    exactly that is a candidate whatever the wording.
//!
//! The index is loaded from PostgreSQL at start and reloaded after a seed
//! or an admin edit, on every replica: the writer broadcasts
//! [`CHANGED_SUBJECT`] (signed; only guidance itself is believed), and a
//! periodic fingerprint check catches a missed broadcast.

use crate::config::RetrievalConfig;
use crate::corpus::{GRAHAS, NAKSHATRAS, SIGNS};
use crate::embed::{self, Embedder};
use crate::glossary::Glossary;
use futures_util::StreamExt;
use platform::AppError;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Core NATS subject on which a replica that changed the knowledge base
/// tells every replica to reload its index.
pub const CHANGED_SUBJECT: &str = "guidance.knowledge.changed";

/// Share of the chunks a word may appear in and still be searched for.
const COMMON_SHARE: f64 = 0.2;
/// How often each replica checks that its index matches the database.
const FINGERPRINT_EVERY: Duration = Duration::from_secs(30);

/// One search result.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub id: String,
    pub domain: String,
    pub title: String,
    pub snippet: String,
    pub score: f64,
    /// The text given to the model (the best-matching chunk).
    #[serde(skip)]
    pub text: String,
}

/// A placement in a chart (a graha in a house, sign and nakshatra).
#[derive(Clone, Debug, Default)]
pub struct Placement {
    pub graha: String,
    pub house: Option<u8>,
    pub sign: Option<String>,
    pub nakshatra: Option<String>,
}

#[derive(Debug)]
struct EntryMeta {
    id: String,
    domain: String,
    title: String,
    graha: Option<String>,
    house: Option<i32>,
    sign: Option<String>,
    nakshatra: Option<String>,
    /// Indices of its chunks in `Index::chunks`, in order.
    chunks: Vec<usize>,
}

#[derive(Debug)]
struct ChunkMeta {
    entry: usize,
    heading: Option<String>,
    text: String,
}

/// What one replica holds in memory.
#[derive(Debug, Default)]
struct Index {
    entries: Vec<EntryMeta>,
    chunks: Vec<ChunkMeta>,
    /// `chunks.len() × DIM` (a candle tensor: the cosines of a query with
    /// every chunk are one matrix-vector product, fast even in debug builds).
    vectors: Option<candle_core::Tensor>,
    fingerprint: String,
    loaded: bool,
}

/// A search's result with the top of each ranking it fused (for the
/// benchmark and for tuning).
#[derive(Clone, Debug)]
pub struct Explained {
    pub hits: Vec<Hit>,
    pub vector: Vec<String>,
    pub text: Vec<String>,
    pub keys: Vec<String>,
}

/// Counts of what is loaded.
#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct IndexStats {
    pub entries: usize,
    pub chunks: usize,
    pub loaded: bool,
}

/// What a query names: placements (graha with house or sign), signs,
/// houses, grahas and nakshatras on their own.
#[derive(Debug, Default, PartialEq)]
pub struct QueryKeys {
    pub graha_house: Vec<(String, i32)>,
    pub graha_sign: Vec<(String, String)>,
    pub nakshatras: Vec<String>,
    pub signs: Vec<String>,
    pub houses: Vec<i32>,
    pub grahas: Vec<String>,
    /// "moon sign", "rashi": the question is about a sign as such.
    pub sign_question: bool,
    /// The query's words, lowercased.
    pub words: Vec<String>,
}

impl QueryKeys {
    /// Whether the query names `name` (`gaja-kesari`): its words in a row,
    /// or written as one word (`gajakesari`).
    pub fn names(&self, name: &str) -> bool {
        let parts: Vec<&str> = name.split('-').filter(|p| p.len() > 2).collect();
        if parts.is_empty() || name.split('-').count() != parts.len() {
            return false;
        }
        let joined = parts.concat();
        self.words.contains(&joined)
            || self
                .words
                .windows(parts.len())
                .any(|w| w.iter().zip(&parts).all(|(a, b)| a == b))
    }
}

pub struct Retriever {
    pool: deadpool_postgres::Pool,
    embedder: Arc<Embedder>,
    glossary: Arc<Glossary>,
    cfg: RetrievalConfig,
    index: RwLock<Arc<Index>>,
    reload: tokio::sync::Mutex<()>,
}

const ORDINALS: &[&str] = &[
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth",
];

fn sign_code(s: &str) -> Option<&'static str> {
    let s = s.trim().to_lowercase();
    SIGNS
        .iter()
        .find(|(code, english)| *code == s || *english == s)
        .map(|(code, _)| *code)
}

fn graha_code(s: &str) -> Option<&'static str> {
    let s = s.trim().to_lowercase();
    GRAHAS.iter().copied().find(|g| *g == s)
}

fn nakshatra_code(s: &str) -> Option<&'static str> {
    let s = s.trim().to_lowercase().replace([' ', '-'], "_");
    NAKSHATRAS.iter().copied().find(|n| *n == s)
}

/// A house number written as `7th`, `7` + house/bhava, or `seventh house`.
fn house_at(words: &[String], i: usize) -> Option<i32> {
    let w = words[i].as_str();
    let near_house = || {
        words
            .iter()
            .skip(i + 1)
            .take(2)
            .any(|n| n == "house" || n == "bhava" || n == "bhavam")
    };
    let digits: String = w.chars().take_while(char::is_ascii_digit).collect();
    if !digits.is_empty() {
        let n: i32 = digits.parse().ok()?;
        if !(1..=12).contains(&n) {
            return None;
        }
        let suffix = &w[digits.len()..];
        return match suffix {
            "st" | "nd" | "rd" | "th" => Some(n),
            "" if near_house() => Some(n),
            _ => None,
        };
    }
    let n = ORDINALS.iter().position(|o| *o == w)?;
    if near_house() {
        i32::try_from(n + 1).ok()
    } else {
        None
    }
}

/// Reads the placements, signs and houses a (glossary-expanded) query names.
pub fn query_keys(expanded: &str) -> QueryKeys {
    let words: Vec<String> = expanded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut grahas: Vec<(usize, &str)> = Vec::new();
    let mut houses: Vec<(usize, i32)> = Vec::new();
    let mut signs: Vec<(usize, &str)> = Vec::new();
    let mut keys = QueryKeys::default();
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str);
        if w == "moon" && next == Some("sign") {
            keys.sign_question = true;
            continue;
        }
        if matches!(w.as_str(), "rashi" | "rasi" | "raasi") {
            keys.sign_question = true;
        }
        if let Some(g) = graha_code(w) {
            grahas.push((i, g));
        } else if let Some(s) = sign_code(w) {
            signs.push((i, s));
        } else if let Some(h) = house_at(&words, i) {
            houses.push((i, h));
        }
        // Nakshatras of one or two words (purva_phalguni).
        if let Some(n) = nakshatra_code(w) {
            if !keys.nakshatras.iter().any(|x| x == n) {
                keys.nakshatras.push(n.to_owned());
            }
        } else if let Some(next) = next {
            if let Some(n) = nakshatra_code(&format!("{w}_{next}")) {
                if !keys.nakshatras.iter().any(|x| x == n) {
                    keys.nakshatras.push(n.to_owned());
                }
            }
        }
    }
    if words.iter().any(|w| w == "lagna" || w == "ascendant") && !houses.iter().any(|h| h.1 == 1) {
        if let Some(i) = words.iter().position(|w| w == "lagna" || w == "ascendant") {
            houses.push((i, 1));
        }
    }
    // Pair each graha with the nearest house (and sign) written after it,
    // then the remaining combinations, nearest first.
    fn pairs<T: Clone + PartialEq>(
        grahas: &[(usize, &str)],
        others: &[(usize, T)],
    ) -> Vec<(String, T)> {
        let mut scored: Vec<(usize, String, T)> = Vec::new();
        for (gi, g) in grahas {
            for (oi, o) in others {
                let d = if oi > gi {
                    oi - gi
                } else {
                    // Before the graha: "the 7th has Saturn" counts, less.
                    (gi - oi) + 8
                };
                scored.push((d, (*g).to_owned(), o.clone()));
            }
        }
        scored.sort_by_key(|s| s.0);
        let mut out: Vec<(String, T)> = Vec::new();
        for (_, g, o) in scored {
            if !out.iter().any(|(g2, o2)| *g2 == g && *o2 == o) {
                out.push((g, o));
            }
        }
        out.truncate(4);
        out
    }
    let mut seen_grahas: Vec<(usize, &str)> = Vec::new();
    for g in grahas {
        if !seen_grahas.iter().any(|s| s.1 == g.1) {
            seen_grahas.push(g);
        }
    }
    keys.graha_house = pairs(&seen_grahas, &houses);
    keys.graha_sign = pairs(
        &seen_grahas,
        &signs
            .iter()
            .map(|(i, s)| (*i, (*s).to_owned()))
            .collect::<Vec<_>>(),
    );
    for (_, s) in &signs {
        if !keys.signs.iter().any(|x| x == s) {
            keys.signs.push((*s).to_owned());
        }
    }
    for (_, h) in &houses {
        if !keys.houses.contains(h) {
            keys.houses.push(*h);
        }
    }
    keys.grahas = seen_grahas.iter().map(|(_, g)| (*g).to_owned()).collect();
    keys.words = words;
    keys
}

/// At most `max` characters of `text`, cut at a word.
fn snippet(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!(
        "{}…",
        cut.trim_end_matches(|c: char| c.is_ascii_punctuation())
    )
}

fn db_err(e: tokio_postgres::Error) -> AppError {
    platform::db::q(e)
}

impl Retriever {
    /// A retriever with an empty index; [`Retriever::refresh`] loads it.
    pub fn new(
        pool: deadpool_postgres::Pool,
        embedder: Arc<Embedder>,
        glossary: Arc<Glossary>,
        cfg: RetrievalConfig,
    ) -> Retriever {
        Retriever {
            pool,
            embedder,
            glossary,
            cfg,
            index: RwLock::new(Arc::new(Index::default())),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    /// A retriever with its index loaded from the database.
    pub async fn load(
        pool: deadpool_postgres::Pool,
        embedder: Arc<Embedder>,
        glossary: Arc<Glossary>,
        cfg: RetrievalConfig,
    ) -> Result<Retriever, AppError> {
        let r = Retriever::new(pool, embedder, glossary, cfg);
        r.refresh().await?;
        Ok(r)
    }

    pub fn pool(&self) -> &deadpool_postgres::Pool {
        &self.pool
    }

    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }

    pub fn glossary(&self) -> &Arc<Glossary> {
        &self.glossary
    }

    pub fn config(&self) -> &RetrievalConfig {
        &self.cfg
    }

    fn current(&self) -> Arc<Index> {
        match self.index.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn stats(&self) -> IndexStats {
        let i = self.current();
        IndexStats {
            entries: i.entries.len(),
            chunks: i.chunks.len(),
            loaded: i.loaded,
        }
    }

    async fn fingerprint(client: &deadpool_postgres::Object) -> Result<String, AppError> {
        let row = client
            .query_one(
                "SELECT concat_ws('/',
                    (SELECT count(*) FROM knowledge_entries WHERE active),
                    (SELECT max(updated_at) FROM knowledge_entries),
                    (SELECT count(*) FROM knowledge_chunks WHERE active),
                    (SELECT max(updated_at) FROM knowledge_chunks))",
                &[],
            )
            .await
            .map_err(db_err)?;
        Ok(row.get(0))
    }

    /// Reloads the index from the database (the active entries and chunks
    /// embedded by the current model).
    pub async fn refresh(&self) -> Result<(), AppError> {
        let _one = self.reload.lock().await;
        let client = platform::db::conn(&self.pool).await?;
        let fingerprint = Self::fingerprint(&client).await?;
        let rows = client
            .query(
                "SELECT id, domain, title, graha, house, sign, nakshatra
                 FROM knowledge_entries WHERE active ORDER BY id",
                &[],
            )
            .await
            .map_err(db_err)?;
        let mut entries = Vec::with_capacity(rows.len());
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for r in rows {
            let id: String = r.get(0);
            by_id.insert(id.clone(), entries.len());
            entries.push(EntryMeta {
                id,
                domain: r.get(1),
                title: r.get(2),
                graha: r.get(3),
                house: r.get(4),
                sign: r.get(5),
                nakshatra: r.get(6),
                chunks: Vec::new(),
            });
        }
        let rows = client
            .query(
                "SELECT c.entry_id, c.heading, c.text, c.embedding
                 FROM knowledge_chunks c JOIN knowledge_entries e ON e.id = c.entry_id
                 WHERE c.active AND e.active AND c.embedding_model = $1
                 ORDER BY c.entry_id, c.ord",
                &[&embed::MODEL_ID],
            )
            .await
            .map_err(db_err)?;
        let mut chunks = Vec::with_capacity(rows.len());
        let mut vectors = Vec::with_capacity(rows.len() * embed::DIM);
        for r in rows {
            let entry_id: String = r.get(0);
            let embedding: Vec<f32> = r.get(3);
            let Some(&e) = by_id.get(&entry_id) else {
                continue;
            };
            if embedding.len() != embed::DIM {
                tracing::warn!(entry = %entry_id, "chunk embedding has the wrong size; skipped");
                continue;
            }
            entries[e].chunks.push(chunks.len());
            chunks.push(ChunkMeta {
                entry: e,
                heading: r.get(1),
                text: r.get(2),
            });
            vectors.extend_from_slice(&embedding);
        }
        let vectors = if chunks.is_empty() {
            None
        } else {
            Some(
                candle_core::Tensor::from_vec(
                    vectors,
                    (chunks.len(), embed::DIM),
                    &candle_core::Device::Cpu,
                )
                .map_err(AppError::internal)?,
            )
        };
        drop(client);
        let index = Index {
            entries,
            chunks,
            vectors,
            fingerprint,
            loaded: true,
        };
        tracing::info!(
            entries = index.entries.len(),
            chunks = index.chunks.len(),
            "knowledge index loaded"
        );
        let index = Arc::new(index);
        match self.index.write() {
            Ok(mut g) => *g = index,
            Err(p) => *p.into_inner() = index,
        }
        Ok(())
    }

    /// Reloads when the database no longer matches what is in memory.
    pub async fn refresh_if_stale(&self) -> Result<bool, AppError> {
        let current = self.current();
        let client = platform::db::conn(&self.pool).await?;
        let fp = Self::fingerprint(&client).await?;
        drop(client);
        if current.loaded && fp == current.fingerprint {
            return Ok(false);
        }
        self.refresh().await?;
        Ok(true)
    }

    /// Embeds one text on a blocking thread.
    pub async fn embed_query(&self, text: &str) -> Result<Vec<f32>, AppError> {
        let embedder = self.embedder.clone();
        let text = text.to_owned();
        let mut v = tokio::task::spawn_blocking(move || embedder.embed(&[text.as_str()]))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
        v.pop()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no embedding returned")))
    }

    /// Entries ranked by their best chunk's cosine with `q`: (entry, best
    /// chunk, cosine).
    fn vector_ranking(
        index: &Index,
        q: &[f32],
        domain: Option<&str>,
        n: usize,
    ) -> Result<Vec<(usize, usize, f32)>, AppError> {
        let Some(vectors) = &index.vectors else {
            return Ok(Vec::new());
        };
        let cosines: Vec<f32> =
            candle_core::Tensor::from_slice(q, (embed::DIM, 1), &candle_core::Device::Cpu)
                .and_then(|q| vectors.matmul(&q))
                .and_then(|s| s.flatten_all())
                .and_then(|s| s.to_vec1())
                .map_err(AppError::internal)?;
        let mut best: HashMap<usize, (usize, f32)> = HashMap::new();
        for (ci, (c, s)) in index.chunks.iter().zip(cosines).enumerate() {
            if let Some(d) = domain {
                if index.entries[c.entry].domain != d {
                    continue;
                }
            }
            let e = best.entry(c.entry).or_insert((ci, f32::MIN));
            if s > e.1 {
                *e = (ci, s);
            }
        }
        let mut ranked: Vec<(usize, usize, f32)> =
            best.into_iter().map(|(e, (c, s))| (e, c, s)).collect();
        ranked.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        ranked.truncate(n);
        Ok(ranked)
    }

    /// The exact cosine search alone, for an already embedded query: entry
    /// ids and their best chunk's cosine, best first.
    pub fn rank_by_vector(
        &self,
        q: &[f32],
        k: usize,
        domain: Option<&str>,
    ) -> Result<Vec<(String, f32)>, AppError> {
        let index = self.current();
        Ok(Self::vector_ranking(&index, q, domain, k)?
            .into_iter()
            .map(|(e, _, s)| (index.entries[e].id.clone(), s))
            .collect())
    }

    /// Entries matching the full-text query, best first (entry ids). Each
    /// chunk scores the sum of its matching lexemes' IDF, `ln(N / ndoc)`
    /// over the active chunks (twice for a title or tag match, 1.5 times
    /// for a heading match): PostgreSQL's own `ts_rank` counts every word
    /// alike, so a question's common words ("want", "life", "work") would
    /// outweigh its one telling word. Words in more than a fifth of the
    /// chunks tell little and are left out (below 50 chunks, none is).
    async fn text_ranking(
        &self,
        index: &Index,
        expanded: &str,
        domain: Option<&str>,
        n: usize,
    ) -> Result<Vec<String>, AppError> {
        if index.chunks.is_empty() {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(n).unwrap_or(100);
        let chunks = index.chunks.len() as f64;
        let client = platform::db::conn(&self.pool).await?;
        // Prepared once per connection: parsing and planning it took about
        // as long as running it.
        let statement = client
            .prepare_cached(
                "WITH q AS MATERIALIZED (
                   SELECT l.lexeme, greatest(ln($2::float8 / l.ndoc), 0.05) AS idf
                   FROM (SELECT DISTINCT x FROM unnest(
                          tsvector_to_array(to_tsvector('english', $1))
                          || tsvector_to_array(to_tsvector('simple', $1))) AS x) ql
                   JOIN knowledge_lexemes l ON l.lexeme = ql.x
                   WHERE l.ndoc > 0 AND ($2::float8 < 50 OR l.ndoc <= $2::float8 * $5::float8)),
                 chunks AS (
                   SELECT p.chunk_id, p.entry_id, sum(q.idf * p.weight) AS score
                   FROM q CROSS JOIN LATERAL (
                     SELECT chunk_id, entry_id, weight FROM knowledge_postings
                     WHERE lexeme = q.lexeme OFFSET 0) p
                   GROUP BY p.chunk_id, p.entry_id)
                 SELECT c.entry_id, max(c.score) AS score
                 FROM chunks c JOIN knowledge_entries e ON e.id = c.entry_id
                 WHERE e.active AND ($3::text IS NULL OR e.domain = $3)
                 GROUP BY c.entry_id ORDER BY score DESC, c.entry_id LIMIT $4",
            )
            .await
            .map_err(db_err)?;
        let rows = client
            .query(
                &statement,
                &[&expanded, &chunks, &domain, &limit, &COMMON_SHARE],
            )
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Entries whose structured keys match what the query names.
    fn key_ranking(index: &Index, keys: &QueryKeys, domain: Option<&str>) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        let mut push = |pred: &dyn Fn(&EntryMeta) -> bool| {
            for (i, e) in index.entries.iter().enumerate() {
                if domain.is_some_and(|d| e.domain != d) || out.contains(&i) {
                    continue;
                }
                if pred(e) {
                    out.push(i);
                }
            }
        };
        fn rashi(e: &EntryMeta, s: &str) -> bool {
            e.domain == "rashi" && e.sign.as_deref() == Some(s)
        }
        // Yogas named in the question ("Malavya yoga", "gajakesari").
        push(&|e| {
            e.domain == "yoga"
                && e.id
                    .strip_prefix("yoga-")
                    .is_some_and(|name| keys.names(name))
        });
        if keys.sign_question {
            for s in &keys.signs {
                push(&|e| rashi(e, s));
            }
        }
        for (g, h) in &keys.graha_house {
            push(&|e| {
                e.domain == "graha_in_house" && e.graha.as_deref() == Some(g) && e.house == Some(*h)
            });
        }
        for (g, s) in &keys.graha_sign {
            push(&|e| {
                e.domain == "graha_in_sign"
                    && e.graha.as_deref() == Some(g)
                    && e.sign.as_deref() == Some(s)
            });
        }
        for n in &keys.nakshatras {
            push(&|e| e.domain == "nakshatra" && e.nakshatra.as_deref() == Some(n));
        }
        if keys.grahas.is_empty() {
            for s in &keys.signs {
                push(&|e| rashi(e, s));
            }
            for h in &keys.houses {
                push(&|e| e.domain == "bhava" && e.house == Some(*h));
            }
        }
        // A planet named alone, last ("What does Jupiter mean?").
        if keys.graha_house.is_empty() && keys.graha_sign.is_empty() {
            for g in &keys.grahas {
                push(&|e| e.domain == "graha" && e.graha.as_deref() == Some(g));
            }
        }
        out
    }

    fn hit(index: &Index, entry: usize, chunk: Option<usize>, score: f64) -> Hit {
        let e = &index.entries[entry];
        let chunk = chunk.or_else(|| e.chunks.first().copied());
        let (snip, text) = match chunk.and_then(|c| index.chunks.get(c)) {
            Some(c) => (
                snippet(&c.text, 240),
                match &c.heading {
                    Some(h) => format!("{h}: {}", c.text),
                    None => c.text.clone(),
                },
            ),
            None => (String::new(), String::new()),
        };
        Hit {
            id: e.id.clone(),
            domain: e.domain.clone(),
            title: e.title.clone(),
            snippet: snip,
            score,
            text,
        }
    }

    /// Semantic + full-text search; `domain` filters.
    pub async fn search(
        &self,
        query: &str,
        k: usize,
        domain: Option<&str>,
    ) -> Result<Vec<Hit>, AppError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(AppError::validation("q", "give a question to search for"));
        }
        let expanded = self.glossary.expand(query);
        let q = self.embed_query(&expanded).await?;
        Ok(self.search_embedded(&expanded, &q, k, domain).await?.hits)
    }

    /// The retrieval proper, for a glossary-expanded query already embedded:
    /// the three rankings and their fusion.
    pub async fn search_embedded(
        &self,
        expanded: &str,
        q: &[f32],
        k: usize,
        domain: Option<&str>,
    ) -> Result<Explained, AppError> {
        let k = k.clamp(1, self.cfg.max_k.max(1));
        let index = self.current();
        let n = self.cfg.candidates.max(k);
        let text_ids = self.text_ranking(&index, expanded, domain, n).await?;
        let vector = Self::vector_ranking(&index, q, domain, n)?;
        let keys = Self::key_ranking(&index, &query_keys(expanded), domain);
        let rrf = |rank: usize| 1.0 / (self.cfg.rrf_k + rank as f64 + 1.0);
        let mut scores: HashMap<usize, f64> = HashMap::new();
        let mut best_chunk: HashMap<usize, usize> = HashMap::new();
        for (rank, (e, c, _)) in vector.iter().enumerate() {
            *scores.entry(*e).or_default() += rrf(rank);
            best_chunk.insert(*e, *c);
        }
        let by_id: HashMap<&str, usize> = index
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_str(), i))
            .collect();
        let text: Vec<usize> = text_ids
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).copied())
            .collect();
        for (rank, e) in text.iter().enumerate() {
            *scores.entry(*e).or_default() += rrf(rank);
        }
        for (rank, e) in keys.iter().enumerate() {
            *scores.entry(*e).or_default() += rrf(rank);
        }
        let mut fused: Vec<(usize, f64)> = scores.into_iter().collect();
        fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        fused.truncate(k);
        let ids = |v: &mut dyn Iterator<Item = usize>| -> Vec<String> {
            v.take(10).map(|e| index.entries[e].id.clone()).collect()
        };
        Ok(Explained {
            vector: ids(&mut vector.iter().map(|v| v.0)),
            text: ids(&mut text.iter().copied()),
            keys: ids(&mut keys.iter().copied()),
            hits: fused
                .into_iter()
                .map(|(e, s)| Self::hit(&index, e, best_chunk.get(&e).copied(), s))
                .collect(),
        })
    }

    /// The entries written for these placements (graha in house, graha in
    /// sign, the Moon's nakshatra), most specific first.
    pub async fn placements(&self, placements: &[Placement]) -> Result<Vec<Hit>, AppError> {
        let index = self.current();
        let mut found: Vec<usize> = Vec::new();
        let mut add = |pred: &dyn Fn(&EntryMeta) -> bool| {
            if let Some(i) = index.entries.iter().position(pred) {
                if !found.contains(&i) {
                    found.push(i);
                }
            }
        };
        for p in placements {
            let graha = graha_code(&p.graha);
            let lagna = matches!(
                p.graha.trim().to_lowercase().as_str(),
                "lagna" | "ascendant" | "asc"
            );
            if let (Some(g), Some(h)) = (graha, p.house) {
                add(&|e| {
                    e.domain == "graha_in_house"
                        && e.graha.as_deref() == Some(g)
                        && e.house == Some(i32::from(h))
                });
            }
            if let (Some(g), Some(s)) = (graha, p.sign.as_deref().and_then(sign_code)) {
                add(&|e| {
                    e.domain == "graha_in_sign"
                        && e.graha.as_deref() == Some(g)
                        && e.sign.as_deref() == Some(s)
                });
            }
            if lagna {
                if let Some(s) = p.sign.as_deref().and_then(sign_code) {
                    add(&|e| e.domain == "rashi" && e.sign.as_deref() == Some(s));
                }
            }
            if graha == Some("moon") || lagna {
                if let Some(n) = p.nakshatra.as_deref().and_then(nakshatra_code) {
                    add(&|e| e.domain == "nakshatra" && e.nakshatra.as_deref() == Some(n));
                }
            }
        }
        let total = found.len().max(1) as f64;
        Ok(found
            .iter()
            .enumerate()
            .map(|(rank, &e)| Self::hit(&index, e, None, 1.0 - rank as f64 / total))
            .collect())
    }

    /// Keeps the index current until `token` is cancelled: the first load
    /// (retried with backoff while the database is down), reloads announced
    /// on [`CHANGED_SUBJECT`] by any replica (signed by guidance), and a
    /// periodic fingerprint check for announcements missed while NATS was away.
    pub async fn watch(
        self: Arc<Self>,
        bus: platform::nats::Bus,
        service: &'static str,
        token: CancellationToken,
    ) {
        let mut delay = Duration::from_millis(200);
        let mut tick = tokio::time::interval(FINGERPRINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let sub = tokio::select! {
                _ = token.cancelled() => return,
                s = bus.subscribe(CHANGED_SUBJECT) => s,
            };
            let mut sub = match sub {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "knowledge change subscription failed; retrying");
                    if !self.stats().loaded {
                        let _ = self.refresh().await;
                    }
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            delay = Duration::from_millis(200);
            loop {
                tokio::select! {
                    _ = token.cancelled() => {
                        let _ = sub.unsubscribe().await;
                        return;
                    }
                    m = sub.next() => match m {
                        Some(msg) => match bus.verify_broadcast(&msg, &[service]) {
                            Ok(_) => {
                                if let Err(e) = self.refresh().await {
                                    tracing::warn!(error = %e, "knowledge index reload failed");
                                }
                            }
                            Err(e) => tracing::warn!(error = %e.message, "knowledge change announcement refused"),
                        },
                        None => break,
                    },
                    _ = tick.tick() => {
                        if let Err(e) = self.refresh_if_stale().await {
                            tracing::debug!(error = %e, "knowledge index check failed");
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_placements_from_questions() {
        let k = query_keys("Shani (saturn) in 7th bhava (house) affects marriage");
        assert_eq!(k.graha_house[0], ("saturn".to_owned(), 7));
        let k = query_keys("My Rahu is in the 7th and Ketu in the 1st");
        // Each graha with the house written after it comes first.
        let mut first_two = k.graha_house[..2].to_vec();
        first_two.sort();
        assert_eq!(first_two, [("ketu".to_owned(), 1), ("rahu".to_owned(), 7)]);
        let k = query_keys("Is Rahu in the sixth house good?");
        assert_eq!(k.graha_house, vec![("rahu".to_owned(), 6)]);
        let k = query_keys("Surya (sun) in lagna (ascendant first house)");
        assert_eq!(k.graha_house[0], ("sun".to_owned(), 1));
        let k = query_keys("Kanni (virgo) rasi (sign zodiac sign moon sign) nature");
        assert!(k.sign_question);
        assert!(k.grahas.is_empty());
        assert_eq!(k.signs, vec!["kanya".to_owned()]);
        let k = query_keys("I was born in purva phalguni, 14 out of 36");
        assert_eq!(k.nakshatras, vec!["purva_phalguni".to_owned()]);
        assert!(k.houses.is_empty());
    }

    #[test]
    fn snippets_cut_at_words() {
        assert_eq!(snippet("short  text", 50), "short text");
        let s = snippet("one two three four five six", 12);
        assert_eq!(s, "one two…");
    }
}
