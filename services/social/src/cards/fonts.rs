//! The fonts shipped in `assets/fonts` (Noto Sans, Noto Sans Tamil and Noto
//! Sans Devanagari, Regular and Bold; SIL OFL 1.1, see
//! `assets/fonts/README.md`), compiled into the binary. No system font is
//! ever looked up: the database below is the only one cards are parsed with.

use std::sync::{Arc, LazyLock};

use resvg::usvg::{self, fontdb};

use super::text::Script;

/// Family names as the fonts' `name` tables spell them.
pub(crate) const LATIN: &str = "Noto Sans";
pub(crate) const TAMIL: &str = "Noto Sans Tamil";
pub(crate) const DEVANAGARI: &str = "Noto Sans Devanagari";

/// The files embedded, by name.
pub const EMBEDDED_FONTS: [(&str, &[u8]); 6] = [
    (
        "NotoSans-Regular.ttf",
        include_bytes!("../../assets/fonts/NotoSans-Regular.ttf"),
    ),
    (
        "NotoSans-Bold.ttf",
        include_bytes!("../../assets/fonts/NotoSans-Bold.ttf"),
    ),
    (
        "NotoSansTamil-Regular.ttf",
        include_bytes!("../../assets/fonts/NotoSansTamil-Regular.ttf"),
    ),
    (
        "NotoSansTamil-Bold.ttf",
        include_bytes!("../../assets/fonts/NotoSansTamil-Bold.ttf"),
    ),
    (
        "NotoSansDevanagari-Regular.ttf",
        include_bytes!("../../assets/fonts/NotoSansDevanagari-Regular.ttf"),
    ),
    (
        "NotoSansDevanagari-Bold.ttf",
        include_bytes!("../../assets/fonts/NotoSansDevanagari-Bold.ttf"),
    ),
];

static DATABASE: LazyLock<Arc<fontdb::Database>> = LazyLock::new(|| {
    let mut db = fontdb::Database::new();
    for (_, data) in EMBEDDED_FONTS {
        // `&'static [u8]` is borrowed, not copied.
        db.load_font_source(fontdb::Source::Binary(Arc::new(data)));
    }
    // Generic families resolve to the shipped Latin face, never to the
    // fontdb defaults (Times New Roman, Arial…), which are not loaded.
    db.set_serif_family(LATIN);
    db.set_sans_serif_family(LATIN);
    db.set_monospace_family(LATIN);
    db.set_cursive_family(LATIN);
    db.set_fantasy_family(LATIN);
    Arc::new(db)
});

/// The font database of the shipped fonts, built once per process.
pub fn database() -> Arc<fontdb::Database> {
    Arc::clone(&DATABASE)
}

/// `usvg` options for parsing card SVGs: the shipped fonts, Noto Sans as
/// the default family, and a fallback that picks the face by script and
/// keeps the weight (usvg's default fallback takes the first face holding
/// the character, which would set bold titles in a regular Tamil face).
pub fn usvg_options() -> usvg::Options<'static> {
    options_with(database())
}

pub(crate) fn options_with(db: Arc<fontdb::Database>) -> usvg::Options<'static> {
    usvg::Options {
        font_family: LATIN.to_owned(),
        fontdb: db,
        font_resolver: usvg::FontResolver {
            select_font: usvg::FontResolver::default_font_selector(),
            select_fallback: Box::new(select_fallback),
        },
        ..usvg::Options::default()
    }
}

/// Fallback for a character the span's font lacks: the face of the
/// character's script with the weight of the span's font, else the other
/// shipped families in turn; never a face already tried for this span.
fn select_fallback(
    c: char,
    used: &[fontdb::ID],
    db: &mut Arc<fontdb::Database>,
) -> Option<fontdb::ID> {
    let weight = used
        .first()
        .and_then(|id| db.face(*id))
        .map(|f| f.weight)
        .unwrap_or(fontdb::Weight::NORMAL);
    let order: &[&str] = match Script::of(c) {
        Script::Tamil => &[TAMIL],
        Script::Devanagari => &[DEVANAGARI],
        Script::Common | Script::Other => &[LATIN, DEVANAGARI, TAMIL],
    };
    order.iter().find_map(|family| {
        let id = db.query(&fontdb::Query {
            families: &[fontdb::Family::Name(family)],
            weight,
            stretch: fontdb::Stretch::Normal,
            style: fontdb::Style::Normal,
        })?;
        (!used.contains(&id)).then_some(id)
    })
}

/// The family list of a run of text in `script`: that script's face first.
pub(crate) fn family_list(script: Script) -> &'static str {
    match script {
        Script::Tamil => "'Noto Sans Tamil', 'Noto Sans', sans-serif",
        Script::Devanagari => "'Noto Sans Devanagari', 'Noto Sans', sans-serif",
        Script::Common | Script::Other => {
            "'Noto Sans', 'Noto Sans Tamil', 'Noto Sans Devanagari', sans-serif"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_holds_the_six_shipped_faces() {
        let db = database();
        assert_eq!(db.len(), 6);
        for family in [LATIN, TAMIL, DEVANAGARI] {
            for weight in [fontdb::Weight::NORMAL, fontdb::Weight::BOLD] {
                let id = db
                    .query(&fontdb::Query {
                        families: &[fontdb::Family::Name(family)],
                        weight,
                        ..fontdb::Query::default()
                    })
                    .unwrap();
                assert_eq!(db.face(id).unwrap().weight, weight, "{family}");
            }
        }
        // Generic families map to the shipped Latin face.
        let id = db
            .query(&fontdb::Query {
                families: &[fontdb::Family::Serif],
                ..fontdb::Query::default()
            })
            .unwrap();
        assert_eq!(db.face(id).unwrap().families[0].0, LATIN);
    }

    #[test]
    fn fallback_keeps_weight_and_picks_the_script_face() {
        let mut db = database();
        let bold_latin = db
            .query(&fontdb::Query {
                families: &[fontdb::Family::Name(LATIN)],
                weight: fontdb::Weight::BOLD,
                ..fontdb::Query::default()
            })
            .unwrap();
        let id = select_fallback('க', &[bold_latin], &mut db).unwrap();
        let face = db.face(id).unwrap();
        assert_eq!(
            (face.families[0].0.as_str(), face.weight),
            (TAMIL, fontdb::Weight::BOLD)
        );
        // Once the Tamil face has been tried there is nothing else to offer.
        assert_eq!(select_fallback('க', &[bold_latin, id], &mut db), None);
        let id = select_fallback('ए', &[bold_latin], &mut db).unwrap();
        assert_eq!(db.face(id).unwrap().families[0].0, DEVANAGARI);
    }
}
