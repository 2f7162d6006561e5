//! The knowledge corpus on disk: `knowledge/<domain>/<id>.md`, TOML front
//! matter between `+++` lines, then Markdown (see `knowledge/README.md`).
//! Parsing validates every key; errors name the file and the key, and a
//! corpus with any error is refused as a whole. Also the rules an entry
//! obeys whichever way it arrives (file or admin API), chunking by heading
//! and content hashes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DOMAINS: &[&str] = &[
    "graha",
    "rashi",
    "bhava",
    "graha_in_house",
    "graha_in_sign",
    "nakshatra",
    "dasha",
    "yoga",
    "remedy",
    "practice",
    "observance",
    "life_area",
    "ethics",
];
pub const LANGUAGES: &[&str] = &["en", "ta", "hi"];
pub const GRAHAS: &[&str] = &[
    "sun", "moon", "mars", "mercury", "jupiter", "venus", "saturn", "rahu", "ketu",
];
/// Corpus sign codes, Mesha … Meena, with their English names.
pub const SIGNS: &[(&str, &str)] = &[
    ("mesha", "aries"),
    ("vrishabha", "taurus"),
    ("mithuna", "gemini"),
    ("karka", "cancer"),
    ("simha", "leo"),
    ("kanya", "virgo"),
    ("tula", "libra"),
    ("vrischika", "scorpio"),
    ("dhanu", "sagittarius"),
    ("makara", "capricorn"),
    ("kumbha", "aquarius"),
    ("meena", "pisces"),
];
/// The engine's nakshatra names.
pub const NAKSHATRAS: &[&str] = &[
    "ashwini",
    "bharani",
    "krittika",
    "rohini",
    "mrigashira",
    "ardra",
    "punarvasu",
    "pushya",
    "ashlesha",
    "magha",
    "purva_phalguni",
    "uttara_phalguni",
    "hasta",
    "chitra",
    "swati",
    "vishakha",
    "anuradha",
    "jyeshtha",
    "mula",
    "purva_ashadha",
    "uttara_ashadha",
    "shravana",
    "dhanishta",
    "shatabhisha",
    "purva_bhadrapada",
    "uttara_bhadrapada",
    "revati",
];
/// The engine's yoga codes.
pub const YOGAS: &[&str] = &[
    "gaja_kesari",
    "budhaditya",
    "ruchaka",
    "bhadra",
    "hamsa",
    "malavya",
    "sasa",
    "kemadruma",
    "chandra_mangala",
    "kuja_dosha",
];

pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 20_000;
pub const MAX_TAG: usize = 60;
pub const MAX_SOURCE: usize = 300;

/// One knowledge entry, as written in a file's front matter and body (or
/// sent by an admin).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryContent {
    pub id: String,
    pub domain: String,
    pub title: String,
    pub tags: Vec<String>,
    pub language: String,
    pub sources: Vec<String>,
    pub graha: Option<String>,
    pub house: Option<i32>,
    pub sign: Option<String>,
    pub nakshatra: Option<String>,
    pub yoga: Option<String>,
    pub body: String,
}

/// The front matter keys, exactly (unknown keys are an error).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: String,
    domain: String,
    title: String,
    tags: Vec<String>,
    language: String,
    sources: Vec<String>,
    graha: Option<String>,
    house: Option<i64>,
    sign: Option<String>,
    nakshatra: Option<String>,
    yoga: Option<String>,
}

/// A problem with one key of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

fn problem(key: &str, message: impl Into<String>) -> Problem {
    Problem {
        key: key.to_owned(),
        message: message.into(),
    }
}

pub fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 120
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn has_control(s: &str, allow_newlines: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t')))
}

