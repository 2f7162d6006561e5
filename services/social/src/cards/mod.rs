//! Image cards for social posts: typed card data → an SVG template → PNG.
//!
//! ```no_run
//! use social::cards::{self, Card, CardSize, TeachingCard};
//!
//! let card = Card::Teaching(TeachingCard {
//!     quote: "You have a right to your actions, never to their fruits.".into(),
//!     attribution: "Bhagavad Gita 2.47".into(),
//! });
//! let png: Vec<u8> = cards::render(&card, CardSize::INSTAGRAM_SQUARE)?;
//! # Ok::<(), cards::CardError>(())
//! ```
//!
//! * Kinds: [`PanchangCard`] (the day's tithi, nakshatra, yoga, karana,
//!   sunrise, sunset and Rahu Kalam for a place), [`ObservanceCard`] (a
//!   festival or vrata day), [`TeachingCard`] (a quotation).
//! * Sizes: [`CardSize`] presets per [`crate::networks::Network`] (one
//!   table, with the networks' documented recommendations), or
//!   [`CardSize::custom`]. Tall
//!   sizes get a one-column layout, wide ones a two-column layout.
//! * Text may be English, Tamil or Hindi (Devanagari), mixed freely. It is
//!   set in the fonts shipped in `assets/fonts` and compiled in (see
//!   [`fonts`]); system fonts are never used. Each run of a script is set
//!   with that script's Noto font first, so usvg shapes it with the right
//!   font (harfrust, HarfBuzz's port) rather than by per-glyph fallback.
//!   Characters none of the fonts has (emoji, other scripts) are dropped
//!   rather than drawn as boxes.
//! * Long text is wrapped to the box, shrunk down to a floor, then cut with
//!   an ellipsis; no input, empty or huge, panics or overflows the image.
//! * Every caller string is XML-escaped ([`escape_xml`]) into the SVG.
//!
//! Rendering is CPU-bound (tens of milliseconds for 1080×1080 in release
//! builds, mostly rasterising and PNG encoding): call it from a blocking
//! task, not on an async executor thread.

pub mod fonts;
mod layout;
mod sizes;
mod text;
mod xml;

mod data;

use std::collections::BTreeMap;

use resvg::{tiny_skia, usvg};

pub use data::{Card, Language, ObservanceCard, PanchangCard, PanchangLabels, TeachingCard};
pub use sizes::{CardSize, Orientation};
pub use xml::escape as escape_xml;

/// Why a card could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The size is outside [`CardSize::MIN_SIDE`]..=[`CardSize::MAX_SIDE`] or
    /// more elongated than [`CardSize::MAX_ASPECT`].
    #[error(
        "card size {width}x{height} is not allowed (each side {}..={} px, aspect ratio at most {})",
        CardSize::MIN_SIDE,
        CardSize::MAX_SIDE,
        CardSize::MAX_ASPECT
    )]
    BadSize { width: u32, height: u32 },
    /// The generated SVG did not parse (a bug in a template).
    #[error("card SVG did not parse: {0}")]
    Svg(#[from] usvg::Error),
    /// Rasterising or PNG encoding failed.
    #[error("card rendering failed: {0}")]
    Render(String),
}

/// Renders `card` at `size` and returns the PNG file's bytes (8-bit RGBA,
/// exactly `size.width()` × `size.height()`).
pub fn render(card: &Card, size: CardSize) -> Result<Vec<u8>, CardError> {
    let pixmap = render_pixmap(card, size)?;
    pixmap
        .encode_png()
        .map_err(|e| CardError::Render(format!("PNG encoding: {e}")))
}

