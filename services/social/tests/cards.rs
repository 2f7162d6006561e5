//! Image cards: every kind at every size is a PNG of exactly that size;
//! Tamil and Devanagari are shaped with their own shipped fonts; caller
//! text cannot inject markup; long and hostile input still renders inside
//! the card.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use rand::{rngs::StdRng, Rng, SeedableRng};
use resvg::tiny_skia::Pixmap;
use resvg::usvg::{self, Node};
use social::cards::{
    self, Card, CardSize, Language, ObservanceCard, PanchangCard, TeachingCard, TextReport,
};

const TAMIL_FAMILY: &str = "Noto Sans Tamil";
const DEVANAGARI_FAMILY: &str = "Noto Sans Devanagari";
const LATIN_FAMILY: &str = "Noto Sans";

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 14).unwrap()
}

fn panchang(language: Language) -> PanchangCard {
    let (weekday, tithi, nakshatra, yoga, karana, place) = match language {
        Language::English => (
            "Wednesday",
            "Krishna Ekadashi",
            "Anuradha",
            "Ganda",
            "Bava",
            "Chennai",
        ),
        Language::Tamil => ("புதன்", "ஏகாதசி", "அனுஷம்", "கண்டம்", "பவம்", "சென்னை"),
        Language::Hindi => ("बुधवार", "एकादशी", "अनुराधा", "गण्ड", "बव", "वाराणसी"),
    };
    PanchangCard {
        date: date(),
        place: place.into(),
        weekday: weekday.into(),
        tithi: tithi.into(),
        nakshatra: nakshatra.into(),
        yoga: yoga.into(),
        karana: karana.into(),
        sunrise: "06:32".into(),
        sunset: "18:05".into(),
        rahu_kalam: "12:18–13:45".into(),
        language,
    }
}

fn observance(title: &str, language: Language) -> ObservanceCard {
    ObservanceCard {
        title: title.into(),
        date: date(),
        description: "A day of fasting and prayer to Vishnu, observed on the eleventh \
                      lunar day of each fortnight. The fast is broken on Dwadashi after sunrise."
            .into(),
        place: "Chennai".into(),
        language,
    }
}

fn teaching(quote: &str) -> TeachingCard {
    TeachingCard {
        quote: quote.into(),
        attribution: "Bhagavad Gita 2.47".into(),
    }
}

fn all_kinds() -> Vec<Card> {
    vec![
        panchang(Language::English).into(),
        observance("Ekadashi", Language::English).into(),
        teaching(
            "You have a right to your actions, but never to the fruits of your actions. \
             Act for the action's sake, and do not be attached to inaction.",
        )
        .into(),
    ]
}

fn decode(png: &[u8]) -> Pixmap {
    Pixmap::decode_png(png).expect("a valid PNG")
}

/// The text node with element id `id` in a card's parsed SVG.
fn text_node(tree: &usvg::Tree, id: &str) -> usvg::Text {
    match tree.node_by_id(id) {
        Some(Node::Text(t)) => (**t).clone(),
        other => panic!("no text node {id}: {other:?}"),
    }
}

fn report<'a>(reports: &'a [TextReport], id: &str) -> &'a TextReport {
    reports
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no {id} in {reports:?}"))
}

#[test]
fn every_kind_at_every_size_is_a_png_of_exactly_that_size() {
    for card in all_kinds() {
        for size in CardSize::ALL {
            let png = cards::render(&card, size).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            let pixmap = decode(&png);
            assert_eq!(
                (pixmap.width(), pixmap.height()),
                (size.width(), size.height()),
                "{} at {}",
                card.kind(),
                size.name()
            );
            // Opaque background everywhere (corners included).
            for (x, y) in [(0, 0), (size.width() - 1, size.height() - 1)] {
                assert_eq!(pixmap.pixel(x, y).unwrap().alpha(), 255);
            }
        }
    }
}