impl EntryContent {
    /// Every rule an entry obeys; the first problem found.
    pub fn validate(&self) -> Result<(), Problem> {
        if !valid_id(&self.id) {
            return Err(problem(
                "id",
                "must be 1-120 characters of a-z, 0-9 and '-', starting with a letter or digit",
            ));
        }
        if !DOMAINS.contains(&self.domain.as_str()) {
            return Err(problem(
                "domain",
                format!("{:?} is not one of {}", self.domain, DOMAINS.join(", ")),
            ));
        }
        let title = self.title.trim();
        if title.is_empty() || self.title.chars().count() > MAX_TITLE {
            return Err(problem(
                "title",
                format!("must be 1-{MAX_TITLE} characters"),
            ));
        }
        if has_control(&self.title, false) {
            return Err(problem("title", "must not contain control characters"));
        }
        if !(3..=10).contains(&self.tags.len()) {
            return Err(problem("tags", "give 3 to 10 tags"));
        }
        for t in &self.tags {
            if t.trim().is_empty() || t.chars().count() > MAX_TAG || has_control(t, false) {
                return Err(problem(
                    "tags",
                    format!("{t:?}: a tag is 1-{MAX_TAG} characters without control characters"),
                ));
            }
            if t.to_lowercase() != *t {
                return Err(problem("tags", format!("{t:?} must be lowercase")));
            }
        }
        if !LANGUAGES.contains(&self.language.as_str()) {
            return Err(problem("language", "must be en, ta or hi"));
        }
        for s in &self.sources {
            if s.trim().is_empty() || s.chars().count() > MAX_SOURCE || has_control(s, false) {
                return Err(problem(
                    "sources",
                    format!("each source is 1-{MAX_SOURCE} characters without control characters"),
                ));
            }
        }
        if let Some(g) = &self.graha {
            if !GRAHAS.contains(&g.as_str()) {
                return Err(problem(
                    "graha",
                    format!("{g:?} is not one of {}", GRAHAS.join(" ")),
                ));
            }
        }
        if let Some(h) = self.house {
            if !(1..=12).contains(&h) {
                return Err(problem("house", "must be 1 to 12"));
            }
        }
        if let Some(s) = &self.sign {
            if !SIGNS.iter().any(|(code, _)| code == s) {
                let codes: Vec<&str> = SIGNS.iter().map(|(c, _)| *c).collect();
                return Err(problem(
                    "sign",
                    format!("{s:?} is not one of {}", codes.join(" ")),
                ));
            }
        }
        if let Some(n) = &self.nakshatra {
            if !NAKSHATRAS.contains(&n.as_str()) {
                return Err(problem(
                    "nakshatra",
                    format!("{n:?} is not a nakshatra name as the engine writes it (e.g. purva_phalguni)"),
                ));
            }
        }
        if let Some(y) = &self.yoga {
            if !YOGAS.contains(&y.as_str()) {
                return Err(problem(
                    "yoga",
                    format!("{y:?} is not one of {}", YOGAS.join(" ")),
                ));
            }
        }
        match self.domain.as_str() {
            "graha_in_house" if self.graha.is_none() || self.house.is_none() => {
                return Err(problem(
                    "house",
                    "a graha_in_house entry names its graha and house",
                ))
            }
            "graha_in_sign" if self.graha.is_none() || self.sign.is_none() => {
                return Err(problem(
                    "sign",
                    "a graha_in_sign entry names its graha and sign",
                ))
            }
            _ => {}
        }
        if self.body.trim().is_empty() {
            return Err(problem("body", "must not be empty"));
        }
        if self.body.chars().count() > MAX_BODY {
            return Err(problem(
                "body",
                format!("must be at most {MAX_BODY} characters"),
            ));
        }
        if has_control(&self.body, true) {
            return Err(problem("body", "must not contain control characters"));
        }
        Ok(())
    }

