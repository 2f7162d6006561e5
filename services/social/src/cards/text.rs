//! Text on cards: script runs, measuring with usvg's own shaping, and
//! fitting a text into a box (wrap, shrink, then truncate with an ellipsis).
//!
//! Each word is split into runs of one script ([`runs`]), and every run is
//! drawn as its own SVG text chunk (a `<tspan>` with an absolute `x`) in
//! its script's font. usvg shapes a chunk that mixes fonts by shaping the
//! whole chunk with each font and merging glyphs, which garbles Indic
//! clusters (a Tamil word after a Devanagari one came out as `.notdef`);
//! one font per chunk avoids that, and so positions are ours to compute.
//!
//! SVG has no line wrapping either, so every run is measured first: all
//! the runs of a card go into one throw-away SVG of `<text>` elements at
//! [`REF_SIZE`], which usvg shapes with the shipped fonts exactly as it
//! will shape the card; the width of each element is that run's advance.
//! Advances scale linearly with the font size (usvg does not hint), so one
//! measurement serves every size tried. Characters no shipped font has
//! (emoji, other scripts) come back as `.notdef` glyphs there; they are
//! removed from the card's text rather than drawn as boxes.

use std::collections::{BTreeSet, HashMap, HashSet};

use resvg::usvg::{self, Node};

use super::{fonts, xml, CardError};

/// Font size, in px, that words are measured at.
pub(crate) const REF_SIZE: f32 = 100.0;

/// The ellipsis appended to truncated text.
const ELLIPSIS: &str = "\u{2026}";

/// Writing systems the shipped fonts cover, as far as layout cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Script {
    Tamil,
    Devanagari,
    /// Spaces, digits and the punctuation that all three fonts have: it
    /// joins the run it stands in.
    Common,
    /// Everything else (Latin, Greek, Cyrillic in Noto Sans; anything
    /// unsupported ends up here too).
    Other,
}

impl Script {
    pub(crate) fn of(c: char) -> Script {
        match c {
            '\u{0B80}'..='\u{0BFF}' | '\u{11FC0}'..='\u{11FFF}' => Script::Tamil,
            '\u{0900}'..='\u{097F}' | '\u{A8E0}'..='\u{A8FF}' | '\u{1CD0}'..='\u{1CFF}' => {
                Script::Devanagari
            }
            // The code points that Noto Sans, Noto Sans Tamil and Noto Sans
            // Devanagari all map (checked against their cmaps).
            ' '
            | '!'..='#'
            | '%'
            | '\''..='?'
            | '['..='_'
            | '{'..='~'
            | '\u{A0}'
            | '\u{AD}'
            | '\u{D7}'
            | '\u{F7}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2010}'
            | '\u{2013}'
            | '\u{2014}'
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201C}'
            | '\u{201D}'
            | '\u{2026}'
            | '\u{20B9}'
            | '\u{2212}' => Script::Common,
            _ => Script::Other,
        }
    }

    fn is_indic(self) -> bool {
        matches!(self, Script::Tamil | Script::Devanagari)
    }
}

/// Splits `s` into runs of one script each (never [`Script::Common`]):
/// common characters join the run before them, or the first run when they
/// lead. Generic combining marks (U+0300…) are [`Script::Other`]: the
/// Indic fonts lack them, and usvg's fallback inside a Tamil or Devanagari
/// cluster yields `.notdef`, so after an Indic letter they start a run of
/// their own.
pub(crate) fn runs(s: &str) -> Vec<(Script, &str)> {
    let class = Script::of;
    let mut current = s
        .chars()
        .map(class)
        .find(|sc| *sc != Script::Common)
        .unwrap_or(Script::Other);
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let sc = match class(c) {
            Script::Common => current,
            sc => sc,
        };
        if sc != current {
            if start < i {
                out.push((current, &s[start..i]));
            }
            start = i;
            current = sc;
        }
    }
    if start < s.len() {
        out.push((current, &s[start..]));
    }
    out
}