#[test]
fn tamil_and_hindi_cards_render_at_every_size() {
    for language in [Language::Tamil, Language::Hindi] {
        let title = if language == Language::Tamil {
            "ஏகாதசி"
        } else {
            "एकादशी"
        };
        let cards: [Card; 2] = [
            panchang(language).into(),
            observance(title, language).into(),
        ];
        for card in &cards {
            for size in CardSize::ALL {
                let svg = cards::render_svg(card, size).unwrap();
                let tree = cards::parse(&svg).unwrap();
                assert_eq!(tree.size().width(), size.width() as f32);
            }
        }
        let png = cards::render(&cards[0], CardSize::FACEBOOK).unwrap();
        assert_eq!(decode(&png).width(), 1200);
    }
}

#[test]
fn tamil_and_devanagari_are_set_in_their_own_fonts_without_tofu() {
    for (title, family) in [("ஏகாதசி", TAMIL_FAMILY), ("एकादशी", DEVANAGARI_FAMILY)]
    {
        for size in [CardSize::INSTAGRAM_SQUARE, CardSize::X] {
            let card: Card = observance(title, Language::English).into();
            let reports = cards::text_report(&card, size).unwrap();
            let r = report(&reports, "title");
            assert_eq!(r.text, title);
            assert_eq!(r.missing_glyphs, 0, "{r:?}");
            let glyphs: usize = r.glyphs_by_family.values().sum();
            assert!(glyphs >= 4, "{r:?}");
            assert_eq!(r.glyphs_by_family.get(family), Some(&glyphs), "{r:?}");
            // usvg turned the glyphs into outlines.
            assert!(r.paths > 0, "{r:?}");
        }
    }
    // The whole Tamil panchang, labels included, has no missing glyph, and
    // its labels are in the Tamil face.
    let reports = cards::text_report(
        &panchang(Language::Tamil).into(),
        CardSize::INSTAGRAM_SQUARE,
    )
    .unwrap();
    for r in &reports {
        assert_eq!(r.missing_glyphs, 0, "{r:?}");
    }
    let label = report(&reports, "nakshatra-label");
    assert_eq!(label.text, "நட்சத்திரம்");
    assert_eq!(
        label.glyphs_by_family.keys().collect::<Vec<_>>(),
        [TAMIL_FAMILY]
    );
    // Times stay in the Latin face.
    let sunrise = report(&reports, "sunrise-value");
    assert_eq!(
        sunrise.glyphs_by_family.keys().collect::<Vec<_>>(),
        [LATIN_FAMILY]
    );
}

#[test]
fn complex_script_shaping_is_applied() {
    // Shaping, not a character-to-glyph map: the Devanagari conjunct क्ष
    // (KA, VIRAMA, SSA) becomes fewer glyphs than characters, and Tamil கொ
    // (KA, O sign) becomes three glyphs, the two parts of the vowel sign
    // on either side of the consonant; the left part comes first.
    let card: Card = observance("क्ष கொ", Language::English).into();
    let tree =
        cards::parse(&cards::render_svg(&card, CardSize::INSTAGRAM_SQUARE).unwrap()).unwrap();
    let title = text_node(&tree, "title");
    let glyphs: Vec<_> = title
        .layouted()
        .iter()
        .flat_map(|s| s.positioned_glyphs.iter())
        .collect();
    let db = tree.fontdb();
    let in_family = |family: &str| -> Vec<_> {
        glyphs
            .iter()
            .filter(|g| db.face(g.font).unwrap().families[0].0 == family)
            .filter(|g| g.text != " ")
            .collect()
    };
    let deva = in_family(DEVANAGARI_FAMILY);
    assert!(!deva.is_empty() && deva.len() < 3, "{deva:?}");
    let tamil = in_family(TAMIL_FAMILY);
    assert_eq!(tamil.len(), 3, "{tamil:?}");
    let ids: Vec<u32> = tamil.iter().map(|g| g.id.0).collect();
    assert!(ids.iter().all(|id| *id != 0), "{ids:?}");
    // Three different glyphs (E-sign part, KA, AA-sign part).
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 3, "{ids:?}");
}

