//! WebVTT captions for a spoken text: the text split into sentences (and
//! long sentences into lines of at most [`MAX_CUE_CHARS`]), each cue timed
//! in proportion to its length over the measured duration of the speech.
//! An estimate (speech rate varies within a text), not forced alignment.

/// The longest cue, in characters (about two lines on a phone).
pub const MAX_CUE_CHARS: usize = 84;

fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '।' | '॥' | '\n')
}

/// The text's sentences, trimmed, empty ones dropped.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        cur.push(c);
        // "3.5" and "..." stay inside a sentence: end only before a space or the end.
        let at_boundary = chars.peek().is_none_or(|n| n.is_whitespace());
        if is_sentence_end(c) && at_boundary {
            push_trimmed(&mut out, &cur);
            cur.clear();
        }
    }
    push_trimmed(&mut out, &cur);
    out
}

fn push_trimmed(out: &mut Vec<String>, s: &str) {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if !t.is_empty() {
        out.push(t);
    }
}

/// Splits a long sentence at word boundaries into pieces of at most `max`
/// characters (a single longer word stays whole).
fn lines(sentence: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in sentence.split_whitespace() {
        let len = cur.chars().count();
        if len > 0 && len + 1 + word.chars().count() > max {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The cues: (start ms, end ms, text).
pub fn cues(text: &str, duration_ms: u64) -> Vec<(u64, u64, String)> {
    let pieces: Vec<String> = sentences(text)
        .iter()
        .flat_map(|s| lines(s, MAX_CUE_CHARS))
        .collect();
    let total: u64 = pieces.iter().map(|p| p.chars().count() as u64).sum();
    if total == 0 || duration_ms == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(pieces.len());
    let mut seen = 0u64;
    for p in pieces {
        let start = duration_ms * seen / total;
        seen += p.chars().count() as u64;
        let end = duration_ms * seen / total;
        if end > start {
            out.push((start, end, p));
        }
    }
    out
}

fn timestamp(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The WebVTT document.
pub fn webvtt(text: &str, duration_ms: u64) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, (start, end, t)) in cues(text, duration_ms).into_iter().enumerate() {
        out.push_str(&format!(
            "\n{}\n{} --> {}\n{}\n",
            i + 1,
            timestamp(start),
            timestamp(end),
            escape(&t)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_end_at_stops_in_several_scripts() {
        assert_eq!(
            sentences("Namaste. Jupiter is strong!  Is it 3.5 years?\nYes"),
            vec!["Namaste.", "Jupiter is strong!", "Is it 3.5 years?", "Yes"]
        );
        assert_eq!(
            sentences("नमस्ते। आपका दिन शुभ हो।"),
            vec!["नमस्ते।", "आपका दिन शुभ हो।"]
        );
        assert!(sentences("  \n ").is_empty());
    }

    #[test]
    fn cues_cover_the_duration_in_proportion_to_length() {
        let c = cues("Abc. Defghijklmn.", 4000);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0], (0, 1000, "Abc.".to_owned()));
        assert_eq!(c[1], (1000, 4000, "Defghijklmn.".to_owned()));
        let long = "word ".repeat(60);
        let c = cues(&long, 10_000);
        assert!(c.len() > 2 && c.iter().all(|(_, _, t)| t.chars().count() <= MAX_CUE_CHARS));
        assert_eq!(c.last().map(|x| x.1), Some(10_000));
    }

    #[test]
    fn the_document_is_webvtt() {
        let v = webvtt("One <b>. Two & three.", 61_500);
        assert!(v.starts_with("WEBVTT\n\n1\n00:00:00.000 --> "), "{v}");
        assert!(v.contains("One &lt;b&gt;."));
        assert!(v.contains("Two &amp; three."));
        assert!(v.contains("--> 00:01:01.500\n"));
        assert_eq!(webvtt("", 1000), "WEBVTT\n");
    }
}