    /// SHA-256 over everything but the id: an unchanged entry changes nothing.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |name: &str, v: &str| {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
            h.update([0]);
        };
        field("domain", &self.domain);
        field("title", &self.title);
        field("tags", &self.tags.join("\u{1f}"));
        field("language", &self.language);
        field("sources", &self.sources.join("\u{1f}"));
        field("graha", self.graha.as_deref().unwrap_or(""));
        field(
            "house",
            &self.house.map(|h| h.to_string()).unwrap_or_default(),
        );
        field("sign", self.sign.as_deref().unwrap_or(""));
        field("nakshatra", self.nakshatra.as_deref().unwrap_or(""));
        field("yoga", self.yoga.as_deref().unwrap_or(""));
        field("body", &self.body);
        hex::encode(h.finalize())
    }

    /// The PostgreSQL text-search configuration for this entry's language.
    pub fn fts_config(&self) -> &'static str {
        fts_config(&self.language)
    }

    /// The entry split at its `#`/`##` headings: an introduction (what comes
    /// before the first heading) and one chunk per section.
    pub fn chunks(&self) -> Vec<Chunk> {
        let mut out = Vec::new();
        let mut heading: Option<String> = None;
        let mut text = String::new();
        let mut flush = |heading: &Option<String>, text: &mut String| {
            let t = text.trim();
            if !t.is_empty() || heading.is_some() {
                out.push(Chunk {
                    heading: heading.clone(),
                    text: t.to_owned(),
                });
            }
            text.clear();
        };
        for line in self.body.lines() {
            let trimmed = line.trim_start();
            let h = trimmed
                .strip_prefix("## ")
                .or_else(|| trimmed.strip_prefix("# "))
                .or_else(|| trimmed.strip_prefix("### "));
            match h {
                Some(h) => {
                    flush(&heading, &mut text);
                    heading = Some(h.trim().to_owned());
                }
                None => {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        flush(&heading, &mut text);
        // A heading with no text folds into the next chunk's heading line.
        let mut merged: Vec<Chunk> = Vec::new();
        let mut pending: Option<String> = None;
        for mut c in out {
            if let Some(p) = pending.take() {
                c.heading = Some(match c.heading {
                    Some(h) => format!("{p}: {h}"),
                    None => p,
                });
            }
            if c.text.is_empty() {
                pending = c.heading;
                continue;
            }
            merged.push(c);
        }
        if let (Some(p), Some(last)) = (pending, merged.last_mut()) {
            last.text.push_str("\n\n");
            last.text.push_str(&p);
        }
        merged
    }
}

/// `english` for English, `simple` (no stemming, no stop words) otherwise.
pub fn fts_config(language: &str) -> &'static str {
    if language == "en" {
        "english"
    } else {
        "simple"
    }
}

/// A section of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub heading: Option<String>,
    pub text: String,
}

/// An entry read from a file, with where it came from.
#[derive(Clone, Debug)]
pub struct FileEntry {
    pub path: PathBuf,
    pub entry: EntryContent,
}

/// Why a corpus was refused: every problem, each naming its file and key.
#[derive(Debug)]
pub struct CorpusError {
    pub problems: Vec<String>,
}

impl std::fmt::Display for CorpusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "the knowledge corpus has {} problem(s); nothing was written:",
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CorpusError {}