#[test]
fn bold_text_in_tamil_uses_the_bold_tamil_face() {
    let card: Card = observance("ஏகாதசி", Language::Tamil).into();
    let tree = cards::parse(&cards::render_svg(&card, CardSize::FACEBOOK).unwrap()).unwrap();
    let db = tree.fontdb();
    let weights = |id: &str| -> Vec<u16> {
        text_node(&tree, id)
            .layouted()
            .iter()
            .flat_map(|s| s.positioned_glyphs.iter())
            .filter(|g| db.face(g.font).unwrap().families[0].0 == TAMIL_FAMILY)
            .map(|g| db.face(g.font).unwrap().weight.0)
            .collect()
    };
    let title = weights("title");
    assert!(
        !title.is_empty() && title.iter().all(|w| *w == 700),
        "{title:?}"
    );
    // The date line (kicker) is bold too; the month is Tamil.
    let kicker = weights("kicker");
    assert!(
        !kicker.is_empty() && kicker.iter().all(|w| *w == 700),
        "{kicker:?}"
    );
}

/// Pixels that differ (any channel by more than 8) inside `rect`.
fn changed_pixels(a: &Pixmap, b: &Pixmap, rect: usvg::Rect) -> usize {
    let (x0, y0) = (rect.left().max(0.0) as u32, rect.top().max(0.0) as u32);
    let x1 = (rect.right().ceil() as u32).min(a.width());
    let y1 = (rect.bottom().ceil() as u32).min(a.height());
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let (p, q) = (a.pixel(x, y).unwrap(), b.pixel(x, y).unwrap());
            let d = [
                p.red().abs_diff(q.red()),
                p.green().abs_diff(q.green()),
                p.blue().abs_diff(q.blue()),
            ];
            if d.iter().any(|d| *d > 8) {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn a_tamil_or_devanagari_title_draws_ink_in_the_title_area() {
    for title in ["ஏகாதசி", "एकादशी"] {
        for size in [CardSize::INSTAGRAM_SQUARE, CardSize::TELEGRAM] {
            let with: Card = observance(title, Language::English).into();
            let without: Card = observance("", Language::English).into();
            let tree = cards::parse(&cards::render_svg(&with, size).unwrap()).unwrap();
            let bbox = text_node(&tree, "title").abs_bounding_box();
            let area = (bbox.width() * bbox.height()) as usize;
            assert!(bbox.width() > 50.0 && bbox.height() > 20.0, "{bbox:?}");
            let a = decode(&cards::render(&with, size).unwrap());
            let b = decode(&cards::render(&without, size).unwrap());
            let changed = changed_pixels(&a, &b, bbox);
            // Glyph ink covers a good share of the title's box, and nothing
            // outside the title moved.
            assert!(
                changed * 8 > area,
                "{title} {}: {changed} of {area}",
                size.name()
            );
            let whole =
                usvg::Rect::from_xywh(0.0, 0.0, size.width() as f32, size.height() as f32).unwrap();
            let outside = changed_pixels(&a, &b, whole) - changed;
            assert!(
                outside * 50 <= changed,
                "{title}: {outside} pixels outside the title changed"
            );
        }
    }
}

#[test]
fn tamil_renders_as_tamil_not_as_boxes() {
    // The same card with the Tamil title and with a title of characters no
    // shipped font has: the latter are dropped (nothing drawn), the Tamil
    // is drawn, so the images differ and only the Tamil one has title ink.
    let size = CardSize::INSTAGRAM_SQUARE;
    let tamil: Card = observance("ஏகாதசி", Language::English).into();
    let unsupported: Card = observance("ఏకాదశి 😀", Language::English).into();
    let empty: Card = observance("", Language::English).into();
    let reports = cards::text_report(&unsupported, size).unwrap();
    assert!(reports.iter().all(|r| r.id != "title"), "{reports:?}");
    assert!(reports.iter().all(|r| r.missing_glyphs == 0));
    let [a, b, c] = [&tamil, &unsupported, &empty].map(|c| cards::render(c, size).unwrap());
    assert_ne!(a, b);
    assert_eq!(b, c);
}

#[test]
fn markup_in_text_is_escaped_and_drawn_as_text() {
    let hostile = "</text><script>alert(1)</script> <&>\"' ]]> <!--";
    let card: Card = ObservanceCard {
        title: hostile.into(),
        date: date(),
        description: format!("{hostile} &amp; &#x41; <tspan fill=\"red\">x</tspan>"),
        place: "<b>Chennai</b>".into(),
        language: Language::English,
    }
    .into();
    for size in [CardSize::INSTAGRAM_SQUARE, CardSize::FACEBOOK] {
        let svg = cards::render_svg(&card, size).unwrap();
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("<b>") && !svg.contains("<tspan fill"));
        assert!(svg.contains("&lt;/text&gt;&lt;script&gt;"));
        let reports = cards::text_report(&card, size).unwrap();
        // The title is the hostile string itself, possibly wrapped.
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(squeeze(&report(&reports, "title").text), squeeze(hostile));
        let desc = squeeze(&report(&reports, "description").text);
        assert!(
            desc.contains("&amp;&#x41;<tspanfill=\"red\">x</tspan>"),
            "{desc}"
        );
        assert!(report(&reports, "kicker").text.ends_with("<b>Chennai</b>"));
        decode(&cards::render(&card, size).unwrap());
    }
}

/// Every text node lies inside the card, above the footer's top.
fn assert_text_inside(card: &Card, size: CardSize) {
    let tree = cards::parse(&cards::render_svg(card, size).unwrap()).unwrap();
    let (w, h) = (size.width() as f32, size.height() as f32);
    let footer = text_node(&tree, "footer").abs_bounding_box();
    let mut stack = vec![tree.root().clone()];
    while let Some(g) = stack.pop() {
        for node in g.children() {
            match node {
                Node::Group(g) => stack.push((**g).clone()),
                Node::Text(t) if t.id() != "footer" && t.id() != "quote-mark" => {
                    let b = t.abs_bounding_box();
                    assert!(
                        b.left() >= 0.0 && b.right() <= w && b.top() >= 0.0 && b.bottom() <= h,
                        "{} outside {}: {b:?}",
                        t.id(),
                        size.name()
                    );
                    let overlaps = b.left() < footer.right()
                        && footer.left() < b.right()
                        && b.top() < footer.bottom()
                        && footer.top() + 1.0 < b.bottom();
                    assert!(
                        !overlaps,
                        "{} overlaps the footer at {}: {b:?} {footer:?}",
                        t.id(),
                        size.name()
                    );
                }
                _ => {}
            }
        }
    }
}

#[test]
fn very_long_text_is_shrunk_and_truncated_inside_the_card() {
    let sentence = "Whatever happened, happened for the good; whatever is happening, \
                    is happening for the good; whatever will happen, will also happen for the good. ";
    let long_quote = sentence.repeat(60);
    let one_word = "ஏகாதசி".repeat(400);
    let cards_: Vec<Card> = vec![
        teaching(&long_quote).into(),
        teaching(&one_word).into(),
        TeachingCard {
            quote: long_quote.clone(),
            attribution: sentence.repeat(5),
        }
        .into(),
        ObservanceCard {
            title: "Vaikuntha Ekadashi Mahotsavam ".repeat(20),
            date: date(),
            description: long_quote.clone(),
            place: "Srirangam ".repeat(40),
            language: Language::Tamil,
        }
        .into(),
        PanchangCard {
            tithi: "Shukla Paksha Ekadashi upto 14:32, then Dwadashi ".repeat(10),
            place: "a".repeat(5000),
            ..panchang(Language::Hindi)
        }
        .into(),
    ];
    for card in &cards_ {
        for size in CardSize::ALL {
            assert_text_inside(card, size);
        }
    }
    let reports = cards::text_report(&cards_[0], CardSize::INSTAGRAM_SQUARE).unwrap();
    let quote = report(&reports, "quote");
    assert!(quote.text.ends_with('…'), "{}", quote.text);
    assert!(quote.text.lines().count() > 5);
    let png = cards::render(&cards_[0], CardSize::INSTAGRAM_SQUARE).unwrap();
    assert_eq!(decode(&png).width(), 1080);
}

#[test]
fn short_texts_stay_within_the_card_too() {
    for card in all_kinds() {
        for size in CardSize::ALL {
            assert_text_inside(&card, size);
        }
    }
}

#[test]
fn empty_strings_render() {
    let cards_: [Card; 3] = [
        PanchangCard {
            date: date(),
            place: String::new(),
            weekday: String::new(),
            tithi: String::new(),
            nakshatra: String::new(),
            yoga: String::new(),
            karana: String::new(),
            sunrise: String::new(),
            sunset: String::new(),
            rahu_kalam: String::new(),
            language: Language::English,
        }
        .into(),
        ObservanceCard {
            title: String::new(),
            date: date(),
            description: String::new(),
            place: String::new(),
            language: Language::Hindi,
        }
        .into(),
        TeachingCard {
            quote: String::new(),
            attribution: String::new(),
        }
        .into(),
    ];
    for card in &cards_ {
        let png = cards::render(card, CardSize::TELEGRAM).unwrap();
        assert_eq!(decode(&png).height(), 720);
    }
}

#[test]
fn bad_sizes_are_rejected() {
    for (w, h) in [(0, 0), (100, 100), (5000, 5000), (4000, 400)] {
        assert!(matches!(
            CardSize::custom(w, h),
            Err(cards::CardError::BadSize { .. })
        ));
    }
    let size = CardSize::custom(600, 600).unwrap();
    let png = cards::render(&all_kinds()[2], size).unwrap();
    assert_eq!(decode(&png).width(), 600);
}

/// Random strings mixing scripts, markup, controls, emoji and odd
/// whitespace never make rendering fail, nor leave a `.notdef` glyph, nor
/// put text outside the card. `CARDS_FUZZ_CASES` (default 24) and
/// `CARDS_FUZZ_SEED` run more or other cases.
#[test]
fn random_text_never_fails() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let cases = env("CARDS_FUZZ_CASES", 24) as usize;
    let seed = env("CARDS_FUZZ_SEED", 20260114);
    const ALPHABET: &[&str] = &[
        "a", "Z", " ", "  ", "\n", "\t", "\r", "\u{0}", "\u{1b}", "\u{7f}", "\u{85}", "<", ">",
        "&", "\"", "'", "]]>", "&amp;", "क", "्", "ष", "ि", "ं", "ஏ", "க", "ொ", "்", "ா", "😀", "🙏🏽",
        "\u{200d}", "\u{202e}", "\u{2066}", "\u{fffd}", "\u{ffff}", "\u{301}", "中", "ع", "…", "–",
        "—", "₹", "1", "0", ".", ",", "\u{a0}", "\u{2028}", "\u{feff}", "Ω", "ß",
    ];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut text = |max: usize| -> String {
        let n = rng.gen_range(0..max);
        (0..n)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
            .collect()
    };
    for i in 0..cases {
        let card: Card = match i % 3 {
            0 => PanchangCard {
                place: text(40),
                weekday: text(20),
                tithi: text(60),
                nakshatra: text(30),
                yoga: text(30),
                karana: text(30),
                sunrise: text(10),
                sunset: text(10),
                rahu_kalam: text(20),
                ..panchang(Language::ALL[i % 3])
            }
            .into(),
            1 => ObservanceCard {
                title: text(80),
                date: date(),
                description: text(600),
                place: text(30),
                language: Language::ALL[i % 3],
            }
            .into(),
            _ => TeachingCard {
                quote: text(1500),
                attribution: text(60),
            }
            .into(),
        };
        let size = CardSize::ALL[i % CardSize::ALL.len()];
        let reports = cards::text_report(&card, size).unwrap();
        for r in &reports {
            assert_eq!(r.missing_glyphs, 0, "case {i}: {r:?} in {card:?}");
        }
        assert_text_inside(&card, size);
        if i % 6 == 0 {
            decode(&cards::render(&card, size).unwrap());
        }
    }
}