/// The script a segment (one run, see [`runs`]) is set in.
pub(crate) fn script_of(segment: &str) -> Script {
    runs(segment)
        .first()
        .map(|(sc, _)| *sc)
        .unwrap_or(Script::Other)
}

/// Whether `c` attaches to the character before it (combining marks,
/// Indic vowel signs and viramas, joiners, variation selectors).
fn is_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{200C}'
        | '\u{200D}'
        | '\u{0900}'..='\u{0903}'
        | '\u{093A}'..='\u{093C}'
        | '\u{093E}'..='\u{094F}'
        | '\u{0951}'..='\u{0957}'
        | '\u{0962}'..='\u{0963}'
        | '\u{0B82}'
        | '\u{0BBE}'..='\u{0BCD}'
        | '\u{0BD7}'
        | '\u{1CD0}'..='\u{1CF9}'
        | '\u{A8E0}'..='\u{A8F1}')
}

/// Splits a word where a line may break inside it: never before a mark nor
/// after a virama or ZWJ, so conjuncts and vowel signs stay with their
/// consonant.
pub(crate) fn clusters(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    for (i, c) in word.char_indices() {
        let joins = is_mark(c) || matches!(prev, Some('\u{094D}' | '\u{0BCD}' | '\u{200D}'));
        if i > start && !joins {
            out.push(&word[start..i]);
            start = i;
        }
        prev = Some(c);
    }
    if start < word.len() {
        out.push(&word[start..]);
    }
    out
}

/// Line height as a multiple of the font size: Indic scripts need more
/// room for vowel signs above and below.
fn line_factor(text: &str) -> f32 {
    if text.chars().any(|c| Script::of(c).is_indic()) {
        1.5
    } else {
        1.28
    }
}

/// A text to fit into a box.
#[derive(Clone, Debug)]
pub(crate) struct Block {
    /// Cleaned text ([`xml::clean`]); `\n` separates paragraphs.
    pub text: String,
    pub weight: u16,
    /// Width of every line, px.
    pub width: f32,
    /// Height available for all lines, px.
    pub height: f32,
    pub max_size: f32,
    pub min_size: f32,
    pub max_lines: usize,
}

/// A piece of one script, drawn as its own SVG text chunk.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Placed {
    /// Offset from the line's start, px.
    pub x: f32,
    pub text: String,
}

/// A line laid out: its pieces and its width, px.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LaidLine {
    pub pieces: Vec<Placed>,
    pub width: f32,
}

impl LaidLine {
    /// The line's text.
    #[cfg(test)]
    pub fn text(&self) -> String {
        self.pieces.iter().map(|p| p.text.as_str()).collect()
    }
}

/// A block laid out: its font size and lines.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fitted {
    pub size: f32,
    pub lines: Vec<LaidLine>,
    /// Distance between baselines, px.
    pub line_height: f32,
}

impl Fitted {
    /// Height the lines take, px.
    pub fn height(&self) -> f32 {
        self.lines.len() as f32 * self.line_height
    }

    /// Baseline of the first line when the block's top is at `top`: the
    /// line box centred on the font's visual middle.
    pub fn first_baseline(&self, top: f32) -> f32 {
        top + 0.5 * self.line_height + 0.36 * self.size
    }
}

/// Writes one piece as a `<tspan>` chunk: absolute position, the family
/// list of its script, escaped text.
pub(crate) fn push_piece(out: &mut String, x: f32, y: f32, text: &str) {
    out.push_str(&format!(
        r#"<tspan x="{x:.1}" y="{y:.1}" font-family="{}">"#,
        fonts::family_list(script_of(text))
    ));
    xml::push_escaped(out, text);
    out.push_str("</tspan>");
}

/// Advances at [`REF_SIZE`], per weight, of single-script segments.
#[derive(Default)]
struct Widths {
    map: HashMap<(u16, String), f32>,
    /// Strings that came out with at least one `.notdef` glyph.
    tofu: HashSet<String>,
}