/// Parses one file's text; `path` is only used for the folder rule.
pub fn parse_entry(path: &Path, text: &str) -> Result<EntryContent, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("+++\n")
        .or_else(|| text.strip_prefix("+++\r\n"))
        .ok_or_else(|| problem("front matter", "the file must start with a +++ line"))?;
    // The closing `+++` line.
    let mut front_len = None;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            front_len = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let (front_end, body_start) =
        front_len.ok_or_else(|| problem("front matter", "no closing +++ line"))?;
    let front = &rest[..front_end];
    let body = rest[body_start..].trim().to_owned();
    let fm: FrontMatter = toml::from_str(front).map_err(|e| {
        let msg = e.message().trim().to_owned();
        // Name the key: serde says it for missing and unknown keys; for a
        // bad value, the key is on the line the error points at.
        let from_message = msg.split('`').nth(1).map(str::to_owned);
        let from_span = e.span().and_then(|span| {
            let line_start = front[..span.start.min(front.len())]
                .rfind('\n')
                .map(|i| i + 1)
                .unwrap_or(0);
            front[line_start..]
                .split_once('=')
                .map(|(k, _)| k.trim().to_owned())
                .filter(|k| !k.is_empty() && !k.contains('\n'))
        });
        let key = from_message
            .or(from_span)
            .unwrap_or_else(|| "front matter".to_owned());
        problem(&key, msg)
    })?;
    let house = match fm.house {
        None => None,
        Some(h) => Some(
            i32::try_from(h)
                .ok()
                .filter(|h| (1..=12).contains(h))
                .ok_or_else(|| problem("house", "must be 1 to 12"))?,
        ),
    };
    let entry = EntryContent {
        id: fm.id,
        domain: fm.domain,
        title: fm.title,
        tags: fm.tags,
        language: fm.language,
        sources: fm.sources,
        graha: fm.graha,
        house,
        sign: fm.sign,
        nakshatra: fm.nakshatra,
        yoga: fm.yoga,
        body,
    };
    entry.validate()?;
    if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
        if stem != entry.id {
            return Err(problem(
                "id",
                format!("{:?} differs from the file name {stem:?}", entry.id),
            ));
        }
    }
    if let Some(folder) = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|s| s.to_str())
    {
        if folder != entry.domain {
            return Err(problem(
                "domain",
                format!("{:?} differs from the folder {folder:?}", entry.domain),
            ));
        }
    }
    Ok(entry)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            collect(&p, out)?;
        } else if p.extension().and_then(|x| x.to_str()) == Some("md")
            && p.file_name().and_then(|x| x.to_str()) != Some("README.md")
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads and validates every `*.md` under `dir` (but READMEs). All
/// problems are collected; any problem refuses the whole corpus.
pub fn load_dir(dir: &Path) -> Result<Vec<FileEntry>, CorpusError> {
    let mut paths = Vec::new();
    if let Err(e) = collect(dir, &mut paths) {
        return Err(CorpusError {
            problems: vec![format!("{}: {e} (knowledge.dir)", dir.display())],
        });
    }
    paths.sort();
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in paths {
        let shown = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = match std::fs::read(&path) {
            Ok(b) => match String::from_utf8(b) {
                Ok(t) => t,
                Err(_) => {
                    problems.push(format!("{shown}: not UTF-8"));
                    continue;
                }
            },
            Err(e) => {
                problems.push(format!("{shown}: {e}"));
                continue;
            }
        };
        match parse_entry(&path, &text) {
            Ok(entry) => {
                if let Some(other) = seen.insert(entry.id.clone(), path.clone()) {
                    problems.push(format!(
                        "{shown}: key id: {:?} is also the id of {}",
                        entry.id,
                        other.strip_prefix(dir).unwrap_or(&other).display()
                    ));
                    continue;
                }
                entries.push(FileEntry { path, entry });
            }
            Err(p) => problems.push(format!("{shown}: key {}: {}", p.key, p.message)),
        }
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(CorpusError { problems })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GOOD: &str = "+++\nid = \"saturn-in-house-7\"\ndomain = \"graha_in_house\"\ntitle = \"Saturn in the seventh house\"\ntags = [\"saturn\", \"shani\", \"marriage\"]\nlanguage = \"en\"\nsources = []\ngraha = \"saturn\"\nhouse = 7\n+++\nIntro text.\n\n## Strengths\nLoyalty.\n\n## Challenges\nDelay.\n";

    fn p() -> PathBuf {
        PathBuf::from("knowledge/graha_in_house/saturn-in-house-7.md")
    }

    #[test]
    fn parses_and_chunks_by_heading() {
        let e = parse_entry(&p(), GOOD).unwrap();
        assert_eq!(e.house, Some(7));
        let c = e.chunks();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].heading, None);
        assert_eq!(c[0].text, "Intro text.");
        assert_eq!(c[1].heading.as_deref(), Some("Strengths"));
        assert_eq!(c[2].text, "Delay.");
        let mut changed = e.clone();
        changed.body.push('!');
        assert_ne!(e.content_hash(), changed.content_hash());
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (GOOD.replace("house = 7", "house = 13"), "house"),
            (
                GOOD.replace("graha = \"saturn\"", "graha = \"pluto\""),
                "graha",
            ),
            (
                GOOD.replace("language = \"en\"", "language = \"fr\""),
                "language",
            ),
            (
                GOOD.replace(
                    "tags = [\"saturn\", \"shani\", \"marriage\"]",
                    "tags = [\"x\"]",
                ),
                "tags",
            ),
            (
                GOOD.replace("title = \"Saturn in the seventh house\"\n", ""),
                "title",
            ),
            (
                GOOD.replace("sources = []", "sources = []\ncolour = \"blue\""),
                "colour",
            ),
            (
                GOOD.replace("id = \"saturn-in-house-7\"", "id = \"other\""),
                "id",
            ),
            (GOOD.replace("house = 7", "house = \"7\""), "house"),
        ];
        for (text, key) in cases {
            let e = parse_entry(&p(), &text).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e:?}");
        }
        assert_eq!(
            parse_entry(&p(), "no front matter").unwrap_err().key,
            "front matter"
        );
    }
}
