//! The SVG templates: one layout per card kind and orientation.
//!
//! Everything is sized in `u`, a hundredth of the card's short side, so a
//! layout scales from 630 px to 4096 px. Tall cards (square, portrait) stack
//! their content in one centred column; wide cards (1.91:1, 16:9) put the
//! heading in a left column and the body beside it. Every caller-supplied
//! string goes through [`xml::clean`] and, when written, [`xml::push_escaped`].

use std::f32::consts::PI;
use std::fmt::Write;

use super::data::{Card, ObservanceCard, PanchangCard, TeachingCard};
use super::sizes::{CardSize, Orientation};
use super::text::{self, Block, Fitted};
use super::{xml, CardError};

/// `write!` to a `String`, which cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

const MAROON: &str = "#8A1C33";
const MAROON_DEEP: &str = "#38060F";
const PANEL: &str = "#24030A";
const SAFFRON: &str = "#F7A035";
const SAFFRON_DEEP: &str = "#E0701C";
const GOLD: &str = "#F6C453";
const CREAM: &str = "#FFF6E8";
const MUTED: &str = "#F3D5AE";

/// Longest text kept per field, in characters: more could never fit.
const SHORT_CHARS: usize = 160;
const TITLE_CHARS: usize = 300;
const LONG_CHARS: usize = 2400;

/// The brand line in the footer.
pub(crate) const FOOTER: &str = "JyotiFlow";

