//! Escaping and cleaning of the text that goes into card SVGs.

use unicode_normalization::UnicodeNormalization;

/// Appends `s` to `out` escaped for XML character data and attribute
/// values (`&`, `<`, `>`, `"`, `'`). Characters XML 1.0 cannot carry at all
/// (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF) are dropped, so
/// the result always parses.
pub fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

/// `s` escaped for XML character data and attribute values: `&`, `<`,
/// `>`, `"` and `'` become entities, and characters XML 1.0 cannot carry
/// (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF) are dropped, so
/// the result always parses and reads back as the text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    push_escaped(&mut out, s);
    out
}

/// The `Char` production of XML 1.0 (Rust's `char` already excludes
/// surrogates).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Card text as it is laid out: NFC, at most `max_chars` characters, no
/// control or bidi-override characters, tabs and odd spaces made plain
/// spaces, and line breaks kept only where `keep_newlines` (paragraphs of
/// long text); everything else on one line.
pub(crate) fn clean(s: &str, max_chars: usize, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    for c in s.nfc().take(max_chars) {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\r' if keep_newlines => {}
            c if c.is_whitespace() => out.push(' '),
            // Bidi embeddings, overrides and isolates would let a value
            // reorder the text around it.
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {}
            c if c.is_control() || !is_xml_char(c) => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_characters() {
        assert_eq!(escape("<&>\"'"), "&lt;&amp;&gt;&quot;&apos;");
        assert_eq!(
            escape("</text><script>alert(1)</script>"),
            "&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape("ஏகாதசி एकादशी"), "ஏகாதசி एकादशी");
        assert_eq!(escape("a\u{0}b\u{1b}c\u{FFFF}"), "abc");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn escaped_text_parses_back_to_itself() {
        let nasty = "]]> <!-- x --> &amp; <?pi?> \"q\" 'a' <![CDATA[y]]>";
        let doc = format!("<r a=\"{0}\" b='{0}'>{0}</r>", escape(nasty));
        let parsed = resvg::usvg::roxmltree::Document::parse(&doc).unwrap();
        let root = parsed.root_element();
        assert_eq!(root.text(), Some(nasty));
        assert_eq!(root.attribute("a"), Some(nasty));
        assert_eq!(root.attribute("b"), Some(nasty));
    }

    #[test]
    fn clean_normalises_and_bounds() {
        assert_eq!(clean("a\tb\u{a0}c\r\nd", 100, false), "a b c  d");
        assert_eq!(clean("a\r\nb", 100, true), "a\nb");
        assert_eq!(clean("x\u{202E}y\u{7}", 100, false), "xy");
        assert_eq!(clean("abcdef", 3, false), "abc");
        // NFC: decomposed Tamil "கொ" (KA + E + AA) becomes KA + O.
        assert_eq!(clean("க\u{BC6}\u{BBE}", 10, false), "க\u{BCA}");
    }
}
