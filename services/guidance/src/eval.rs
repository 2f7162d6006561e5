//! Retrieval quality on the labelled questions of `eval/questions.jsonl`
//! (`{"q": ..., "expected": [entry ids]}` a line): recall@k (the share of
//! expected entries found in the top k, averaged over questions) and MRR
//! (the reciprocal rank of the first expected entry). The recall test and
//! the benchmark both use it.

use crate::retrieval::Retriever;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub q: String,
    pub expected: Vec<String>,
}

/// Reads a JSONL file of questions (errors name the line).
pub fn load_questions(path: &str) -> anyhow::Result<Vec<Question>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let q: Question =
            serde_json::from_str(line).map_err(|e| anyhow::anyhow!("{path}:{}: {e}", i + 1))?;
        if q.expected.is_empty() {
            anyhow::bail!("{path}:{}: no expected entries", i + 1);
        }
        out.push(q);
    }
    Ok(out)
}

/// One question that did not get all its entries in the top k.
#[derive(Clone, Debug)]
pub struct Miss {
    pub q: String,
    pub expected: Vec<String>,
    pub got: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct EvalReport {
    pub questions: usize,
    pub k: usize,
    pub recall: f64,
    pub mrr: f64,
    pub misses: Vec<Miss>,
}

impl std::fmt::Display for EvalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} questions: recall@{} {:.3}, MRR {:.3}",
            self.questions, self.k, self.recall, self.mrr
        )?;
        for m in &self.misses {
            write!(
                f,
                "\n  miss: {:?} expected {:?} got {:?}",
                m.q, m.expected, m.got
            )?;
        }
        Ok(())
    }
}

/// Runs every question through [`Retriever::search`].
pub async fn evaluate(
    retriever: &Retriever,
    questions: &[Question],
    k: usize,
) -> anyhow::Result<EvalReport> {
    let mut recall = 0.0;
    let mut mrr = 0.0;
    let mut misses = Vec::new();
    for q in questions {
        // Rank beyond k for MRR.
        let hits = retriever
            .search(&q.q, k.max(retriever.config().max_k), None)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", q.q))?;
        let ids: Vec<String> = hits.into_iter().map(|h| h.id).collect();
        let top: Vec<&String> = ids.iter().take(k).collect();
        let found = q.expected.iter().filter(|e| top.contains(e)).count();
        recall += found as f64 / q.expected.len() as f64;
        if let Some(rank) = ids.iter().position(|id| q.expected.contains(id)) {
            mrr += 1.0 / (rank as f64 + 1.0);
        }
        if found < q.expected.len() {
            misses.push(Miss {
                q: q.q.clone(),
                expected: q.expected.clone(),
                got: top.into_iter().cloned().collect(),
            });
        }
    }
    let n = questions.len().max(1) as f64;
    Ok(EvalReport {
        questions: questions.len(),
        k,
        recall: recall / n,
        mrr: mrr / n,
        misses,
    })
}
