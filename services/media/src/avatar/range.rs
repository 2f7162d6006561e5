//! HTTP range requests on a stored result (RFC 9110 §14): one range,
//! `bytes=a-b`, `bytes=a-` or `bytes=-n`. A header that cannot be read,
//! another unit, or several ranges are ignored (the whole file, 200), as
//! the RFC allows; a range that starts past the end is 416.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// The whole file (200).
    Full,
    /// Bytes `start..=end` (206).
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */<size>`.
    Unsatisfiable,
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// What to send for `header` (the `Range` value, if any) of a file of `size` bytes.
pub fn parse(header: Option<&str>, size: u64) -> Range {
    let Some(h) = header else {
        return Range::Full;
    };
    let h = h.trim();
    let Some((unit, spec)) = h.split_once('=') else {
        return Range::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return Range::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        // bytes=-n: the last n bytes
        (true, false) => match number(last) {
            None => Range::Full,
            Some(0) => Range::Unsatisfiable,
            Some(_) if size == 0 => Range::Unsatisfiable,
            Some(n) => Range::Partial {
                start: size.saturating_sub(n),
                end: size - 1,
            },
        },
        // bytes=a-
        (false, true) => match number(first) {
            None => Range::Full,
            Some(a) if a >= size => Range::Unsatisfiable,
            Some(a) => Range::Partial {
                start: a,
                end: size - 1,
            },
        },
        // bytes=a-b
        (false, false) => match (number(first), number(last)) {
            (Some(a), Some(b)) if a <= b => {
                if a >= size {
                    Range::Unsatisfiable
                } else {
                    Range::Partial {
                        start: a,
                        end: b.min(size - 1),
                    }
                }
            }
            _ => Range::Full,
        },
        (true, true) => Range::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges() {
        let p = |h: &str| parse(Some(h), 1000);
        assert_eq!(parse(None, 1000), Range::Full);
        assert_eq!(p("bytes=0-99"), Range::Partial { start: 0, end: 99 });
        assert_eq!(
            p("bytes=990-2000"),
            Range::Partial {
                start: 990,
                end: 999
            }
        );
        assert_eq!(
            p("bytes=500-"),
            Range::Partial {
                start: 500,
                end: 999
            }
        );
        assert_eq!(
            p("bytes=-10"),
            Range::Partial {
                start: 990,
                end: 999
            }
        );
        assert_eq!(p("bytes=-5000"), Range::Partial { start: 0, end: 999 });
        assert_eq!(p("BYTES = 7-7"), Range::Partial { start: 7, end: 7 });
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        let p = |h: &str| parse(Some(h), 1000);
        assert_eq!(p("bytes=1000-"), Range::Unsatisfiable);
        assert_eq!(p("bytes=1000-1001"), Range::Unsatisfiable);
        assert_eq!(p("bytes=-0"), Range::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-1"), 0), Range::Unsatisfiable);
        for ignored in [
            "bytes=5-1",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "garbage",
        ] {
            assert_eq!(p(ignored), Range::Full, "{ignored}");
        }
    }
}