#[derive(Clone, Copy, Debug)]
enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn svg(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// One text of a card: what to fit and how to draw it.
struct Item {
    id: &'static str,
    anchor: Anchor,
    fill: &'static str,
    block: Block,
}

/// The card's geometry and the SVG being written.
struct Canvas {
    w: f32,
    h: f32,
    /// A hundredth of the short side.
    u: f32,
    /// Margin inside the card's edge.
    m: f32,
    tall: bool,
    out: String,
}

impl Canvas {
    fn new(size: CardSize) -> Canvas {
        let (w, h) = (size.width() as f32, size.height() as f32);
        let u = w.min(h) / 100.0;
        Canvas {
            w,
            h,
            u,
            m: 7.0 * u,
            tall: size.orientation() == Orientation::Tall,
            out: String::with_capacity(16 * 1024),
        }
    }

    /// Left, right, top and bottom of the content area.
    fn x0(&self) -> f32 {
        self.m
    }
    fn x1(&self) -> f32 {
        self.w - self.m
    }
    fn y0(&self) -> f32 {
        self.m
    }
    fn y1(&self) -> f32 {
        self.h - self.m
    }
    /// Content width.
    fn cw(&self) -> f32 {
        self.x1() - self.x0()
    }
    /// Bottom of the body, above the footer.
    fn body_bottom(&self) -> f32 {
        self.y1() - 7.0 * self.u
    }

    /// The document, background, ornament around (`mx`, `my`) of radius
    /// `mr`, and the frame.
    fn begin(&mut self, mx: f32, my: f32, mr: f32) {
        let (w, h, u) = (self.w, self.h, self.u);
        put!(
            self.out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
        );
        put!(
            self.out,
            concat!(
                r#"<defs><linearGradient id="bg" x1="0" y1="0" x2="0.45" y2="1">"#,
                r#"<stop offset="0" stop-color="{}"/><stop offset="1" stop-color="{}"/></linearGradient>"#,
                r#"<radialGradient id="glow" gradientUnits="userSpaceOnUse" cx="{:.1}" cy="{:.1}" r="{:.1}">"#,
                r#"<stop offset="0" stop-color="{}" stop-opacity="0.85"/>"#,
                r#"<stop offset="0.5" stop-color="{}" stop-opacity="0.35"/>"#,
                r#"<stop offset="1" stop-color="{}" stop-opacity="0"/></radialGradient></defs>"#
            ),
            MAROON,
            MAROON_DEEP,
            mx,
            my,
            mr * 1.25,
            SAFFRON,
            SAFFRON_DEEP,
            SAFFRON_DEEP
        );
        put!(
            self.out,
            r#"<rect width="{w}" height="{h}" fill="url(#bg)"/><rect width="{w}" height="{h}" fill="url(#glow)"/>"#
        );
        self.mandala(mx, my, mr);
        let inset = self.m * 0.45;
        put!(
            self.out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="{:.1}" fill="none" stroke="{GOLD}" stroke-opacity="0.45" stroke-width="{:.2}"/>"#,
            inset,
            inset,
            w - 2.0 * inset,
            h - 2.0 * inset,
            1.2 * u,
            0.25 * u
        );
    }

    /// Concentric rings of petals and dots, drawn in thin gold lines.
    fn mandala(&mut self, cx: f32, cy: f32, r: f32) {
        let u = self.u;
        put!(
            self.out,
            r#"<g fill="none" stroke="{GOLD}" stroke-opacity="0.3" stroke-width="{:.2}">"#,
            0.22 * u
        );
        for k in [0.2, 0.42, 0.64, 0.9, 1.0] {
            put!(
                self.out,
                r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{:.1}"/>"#,
                k * r
            );
        }
        self.petals(cx, cy, 0.2 * r, 0.42 * r, 12, 0.0);
        self.petals(cx, cy, 0.42 * r, 0.64 * r, 16, PI / 16.0);
        self.petals(cx, cy, 0.64 * r, 0.9 * r, 24, 0.0);
        self.out.push_str("</g>");
        put!(self.out, r#"<g fill="{GOLD}" fill-opacity="0.35">"#);
        for i in 0..36 {
            let (x, y) = polar(cx, cy, 0.95 * r, i as f32 * 2.0 * PI / 36.0);
            put!(
                self.out,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="{:.2}"/>"#,
                0.35 * u
            );
        }
        self.out.push_str("</g>");
    }

    /// `n` pointed petals between radii `r0` and `r1`.
    fn petals(&mut self, cx: f32, cy: f32, r0: f32, r1: f32, n: usize, phase: f32) {
        let half = PI / n as f32;
        self.out.push_str("<path d=\"");
        for i in 0..n {
            let a = phase + i as f32 * 2.0 * half;
            let (sx, sy) = polar(cx, cy, r0, a - half);
            let (c1x, c1y) = polar(cx, cy, r0 + 0.8 * (r1 - r0), a - 0.6 * half);
            let (tx, ty) = polar(cx, cy, r1, a);
            let (c2x, c2y) = polar(cx, cy, r0 + 0.8 * (r1 - r0), a + 0.6 * half);
            let (ex, ey) = polar(cx, cy, r0, a + half);
            put!(
                self.out,
                "M{sx:.1} {sy:.1}Q{c1x:.1} {c1y:.1} {tx:.1} {ty:.1}Q{c2x:.1} {c2y:.1} {ex:.1} {ey:.1}"
            );
        }
        self.out.push_str("\"/>");
    }

    fn diamond(&mut self, cx: f32, cy: f32, r: f32, fill: &str) {
        put!(
            self.out,
            r#"<path d="M{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{fill}"/>"#,
            cx,
            cy - r,
            cx + r,
            cy,
            cx,
            cy + r,
            cx - r,
            cy
        );
    }

    fn rule(&mut self, xa: f32, xb: f32, y: f32, opacity: f32) {
        put!(
            self.out,
            r#"<line x1="{xa:.1}" y1="{y:.1}" x2="{xb:.1}" y2="{y:.1}" stroke="{GOLD}" stroke-opacity="{opacity}" stroke-width="{:.2}"/>"#,
            0.25 * self.u
        );
    }

    /// A horizontal rule with a diamond in its middle.
    fn divider(&mut self, xa: f32, xb: f32, y: f32) {
        let mid = 0.5 * (xa + xb);
        let gap = 2.2 * self.u;
        self.rule(xa, mid - gap, y, 0.7);
        self.rule(mid + gap, xb, y, 0.7);
        self.diamond(mid, y, 1.0 * self.u, GOLD);
    }

    /// Writes a fitted text with its top at `top`, lines anchored at `x`.
    /// Every piece is a chunk of its own, placed at the offset the layout
    /// measured (so `text-anchor` is applied here, not by the renderer).
    fn text(&mut self, item: &Item, f: &Fitted, x: f32, top: f32) {
        if f.lines.is_empty() {
            return;
        }
        put!(
            self.out,
            r#"<text id="{}" font-size="{:.2}" font-weight="{}" fill="{}" xml:space="preserve">"#,
            item.id,
            f.size,
            item.block.weight,
            item.fill
        );
        let mut y = f.first_baseline(top);
        for line in &f.lines {
            let start = match item.anchor {
                Anchor::Start => x,
                Anchor::Middle => x - 0.5 * line.width,
                Anchor::End => x - line.width,
            };
            for piece in &line.pieces {
                text::push_piece(&mut self.out, start + piece.x, y, &piece.text);
            }
            y += f.line_height;
        }
        self.out.push_str("</text>");
    }

    /// The brand line: centred on tall cards, bottom left on wide ones.
    fn footer(&mut self) {
        let u = self.u;
        let size = 3.4 * u;
        let baseline = self.y1() - 0.2 * u;
        let mid = baseline - 0.36 * size;
        let (x, anchor) = if self.tall {
            let cx = 0.5 * self.w;
            // "JyotiFlow" in Noto Sans Bold is about 4.6 em wide.
            let half = 0.5 * 4.6 * size + 2.0 * u;
            self.rule(cx - half - 10.0 * u, cx - half, mid, 0.6);
            self.rule(cx + half, cx + half + 10.0 * u, mid, 0.6);
            self.diamond(cx - half - 10.8 * u, mid, 0.8 * u, GOLD);
            self.diamond(cx + half + 10.8 * u, mid, 0.8 * u, GOLD);
            (cx, Anchor::Middle)
        } else {
            self.diamond(self.x0() + 1.0 * u, mid, 1.0 * u, GOLD);
            (self.x0() + 3.2 * u, Anchor::Start)
        };
        put!(
            self.out,
            r#"<text id="footer" x="{x:.1}" y="{baseline:.1}" font-family="'Noto Sans', sans-serif" font-size="{size:.2}" font-weight="700" fill="{GOLD}" text-anchor="{}" letter-spacing="{:.2}">{FOOTER}</text>"#,
            anchor.svg(),
            0.06 * size
        );
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

fn polar(cx: f32, cy: f32, r: f32, a: f32) -> (f32, f32) {
    (cx + r * a.cos(), cy + r * a.sin())
}

fn block(
    text: String,
    weight: u16,
    width: f32,
    height: f32,
    sizes: (f32, f32),
    max_lines: usize,
) -> Block {
    Block {
        text,
        weight,
        width: width.max(1.0),
        height: height.max(1.0),
        max_size: sizes.0,
        min_size: sizes.1.min(sizes.0),
        max_lines,
    }
}

/// Fits all items at once (one measuring pass for the whole card).
fn fit(items: &mut [Item]) -> Result<Vec<Fitted>, CardError> {
    let mut blocks: Vec<Block> = items.iter().map(|i| i.block.clone()).collect();
    let fitted = text::fit_all(&mut blocks)?;
    for (item, b) in items.iter_mut().zip(blocks) {
        item.block = b;
    }
    Ok(fitted)
}

/// `a · b`, or whichever is not empty.
fn joined(a: &str, b: &str) -> String {
    match (a.trim().is_empty(), b.trim().is_empty()) {
        (false, false) => format!("{} \u{00B7} {}", a.trim(), b.trim()),
        (false, true) => a.trim().to_owned(),
        (true, false) => b.trim().to_owned(),
        (true, true) => String::new(),
    }
}

/// The whole SVG document of `card` at `size`.
pub(crate) fn svg(card: &Card, size: CardSize) -> Result<String, CardError> {
    let mut c = Canvas::new(size);
    match card {
        Card::Panchang(p) => panchang(&mut c, p)?,
        Card::Observance(o) => observance(&mut c, o)?,
        Card::Teaching(t) => teaching(&mut c, t)?,
    }
    c.footer();
    Ok(c.finish())
}

fn panchang(c: &mut Canvas, p: &PanchangCard) -> Result<(), CardError> {
    let u = c.u;
    let labels = p.language.panchang_labels();
    let date = p.language.format_date(p.date);
    let weekday = xml::clean(&p.weekday, SHORT_CHARS, false);
    // Weekday and date on lines of their own.
    let title = if weekday.trim().is_empty() {
        date
    } else {
        format!("{}\n{date}", weekday.trim())
    };
    let rows = [
        ("tithi", labels.tithi, &p.tithi),
        ("nakshatra", labels.nakshatra, &p.nakshatra),
        ("yoga", labels.yoga, &p.yoga),
        ("karana", labels.karana, &p.karana),
        ("sunrise", labels.sunrise, &p.sunrise),
        ("sunset", labels.sunset, &p.sunset),
        ("rahu_kalam", labels.rahu_kalam, &p.rahu_kalam),
    ];

    // Heading column and table panel.
    let (hx0, hx1, anchor, title_h, title_lines, place_lines) = if c.tall {
        (c.x0(), c.x1(), Anchor::Middle, 16.0 * u, 2, 1)
    } else {
        (
            c.x0(),
            c.x0() + 0.36 * c.cw(),
            Anchor::Start,
            34.0 * u,
            4,
            2,
        )
    };
    let (tx0, tx1, ty0, ty1) = if c.tall {
        (c.x0(), c.x1(), c.y0() + 34.0 * u, c.body_bottom())
    } else {
        (c.x0() + 0.40 * c.cw(), c.x1(), c.y0(), c.y1())
    };
    if c.tall {
        c.begin(c.w * 0.9, c.h * 0.06, 0.45 * c.w);
    } else {
        c.begin(0.0, c.h, 0.75 * c.h);
    }
    let hw = hx1 - hx0;
    let hx = match anchor {
        Anchor::Middle => 0.5 * (hx0 + hx1),
        Anchor::Start | Anchor::End => hx0,
    };

    let pad = if c.tall { 1.5 * u } else { 2.5 * u };
    let row_h = (ty1 - ty0 - 2.0 * pad) / rows.len() as f32;
    let inner_w = tx1 - tx0 - 2.0 * pad;
    let label_w = 0.42 * inner_w - 2.0 * u;
    let value_w = 0.58 * inner_w - 2.0 * u;
    let label_max = (0.36 * row_h).min(3.6 * u);
    let value_max = (0.42 * row_h).min(4.4 * u);

    let mut items = vec![
        Item {
            id: "kicker",
            anchor,
            fill: SAFFRON,
            block: block(
                labels.heading.to_owned(),
                700,
                hw,
                5.0 * u,
                (3.4 * u, 2.2 * u),
                1,
            ),
        },
        Item {
            id: "title",
            anchor,
            fill: CREAM,
            block: block(
                xml::clean(&title, TITLE_CHARS, true),
                700,
                hw,
                title_h,
                (if c.tall { 6.6 * u } else { 7.0 * u }, 3.6 * u),
                title_lines,
            ),
        },
        Item {
            id: "place",
            anchor,
            fill: MUTED,
            block: block(
                xml::clean(&p.place, SHORT_CHARS, false),
                400,
                hw,
                if c.tall { 5.0 * u } else { 10.0 * u },
                (3.6 * u, 2.2 * u),
                place_lines,
            ),
        },
    ];
    for (key, label, value) in rows {
        items.push(Item {
            id: label_id(key),
            anchor: Anchor::Start,
            fill: MUTED,
            block: block(
                label.to_owned(),
                400,
                label_w,
                row_h,
                (label_max, 1.6 * u),
                1,
            ),
        });
        items.push(Item {
            id: value_id(key),
            anchor: Anchor::End,
            fill: CREAM,
            block: block(
                xml::clean(value, SHORT_CHARS, false),
                700,
                value_w,
                row_h,
                (value_max, 1.6 * u),
                1,
            ),
        });
    }
    let fitted = fit(&mut items)?;

    // Heading.
    let mut y = c.y0();
    for (i, gap) in [(0, 1.8 * u), (1, 1.2 * u), (2, 0.0)] {
        c.text(&items[i], &fitted[i], hx, y);
        y += fitted[i].height() + gap;
    }
    if c.tall {
        c.divider(c.x0() + 12.0 * u, c.x1() - 12.0 * u, c.y0() + 31.0 * u);
    } else {
        c.rule(hx0, hx0 + 14.0 * u, y + 3.0 * u, 0.8);
        put!(
            c.out,
            r#"<rect x="{tx0:.1}" y="{ty0:.1}" width="{:.1}" height="{:.1}" rx="{:.1}" fill="{PANEL}" fill-opacity="0.45" stroke="{GOLD}" stroke-opacity="0.35" stroke-width="{:.2}"/>"#,
            tx1 - tx0,
            ty1 - ty0,
            1.6 * u,
            0.22 * u
        );
    }

    // Table.
    for (r, pair) in items[3..].chunks(2).enumerate() {
        let ry = ty0 + pad + r as f32 * row_h;
        if r % 2 == 0 {
            put!(
                c.out,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="{:.1}" fill="#FFFFFF" fill-opacity="0.06"/>"##,
                tx0 + pad,
                ry + 0.3 * u,
                inner_w,
                row_h - 0.6 * u,
                1.0 * u
            );
        }
        if r > 0 {
            c.rule(tx0 + pad + 1.5 * u, tx1 - pad - 1.5 * u, ry, 0.18);
        }
        let k = 3 + 2 * r;
        for (j, item) in pair.iter().enumerate() {
            let f = &fitted[k + j];
            let x = if j == 0 {
                tx0 + pad + 2.0 * u
            } else {
                tx1 - pad - 2.0 * u
            };
            c.text(item, f, x, ry + 0.5 * (row_h - f.line_height));
        }
    }
    Ok(())
}

/// Element ids of the panchang rows (`tithi-label`, `tithi-value`, …).
fn label_id(key: &str) -> &'static str {
    match key {
        "tithi" => "tithi-label",
        "nakshatra" => "nakshatra-label",
        "yoga" => "yoga-label",
        "karana" => "karana-label",
        "sunrise" => "sunrise-label",
        "sunset" => "sunset-label",
        _ => "rahu-kalam-label",
    }
}

fn value_id(key: &str) -> &'static str {
    match key {
        "tithi" => "tithi-value",
        "nakshatra" => "nakshatra-value",
        "yoga" => "yoga-value",
        "karana" => "karana-value",
        "sunrise" => "sunrise-value",
        "sunset" => "sunset-value",
        _ => "rahu-kalam-value",
    }
}

fn observance(c: &mut Canvas, o: &ObservanceCard) -> Result<(), CardError> {
    let u = c.u;
    let kicker = joined(
        &o.language.format_date(o.date),
        &xml::clean(&o.place, SHORT_CHARS, false),
    );
    let (x0, x1, anchor) = if c.tall {
        (c.x0() + 2.0 * u, c.x1() - 2.0 * u, Anchor::Middle)
    } else {
        (c.x0() + 1.0 * u, c.x0() + 0.64 * c.cw(), Anchor::Start)
    };
    if c.tall {
        c.begin(c.w * 0.5, c.h * 0.42, 0.46 * c.w);
    } else {
        c.begin(c.x0() + 0.84 * c.cw(), 0.5 * c.h, 0.42 * c.h);
    }
    let width = x1 - x0;
    let x = match anchor {
        Anchor::Middle => 0.5 * (x0 + x1),
        Anchor::Start | Anchor::End => x0,
    };
    let (title_top, title_h) = if c.tall {
        (c.y0() + 10.0 * u, 34.0 * u)
    } else {
        (c.y0() + 8.0 * u, 32.0 * u)
    };
    let desc_top = title_top + title_h + 7.0 * u;
    let mut items = [
        Item {
            id: "kicker",
            anchor,
            fill: SAFFRON,
            block: block(kicker, 700, width, 8.0 * u, (3.6 * u, 2.4 * u), 2),
        },
        Item {
            id: "title",
            anchor,
            fill: CREAM,
            block: block(
                xml::clean(&o.title, TITLE_CHARS, false),
                700,
                width,
                title_h,
                (if c.tall { 12.0 * u } else { 11.0 * u }, 5.0 * u),
                3,
            ),
        },
        Item {
            id: "description",
            anchor,
            fill: MUTED,
            block: block(
                xml::clean(&o.description, LONG_CHARS, true),
                400,
                width,
                c.body_bottom() - desc_top,
                (4.4 * u, 2.4 * u),
                14,
            ),
        },
    ];
    let fitted = fit(&mut items)?;
    c.text(&items[0], &fitted[0], x, c.y0());
    // The title sits on the lower part of its box, close to the divider.
    let t_top = title_top + (title_h - fitted[1].height()).max(0.0) * 0.7;
    c.text(&items[1], &fitted[1], x, t_top);
    let div_y = title_top + title_h + 3.0 * u;
    if c.tall {
        c.divider(c.x0() + 22.0 * u, c.x1() - 22.0 * u, div_y);
    } else {
        c.rule(x0, x0 + 14.0 * u, div_y, 0.8);
    }
    c.text(&items[2], &fitted[2], x, desc_top);
    Ok(())
}

fn teaching(c: &mut Canvas, t: &TeachingCard) -> Result<(), CardError> {
    let u = c.u;
    let (x0, x1, anchor) = if c.tall {
        (c.x0() + 3.0 * u, c.x1() - 3.0 * u, Anchor::Middle)
    } else {
        (c.x0() + 3.0 * u, c.x0() + 0.7 * c.cw(), Anchor::Start)
    };
    if c.tall {
        c.begin(c.w * 0.9, c.h * 0.08, 0.42 * c.w);
    } else {
        c.begin(c.x0() + 0.86 * c.cw(), 0.5 * c.h, 0.42 * c.h);
    }
    let width = x1 - x0;
    let x = match anchor {
        Anchor::Middle => 0.5 * (x0 + x1),
        Anchor::Start | Anchor::End => x0,
    };
    let top = c.y0() + 13.0 * u;
    let attr_h = 10.0 * u;
    let quote_h = c.body_bottom() - top - attr_h - 3.0 * u;
    let attribution = xml::clean(&t.attribution, SHORT_CHARS, false);
    let attribution = if attribution.trim().is_empty() {
        String::new()
    } else {
        format!("\u{2014} {}", attribution.trim())
    };
    let mut items = [
        Item {
            id: "quote",
            anchor,
            fill: CREAM,
            block: block(
                xml::clean(&t.quote, LONG_CHARS, true),
                400,
                width,
                quote_h,
                (6.4 * u, 2.6 * u),
                16,
            ),
        },
        Item {
            id: "attribution",
            anchor,
            fill: SAFFRON,
            block: block(attribution, 700, width, attr_h, (3.6 * u, 2.4 * u), 2),
        },
    ];
    let fitted = fit(&mut items)?;

    // The opening quotation mark, large and faint.
    let mark_size = 22.0 * u;
    put!(
        c.out,
        r#"<text id="quote-mark" x="{:.1}" y="{:.1}" font-family="'Noto Sans', sans-serif" font-size="{mark_size:.1}" font-weight="700" fill="{SAFFRON}" fill-opacity="0.55">&#x201C;</text>"#,
        c.x0() + 0.5 * u,
        c.y0() + 0.78 * mark_size
    );
    // Quote and attribution as one group, centred in the body.
    let gap = if fitted[1].lines.is_empty() {
        0.0
    } else {
        3.0 * u
    };
    let group_h = fitted[0].height() + gap + fitted[1].height();
    let body_h = c.body_bottom() - top;
    let q_top = top + ((body_h - group_h) * 0.5).max(0.0);
    c.text(&items[0], &fitted[0], x, q_top);
    c.text(&items[1], &fitted[1], x, q_top + fitted[0].height() + gap);
    Ok(())
}
