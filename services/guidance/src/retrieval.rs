//! Hybrid retrieval over the knowledge base: exact cosine search over the
//! embeddings held in memory, fused by reciprocal rank with PostgreSQL
//! full-text search, with domain filters; and the entries that describe a
//! chart's own placements. (To be completed.)

use platform::AppError;
use serde::Serialize;

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

pub struct Retriever;

impl Retriever {
    /// Semantic + full-text search; `domain` filters.
    pub async fn search(
        &self,
        query: &str,
        k: usize,
        domain: Option<&str>,
    ) -> Result<Vec<Hit>, AppError> {
        let _ = (query, k, domain);
        Ok(Vec::new())
    }

    /// The entries written for these placements (graha in house, graha in
    /// sign, the Moon's nakshatra), most specific first.
    pub async fn placements(&self, placements: &[Placement]) -> Result<Vec<Hit>, AppError> {
        let _ = placements;
        Ok(Vec::new())
    }
}