/// Renders `card` at `size` to a pixmap (premultiplied RGBA), for callers
/// that encode it themselves.
pub fn render_pixmap(card: &Card, size: CardSize) -> Result<tiny_skia::Pixmap, CardError> {
    let tree = parse(&render_svg(card, size)?)?;
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or(CardError::BadSize {
            width: size.width(),
            height: size.height(),
        })?;
    resvg::render(
        &tree,
        tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    Ok(pixmap)
}

/// The SVG document a card is rendered from (text already laid out into
/// lines, every value escaped). It references only the shipped fonts, by
/// family name: parse it with [`fonts::usvg_options`].
pub fn render_svg(card: &Card, size: CardSize) -> Result<String, CardError> {
    size.validate()?;
    layout::svg(card, size)
}

/// Parses a card SVG with the shipped fonts; text becomes glyph outlines.
pub fn parse(svg: &str) -> Result<usvg::Tree, CardError> {
    Ok(usvg::Tree::from_str(svg, &fonts::usvg_options())?)
}

/// How one text element of a card was set: which fonts its glyphs came
/// from, and how many glyphs are `.notdef` (drawn as a box).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextReport {
    /// Element id in the card's SVG: `title`, `quote`, `tithi-value`, …
    pub id: String,
    /// The text drawn, lines joined with `\n` (a line's last piece keeps
    /// no trailing space).
    pub text: String,
    /// Glyphs per font family.
    pub glyphs_by_family: BTreeMap<String, usize>,
    /// Glyphs no font had.
    pub missing_glyphs: usize,
    /// Filled outline paths usvg produced for the text.
    pub paths: usize,
}

/// The text elements of a card as usvg shaped them, in document order.
pub fn text_report(card: &Card, size: CardSize) -> Result<Vec<TextReport>, CardError> {
    Ok(report_tree(&parse(&render_svg(card, size)?)?))
}

fn report_tree(tree: &usvg::Tree) -> Vec<TextReport> {
    let db = tree.fontdb();
    let mut out = Vec::new();
    text::for_each_text(tree.root(), &mut |t| {
        let mut r = TextReport {
            id: t.id().to_owned(),
            text: chunk_text(t),
            paths: count_paths(t.flattened()),
            ..TextReport::default()
        };
        for span in t.layouted() {
            for g in &span.positioned_glyphs {
                if g.id.0 == 0 {
                    r.missing_glyphs += 1;
                }
                let family = db
                    .face(g.font)
                    .and_then(|f| f.families.first())
                    .map(|f| f.0.clone())
                    .unwrap_or_default();
                *r.glyphs_by_family.entry(family).or_default() += 1;
            }
        }
        out.push(r);
    });
    out
}

/// The chunks' text, a line break wherever the baseline moves.
fn chunk_text(t: &usvg::Text) -> String {
    let mut out = String::new();
    let mut last_y = None;
    for c in t.chunks() {
        if last_y.is_some() && c.y() != last_y {
            out.push('\n');
        }
        last_y = c.y();
        out.push_str(c.text());
    }
    out
}

fn count_paths(g: &usvg::Group) -> usize {
    g.children()
        .iter()
        .map(|n| match n {
            usvg::Node::Group(g) => count_paths(g),
            usvg::Node::Path(_) => 1,
            usvg::Node::Image(_) | usvg::Node::Text(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The glyph check can fail: the same Tamil text parsed with only the
    /// Latin faces loaded reports `.notdef` glyphs and no Tamil glyphs.
    #[test]
    fn report_detects_missing_script_fonts() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100"><text id="t" x="10" y="60" font-size="40" font-family="'Noto Sans Tamil', 'Noto Sans'">ஏகாதசி</text></svg>"#;
        let full = report_tree(&parse(svg).unwrap());
        assert_eq!(full[0].missing_glyphs, 0);
        assert!(full[0].glyphs_by_family[fonts::TAMIL] >= 4, "{full:?}");

        let mut latin_only = resvg::usvg::fontdb::Database::new();
        for (name, data) in fonts::EMBEDDED_FONTS {
            if name.starts_with("NotoSans-") {
                latin_only.load_font_data(data.to_vec());
            }
        }
        let opts = fonts::options_with(Arc::new(latin_only));
        let tree = usvg::Tree::from_str(svg, &opts).unwrap();
        let r = report_tree(&tree);
        assert!(r[0].missing_glyphs > 0, "{r:?}");
        assert!(!r[0].glyphs_by_family.contains_key(fonts::TAMIL));
    }

    #[test]
    fn bad_sizes_are_errors_not_panics() {
        let card = Card::Teaching(TeachingCard {
            quote: "x".into(),
            attribution: String::new(),
        });
        let tiny = CardSize::custom(10, 10);
        assert!(matches!(tiny, Err(CardError::BadSize { .. })));
        let msg = tiny.unwrap_err().to_string();
        assert!(msg.contains("10x10"), "{msg}");
        assert!(render_svg(&card, CardSize::custom(300, 300).unwrap()).is_ok());
    }
}