impl Widths {
    fn get(&self, weight: u16, s: &str) -> f32 {
        self.map
            .get(&(weight, s.to_owned()))
            .copied()
            // Not measured (cannot happen for segments of the blocks): a
            // wide estimate, so the text errs on the small side.
            .unwrap_or(0.7 * REF_SIZE * s.chars().count() as f32)
    }

    fn space(&self, weight: u16) -> f32 {
        self.get(weight, "n n") - 2.0 * self.get(weight, "n")
    }

    /// Measures the strings not measured yet, each as its own `<text>` in
    /// the font of its script, and notes those with `.notdef` glyphs.
    fn measure<'a>(
        &mut self,
        items: impl IntoIterator<Item = (u16, &'a str)>,
    ) -> Result<(), CardError> {
        let mut todo: Vec<(u16, String)> = Vec::new();
        let mut seen = HashSet::new();
        for (weight, s) in items {
            let key = (weight, s.to_owned());
            if !self.map.contains_key(&key) && seen.insert(key.clone()) {
                todo.push(key);
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        let mut svg = String::with_capacity(200 + todo.len() * 160);
        svg.push_str(r#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">"#);
        for (i, (weight, s)) in todo.iter().enumerate() {
            svg.push_str(&format!(
                r#"<text id="m{i}" font-size="{REF_SIZE}" font-weight="{weight}" xml:space="preserve">"#
            ));
            push_piece(&mut svg, 0.0, REF_SIZE, s);
            svg.push_str("</text>");
        }
        svg.push_str("</svg>");
        let tree = usvg::Tree::from_str(&svg, &fonts::usvg_options())?;
        for_each_text(tree.root(), &mut |text| {
            let Some(i) = text
                .id()
                .strip_prefix('m')
                .and_then(|n| n.parse::<usize>().ok())
            else {
                return;
            };
            let Some(key) = todo.get(i) else {
                return;
            };
            self.map
                .insert(key.clone(), text.bounding_box().width().max(0.0));
            let tofu = text
                .layouted()
                .iter()
                .any(|span| span.positioned_glyphs.iter().any(|g| g.id.0 == 0));
            if tofu {
                self.tofu.insert(key.1.clone());
            }
        });
        Ok(())
    }

    /// The characters of `segments` that no shipped font draws: those of
    /// segments with `.notdef` glyphs that also come out as `.notdef` on
    /// their own. (A glyph's text is its whole cluster, and only one glyph
    /// of a cluster carries it, so the glyphs cannot name the culprit.)
    fn missing_chars<'a>(
        &mut self,
        segments: impl IntoIterator<Item = &'a str>,
    ) -> Result<BTreeSet<char>, CardError> {
        let suspects: BTreeSet<char> = segments
            .into_iter()
            .filter(|s| self.tofu.contains(*s))
            .flat_map(str::chars)
            .filter(|c| !c.is_whitespace())
            .collect();
        if suspects.is_empty() {
            return Ok(suspects);
        }
        let singles: Vec<String> = suspects.iter().map(char::to_string).collect();
        self.measure(singles.iter().map(|s| (400, s.as_str())))?;
        Ok(suspects
            .into_iter()
            .filter(|c| self.tofu.contains(&c.to_string()))
            .collect())
    }

    /// A word as measured segments.
    fn token(&self, weight: u16, word: &str) -> Token {
        let segs: Vec<Seg> = runs(word)
            .into_iter()
            .map(|(_, s)| Seg {
                text: s.to_owned(),
                width: self.get(weight, s),
            })
            .collect();
        Token {
            width: segs.iter().map(|s| s.width).sum(),
            segs,
        }
    }
}

/// Calls `f` for every text node under `group`.
pub(crate) fn for_each_text(group: &usvg::Group, f: &mut dyn FnMut(&usvg::Text)) {
    for node in group.children() {
        match node {
            Node::Group(g) => for_each_text(g, f),
            Node::Text(t) => f(t),
            Node::Path(_) | Node::Image(_) => {}
        }
    }
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
}

fn segments(text: &str) -> impl Iterator<Item = &str> {
    words(text).flat_map(|w| runs(w).into_iter().map(|(_, s)| s))
}

/// Fits every block: measures their segments (one usvg parse, a second
/// only when a character has to be dropped or a word is wider than its
/// line), then wraps, shrinks and truncates each. Characters no shipped
/// font has are removed from the blocks' text.
pub(crate) fn fit_all(blocks: &mut [Block]) -> Result<Vec<Fitted>, CardError> {
    let mut widths = Widths::default();
    let fixed = [ELLIPSIS, "n", "n n"];
    let items = |blocks: &[Block]| -> Vec<(u16, String)> {
        blocks
            .iter()
            .flat_map(|b| {
                segments(&b.text)
                    .chain(fixed)
                    .map(move |s| (b.weight, s.to_owned()))
            })
            .collect()
    };
    for _ in 0..3 {
        let all = items(blocks);
        widths.measure(all.iter().map(|(w, s)| (*w, s.as_str())))?;
        let missing = widths.missing_chars(all.iter().map(|(_, s)| s.as_str()))?;
        if missing.is_empty() {
            break;
        }
        tracing::debug!(
            ?missing,
            "card text: dropping characters no shipped font has"
        );
        for b in blocks.iter_mut() {
            b.text.retain(|c| !missing.contains(&c));
        }
    }
    // Whatever the last round changed is measured too.
    let all = items(blocks);
    widths.measure(all.iter().map(|(w, s)| (*w, s.as_str())))?;
    // Words wider than their line at the largest size are broken between
    // clusters: measure those.
    let mut long = Vec::new();
    for b in blocks.iter() {
        let scale = b.max_size / REF_SIZE;
        for w in words(&b.text) {
            if widths.token(b.weight, w).width * scale > b.width {
                for (_, seg) in runs(w) {
                    long.extend(clusters(seg).into_iter().map(|c| (b.weight, c)));
                }
            }
        }
    }
    widths.measure(long)?;
    let fits: Vec<(f32, Vec<Line>)> = blocks.iter().map(|b| fit(b, &widths)).collect();
    // Pieces made by breaking or shortening a word were sized from their
    // clusters; shaped whole they can be narrower (Tamil by a cluster's
    // width in a line). Measure them as they will be drawn, for placing.
    let made: Vec<(u16, &str)> = blocks
        .iter()
        .zip(&fits)
        .flat_map(|(b, (_, lines))| {
            lines
                .iter()
                .flat_map(|l| &l.tokens)
                .flat_map(|t| &t.segs)
                .map(move |s| (b.weight, s.text.as_str()))
        })
        .collect();
    widths.measure(made)?;
    Ok(blocks
        .iter()
        .zip(&fits)
        .map(|(b, (size, lines))| Fitted {
            size: *size,
            lines: lines
                .iter()
                .map(|l| l.lay(&widths, b.weight, *size))
                .collect(),
            line_height: line_factor(&b.text) * size,
        })
        .collect())
}

/// A segment and its advance at [`REF_SIZE`].
#[derive(Clone, Debug, Default)]
struct Seg {
    text: String,
    width: f32,
}

/// A word, or a piece of a broken one.
#[derive(Clone, Debug, Default)]
struct Token {
    segs: Vec<Seg>,
    width: f32,
}

#[derive(Clone, Debug, Default)]
struct Line {
    tokens: Vec<Token>,
    width: f32,
}

impl Line {
    fn single(t: Token) -> Line {
        Line {
            width: t.width,
            tokens: vec![t],
        }
    }

    fn push(&mut self, t: Token, space: f32) {
        if !self.tokens.is_empty() {
            self.width += space;
        }
        self.width += t.width;
        self.tokens.push(t);
    }

    /// Pieces at px offsets for font size `size`, each advanced by its
    /// measured width. Words are separated by the space's advance; the
    /// space itself is kept at the end of the piece before it, so the
    /// chunks' text reads as the line.
    fn lay(&self, widths: &Widths, weight: u16, size: f32) -> LaidLine {
        let scale = size / REF_SIZE;
        let space = widths.space(weight);
        let mut pieces: Vec<Placed> = Vec::new();
        let mut x = 0.0;
        for (i, t) in self.tokens.iter().enumerate() {
            if i > 0 {
                if let Some(last) = pieces.last_mut() {
                    last.text.push(' ');
                }
                x += space;
            }
            for s in &t.segs {
                pieces.push(Placed {
                    x: x * scale,
                    text: s.text.clone(),
                });
                x += widths
                    .map
                    .get(&(weight, s.text.clone()))
                    .copied()
                    .unwrap_or(s.width);
            }
        }
        LaidLine {
            pieces,
            width: x * scale,
        }
    }
}

/// Breaks a word wider than `line_w` into pieces between clusters; the
/// clusters of one run stay one segment within a piece.
fn break_word(word: &str, weight: u16, widths: &Widths, line_w: f32) -> Vec<Token> {
    let mut out = Vec::new();
    let mut cur = Token::default();
    for (_, seg) in runs(word) {
        let mut open = false;
        for c in clusters(seg) {
            let cw = widths.get(weight, c);
            if !cur.segs.is_empty() && cur.width + cw > line_w {
                out.push(std::mem::take(&mut cur));
                open = false;
            }
            match cur.segs.last_mut() {
                Some(last) if open => {
                    last.text.push_str(c);
                    last.width += cw;
                }
                _ => cur.segs.push(Seg {
                    text: c.to_owned(),
                    width: cw,
                }),
            }
            open = true;
            cur.width += cw;
        }
    }
    if !cur.segs.is_empty() {
        out.push(cur);
    }
    out
}

/// Greedy wrap at `line_w` (REF_SIZE units).
fn wrap(b: &Block, widths: &Widths, line_w: f32) -> Vec<Line> {
    let space = widths.space(b.weight);
    let mut lines = Vec::new();
    for paragraph in b.text.split('\n') {
        let mut cur = Line::default();
        for word in words(paragraph) {
            let t = widths.token(b.weight, word);
            if t.width <= line_w {
                if cur.tokens.is_empty() || cur.width + space + t.width <= line_w {
                    cur.push(t, space);
                } else {
                    lines.push(std::mem::replace(&mut cur, Line::single(t)));
                }
                continue;
            }
            if !cur.tokens.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            let mut pieces = break_word(word, b.weight, widths, line_w);
            let last = pieces.pop();
            lines.extend(pieces.into_iter().map(Line::single));
            cur = last.map(Line::single).unwrap_or_default();
        }
        if !cur.tokens.is_empty() {
            lines.push(cur);
        }
    }
    lines
}

/// Shortens `line` so that it and an ellipsis fit in `line_w`, then
/// appends the ellipsis.
fn ellipsize(line: &mut Line, widths: &Widths, weight: u16, line_w: f32) {
    let ell = widths.get(weight, ELLIPSIS);
    let space = widths.space(weight);
    while line.width + ell > line_w && line.tokens.len() > 1 {
        if let Some(t) = line.tokens.pop() {
            line.width -= t.width + space;
        }
    }
    let Some(tok) = line.tokens.last_mut() else {
        return;
    };
    if line.width + ell > line_w {
        // One token too long: keep the clusters that fit. Clusters of a
        // broken word were measured; others are estimated as an equal
        // share of their segment.
        let budget = line_w - ell;
        let mut used = 0.0;
        let mut segs = Vec::new();
        'segs: for s in &tok.segs {
            let cl = clusters(&s.text);
            let share = s.width / cl.len().max(1) as f32;
            let mut kept = Seg::default();
            for c in cl {
                let cw = widths
                    .map
                    .get(&(weight, c.to_owned()))
                    .copied()
                    .unwrap_or(share);
                if used + cw > budget {
                    if !kept.text.is_empty() {
                        segs.push(kept);
                    }
                    break 'segs;
                }
                used += cw;
                kept.text.push_str(c);
                kept.width += cw;
            }
            segs.push(kept);
        }
        line.width += used - tok.width;
        *tok = Token { segs, width: used };
    }
    if let Some(last) = tok.segs.last_mut() {
        let before = last.text.chars().count();
        let trimmed = last
            .text
            .trim_end_matches([',', ';', ':', '.', '-', '\u{2013}', '\u{2014}'])
            .len();
        last.text.truncate(trimmed);
        let cut = before - last.text.chars().count();
        // Those punctuation marks are about a third of an em wide.
        let dw = (cut as f32 * 0.3 * REF_SIZE).min(last.width);
        last.width -= dw;
        tok.width -= dw;
        line.width -= dw;
    }
    tok.segs.push(Seg {
        text: ELLIPSIS.to_owned(),
        width: ell,
    });
    tok.width += ell;
    line.width += ell;
}

/// Wraps `b` at the largest size from `max_size` down to `min_size` at
/// which all its lines fit; at the smallest size, keeps the lines that fit
/// and ends the last with an ellipsis. Returns the size and the lines.
fn fit(b: &Block, widths: &Widths) -> (f32, Vec<Line>) {
    let factor = line_factor(&b.text);
    let max_size = b.max_size.max(1.0);
    let min_size = b.min_size.clamp(1.0, max_size);
    let mut size = max_size;
    loop {
        let line_w = b.width.max(1.0) * REF_SIZE / size;
        let fit_lines =
            ((b.height / (factor * size)).floor() as usize).clamp(1, b.max_lines.max(1));
        let mut lines = wrap(b, widths, line_w);
        if lines.len() <= fit_lines || size <= min_size {
            if lines.len() > fit_lines {
                lines.truncate(fit_lines);
                if let Some(last) = lines.last_mut() {
                    ellipsize(last, widths, b.weight, line_w);
                }
            }
            return (size, lines);
        }
        size = (size * 0.93).max(min_size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_by_script_and_keep_common_characters() {
        use Script::*;
        assert_eq!(
            runs("Ekadashi ஏகாதசி, एकादशी!"),
            vec![
                (Other, "Ekadashi "),
                (Tamil, "ஏகாதசி, "),
                (Devanagari, "एकादशी!")
            ]
        );
        assert_eq!(runs("12:30 ராகு"), vec![(Tamil, "12:30 ராகு")]);
        assert_eq!(runs("07:30–09:00"), vec![(Other, "07:30–09:00")]);
        assert!(runs("").is_empty());
        // A generic combining mark is not set in an Indic font.
        assert_eq!(runs("க\u{301}x"), vec![(Tamil, "க"), (Other, "\u{301}x")]);
    }

    #[test]
    fn clusters_keep_vowel_signs_and_conjuncts() {
        assert_eq!(clusters("abc"), vec!["a", "b", "c"]);
        // ஏ கா த சி
        assert_eq!(clusters("ஏகாதசி"), vec!["ஏ", "கா", "த", "சி"]);
        // ए का द शी
        assert_eq!(clusters("एकादशी"), vec!["ए", "का", "द", "शी"]);
        // न क्ष त्र: the viramas keep the conjuncts whole.
        assert_eq!(clusters("नक्षत्र"), vec!["न", "क्ष", "त्र"]);
        assert_eq!(clusters("\u{301}x"), vec!["\u{301}", "x"]);
    }

    fn block(text: &str, width: f32, height: f32, max_lines: usize) -> Block {
        Block {
            text: text.to_owned(),
            weight: 400,
            width,
            height,
            max_size: 40.0,
            min_size: 20.0,
            max_lines,
        }
    }

    fn texts(f: &Fitted) -> Vec<String> {
        f.lines.iter().map(LaidLine::text).collect()
    }

    #[test]
    fn measured_widths_are_plausible_and_linear_in_length() {
        let mut w = Widths::default();
        w.measure([(400, "nnnn"), (400, "nn"), (700, "nn"), (400, "ஏகாதசி")])
            .unwrap();
        assert!(w.tofu.is_empty(), "{:?}", w.tofu);
        let (n2, n4) = (w.get(400, "nn"), w.get(400, "nnnn"));
        // Noto Sans 'n' advances about 0.61 em.
        assert!((100.0..140.0).contains(&n2), "{n2}");
        assert!((n4 - 2.0 * n2).abs() < 0.5, "{n2} {n4}");
        assert!(w.get(700, "nn") > n2);
        assert!(w.get(400, "ஏகாதசி") > 100.0);
    }

    #[test]
    fn unsupported_characters_are_reported_missing() {
        let mut w = Widths::default();
        let segs = ["a😀b", "中\u{301}<", "ok"];
        w.measure(segs.map(|s| (400, s))).unwrap();
        let missing = w.missing_chars(segs).unwrap();
        assert_eq!(missing, BTreeSet::from(['😀', '中']));
    }

    #[test]
    fn short_text_keeps_the_largest_size() {
        let mut blocks = [block("Om", 400.0, 100.0, 2)];
        let f = fit_all(&mut blocks).unwrap();
        assert_eq!(f[0].size, 40.0);
        assert_eq!(texts(&f[0]), ["Om"]);
    }

    #[test]
    fn mixed_scripts_become_pieces_placed_side_by_side() {
        let mut blocks = [block("Ekadashi ஏகாதசி,एकादशी", 2000.0, 100.0, 1)];
        let f = fit_all(&mut blocks).unwrap();
        let line = &f[0].lines[0];
        let pieces: Vec<&str> = line.pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(pieces, ["Ekadashi ", "ஏகாதசி,", "एकादशी"]);
        assert_eq!(line.pieces[0].x, 0.0);
        assert!(line.pieces[1].x > 100.0 && line.pieces[2].x > line.pieces[1].x + 60.0);
        assert!(line.width > line.pieces[2].x + 60.0);
    }

    #[test]
    fn long_text_wraps_then_shrinks_then_truncates() {
        let sentence = "the quick brown fox jumps over the lazy dog ";
        let mut blocks = [
            block(&sentence.repeat(2), 400.0, 400.0, 10),
            block(&sentence.repeat(40), 400.0, 130.0, 10),
        ];
        let f = fit_all(&mut blocks).unwrap();
        assert!(f[0].lines.len() > 1 && f[0].size == 40.0, "{:?}", f[0]);
        assert_eq!(f[1].size, 20.0);
        let lines = texts(&f[1]);
        assert!(lines.last().unwrap().ends_with('…'), "{lines:?}");
        assert!(f[1].height() <= 130.0 + 1e-3);
        // Every line, ellipsis included, is within the width, measured
        // afresh as one string.
        let mut w = Widths::default();
        w.measure(lines.iter().map(|l| (400, l.trim_end())))
            .unwrap();
        for (l, laid) in lines.iter().zip(&f[1].lines) {
            let real = w.get(400, l.trim_end()) * 20.0 / REF_SIZE;
            assert!(real <= 400.5, "{l}: {real}");
            assert!(
                (real - laid.width).abs() < 3.0,
                "{l}: {real} vs {}",
                laid.width
            );
        }
    }

    #[test]
    fn a_word_wider_than_the_line_is_broken_between_clusters() {
        let mut blocks = [block(&"ஏகாதசி".repeat(30), 300.0, 1000.0, 20)];
        let f = fit_all(&mut blocks).unwrap();
        assert!(f[0].lines.len() > 2, "{:?}", f[0]);
        assert_eq!(texts(&f[0]).concat(), "ஏகாதசி".repeat(30));
        for l in &f[0].lines {
            assert!(l.width <= 300.5, "{l:?}");
        }
    }

    #[test]
    fn empty_and_unsupported_only_text_fit_to_nothing() {
        let mut blocks = [block("", 300.0, 100.0, 2), block(" 😀 ", 300.0, 100.0, 2)];
        let f = fit_all(&mut blocks).unwrap();
        assert!(f[0].lines.is_empty() && f[1].lines.is_empty());
        assert_eq!(blocks[1].text.trim(), "");
    }
}
