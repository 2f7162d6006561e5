//! Sanskrit, Tamil and Hindi terms → English, so that "Shani in the 7th
//! bhava" finds what "Saturn in the seventh house" does.
//!
//! `glossary.tsv` holds one `term<TAB>expansion` a line (terms may have
//! several words; `#` starts a comment line). Queries and entries are both
//! expanded before they are embedded and indexed for full-text search: every
//! term found in the text (longest match first, whole words, case ignored)
//! is followed by its expansion in parentheses, so word order is kept and
//! both spellings are there.

use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub struct Glossary {
    /// Lowercased term (words joined by one space) → expansion.
    terms: HashMap<String, String>,
    /// The most words any term has.
    max_words: usize,
}

/// A word of a text: its lowercased form and where it is (byte range).
struct Word {
    lower: String,
    start: usize,
    end: usize,
}

/// A term found in a text (byte range) and its expansion.
struct Match<'a> {
    start: usize,
    end: usize,
    expansion: &'a str,
}

fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            out.push(Word {
                lower: text[s..i].to_lowercase(),
                start: s,
                end: i,
            });
        }
    }
    if let Some(s) = start {
        out.push(Word {
            lower: text[s..].to_lowercase(),
            start: s,
            end: text.len(),
        });
    }
    out
}

impl Glossary {
    /// Reads and parses `path`; errors name the file and line.
    pub fn load(path: &str) -> anyhow::Result<Glossary> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("glossary {path}: {e} (knowledge.glossary)"))?;
        Glossary::parse(&text).map_err(|e| anyhow::anyhow!("glossary {path}: {e}"))
    }

    /// Parses `term<TAB>expansion` lines.
    pub fn parse(text: &str) -> Result<Glossary, String> {
        let mut terms = HashMap::new();
        let mut max_words = 0;
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((term, expansion)) = line.split_once('\t') else {
                return Err(format!("line {line_no}: expected term<TAB>expansion"));
            };
            if expansion.contains('\t') {
                return Err(format!("line {line_no}: more than two columns"));
            }
            let key: Vec<String> = words(term).into_iter().map(|w| w.lower).collect();
            let expansion = expansion.trim();
            if key.is_empty() || expansion.is_empty() {
                return Err(format!("line {line_no}: empty term or expansion"));
            }
            if expansion.chars().any(char::is_control) {
                return Err(format!(
                    "line {line_no}: control character in the expansion"
                ));
            }
            max_words = max_words.max(key.len());
            let key = key.join(" ");
            if terms.insert(key.clone(), expansion.to_owned()).is_some() {
                return Err(format!("line {line_no}: {key:?} is listed twice"));
            }
        }
        Ok(Glossary { terms, max_words })
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms found in `text`, longest match first, left to right.
    fn matches<'a>(&'a self, text: &str) -> Vec<Match<'a>> {
        let ws = words(text);
        let mut out = Vec::new();
        let mut i = 0;
        while i < ws.len() {
            let mut found = None;
            for n in (1..=self.max_words.min(ws.len() - i)).rev() {
                let key = ws[i..i + n]
                    .iter()
                    .map(|w| w.lower.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                if let Some(exp) = self.terms.get(&key) {
                    found = Some((n, exp.as_str()));
                    break;
                }
            }
            match found {
                Some((n, exp)) => {
                    let (first, last) = (&ws[i], &ws[i + n - 1]);
                    // "rahu" → "rahu": nothing to replace.
                    if n > 1 || exp != last.lower {
                        out.push(Match {
                            start: first.start,
                            end: last.end,
                            expansion: exp,
                        });
                    }
                    i += n;
                }
                None => i += 1,
            }
        }
        out
    }

    /// `text` with each term it contains replaced by its English expansion,
    /// the original terms kept at the end in parentheses: MiniLM reads
    /// "saturn in 7th house affects marriage (Shani, bhava)" far closer to
    /// "Saturn in the seventh house" (cosine 0.69) than the original (0.09)
    /// or the terms glossed in place (0.46).
    pub fn expand(&self, text: &str) -> String {
        self.rewrite(text, true)
    }

    /// `text` with each term replaced by its English expansion (entries:
    /// their terms are indexed for full-text search anyway, and every token
    /// embedded costs time).
    pub fn replace(&self, text: &str) -> String {
        self.rewrite(text, false)
    }

    fn rewrite(&self, text: &str, keep_originals: bool) -> String {
        let matches = self.matches(text);
        if matches.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len() + matches.len() * 16);
        let mut originals: Vec<&str> = Vec::new();
        let mut at = 0;
        for m in &matches {
            out.push_str(&text[at..m.start]);
            out.push_str(m.expansion);
            let original = &text[m.start..m.end];
            if !originals.iter().any(|o| o.eq_ignore_ascii_case(original)) {
                originals.push(original);
            }
            at = m.end;
        }
        out.push_str(&text[at..]);
        if keep_originals {
            out.push_str(" (");
            out.push_str(&originals.join(", "));
            out.push(')');
        }
        out
    }

    /// Only the expansions of the terms in `text`, space-separated (what
    /// full-text search indexes beside the text).
    pub fn expansions(&self, text: &str) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for m in self.matches(text) {
            if !seen.contains(&m.expansion) {
                seen.push(m.expansion);
            }
        }
        seen.join(" ")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn g() -> Glossary {
        Glossary::parse(
            "# comment\nshani\tsaturn\nbhava\thouse\nsade sati\tseven and a half year saturn transit\nsani peyarchi\tsaturn transit\nrahu\trahu north node\nsani\tsaturn\n",
        )
        .unwrap()
    }

    #[test]
    fn expands_terms_in_place_longest_first() {
        let g = g();
        assert_eq!(
            g.expand("Shani in 7th bhava affects marriage"),
            "saturn in 7th house affects marriage (Shani, bhava)"
        );
        assert_eq!(
            g.expand("Sade Sati and Sani peyarchi?"),
            "seven and a half year saturn transit and saturn transit? (Sade Sati, Sani peyarchi)"
        );
        assert_eq!(g.expand("Rahu"), "rahu north node (Rahu)");
        assert_eq!(g.replace("Shani in 7th bhava"), "saturn in 7th house");
        // Whole words only.
        assert_eq!(g.expand("shanivar bhavana"), "shanivar bhavana");
        assert_eq!(g.expansions("shani, bhava, shani"), "saturn house");
    }

    #[test]
    fn errors_name_the_line() {
        assert!(Glossary::parse("a\tb\nbroken line\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(Glossary::parse("a\tb\nA\tc\n")
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn the_shipped_glossary_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/glossary.tsv");
        let g = Glossary::load(path).unwrap();
        assert!(g.len() > 500);
        assert!(g.expand("Shani in 7th bhava").contains("saturn"));
    }
}
