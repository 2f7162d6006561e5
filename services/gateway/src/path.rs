//! Request paths, normalised once at the edge.
//!
//! The gateway authorises and routes on the path it sends upstream, so the
//! two must be the same string, and no URL parser further along may read
//! that string differently. [`normalize`] therefore:
//!
//! 1. treats `\` as `/` (as WHATWG URL parsers do for http URLs);
//! 2. percent-decodes unreserved characters (`A-Z a-z 0-9 - . _ ~`) once and
//!    upper-cases every other escape; any other byte outside RFC 3986's
//!    `pchar` set, or a malformed escape, is refused;
//! 3. drops `;` path parameters from every segment (`/a;x=1/b` is `/a/b`);
//! 4. collapses repeated slashes and resolves `.` and `..` segments (`..`
//!    above the root is refused);
//! 5. refuses a segment that, decoded once more, is a dot segment or holds
//!    an encoded slash, backslash or dot (`%252e`, `%2F`, `%5C`), or a
//!    control character.
//!
//! The result has no dot segments and no character a URL parser rewrites;
//! [`upstream_url`] builds the upstream URL from it and refuses the request
//! if the parsed URL's path differs in any way.

use common::ErrorCode;
use platform::AppError;

fn invalid(message: &str) -> AppError {
    AppError::new(
        ErrorCode::InvalidPath,
        format!("invalid request path: {message}"),
    )
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `pchar` without `%` (escapes are handled separately), plus `/`.
fn is_path_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One pass over the path: decode unreserved escapes, upper-case the rest,
/// `\` to `/`, refuse bytes a path may not hold.
fn decode_unreserved(raw: &str) -> Result<String, AppError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(invalid("malformed percent escape"));
            };
            let v = h * 16 + l;
            if is_unreserved(v) {
                out.push(char::from(v));
            } else {
                out.push_str(&format!("%{v:02X}"));
            }
            i += 3;
        } else if b == b'\\' {
            out.push('/');
            i += 1;
        } else if is_path_char(b) {
            out.push(char::from(b));
            i += 1;
        } else {
            return Err(invalid("character not allowed in a path"));
        }
    }
    Ok(out)
}

/// Decodes every escape of a segment once (bytes, not necessarily UTF-8).
fn decode_all(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn check_segment(segment: &str) -> Result<(), AppError> {
    let once = decode_all(segment);
    if once == b"." || once == b".." {
        return Err(invalid("encoded dot segment"));
    }
    if once.iter().any(|b| matches!(b, b'/' | b'\\')) {
        return Err(invalid("encoded slash"));
    }
    if once.iter().any(|b| b.is_ascii_control()) {
        return Err(invalid("control character"));
    }
    let lower = segment.to_ascii_lowercase();
    if ["%252e", "%252f", "%255c"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return Err(invalid("doubly encoded dot or slash"));
    }
    Ok(())
}

/// The normalised form of a request path (see the module documentation).
pub fn normalize(raw: &str) -> Result<String, AppError> {
    if !raw.starts_with('/') && !raw.starts_with('\\') {
        return Err(invalid("must start with /"));
    }
    let decoded = decode_unreserved(raw)?;
    let trailing_slash = decoded.len() > 1 && decoded.ends_with('/');
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        let seg = seg.split(';').next().unwrap_or("");
        match seg {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(invalid("goes above the root"));
                }
            }
            s => {
                check_segment(s)?;
                segments.push(s);
            }
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    Ok(out)
}

/// The upstream URL for an already normalised path: `base` + `path` +
/// `?query`. Refused if the URL parser would read the path differently.
pub fn upstream_url(base: &str, path: &str, query: &str) -> Result<reqwest::Url, AppError> {
    let mut url = reqwest::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
        .map_err(|_| invalid("cannot be forwarded"))?;
    if url.path() != path {
        return Err(invalid("cannot be forwarded unchanged"));
    }
    if !query.is_empty() {
        url.set_query(Some(query));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ok(raw: &str) -> String {
        normalize(raw).unwrap_or_else(|e| panic!("{raw}: {}", e.message))
    }

    fn refused(raw: &str) {
        let e = normalize(raw).expect_err(raw);
        assert_eq!(e.code, ErrorCode::InvalidPath, "{raw}");
    }

    #[test]
    fn dot_segments_and_escapes_resolve() {
        assert_eq!(ok("/api/v1/charts"), "/api/v1/charts");
        assert_eq!(ok("/api/v1/charts/"), "/api/v1/charts/");
        assert_eq!(ok("/api//v1///charts"), "/api/v1/charts");
        assert_eq!(ok("/api/v1/./charts"), "/api/v1/charts");
        assert_eq!(ok("/api/v1/x/../charts"), "/api/v1/charts");
        assert_eq!(
            ok("/api/v1/credits/%2e%2e/%2e%2e/%2e%2e/internal/v1/credits/holds"),
            "/internal/v1/credits/holds"
        );
        assert_eq!(
            ok("/api/v1/places/%2E%2E/%2e%2E/%2e%2e/metrics"),
            "/metrics"
        );
        assert_eq!(ok("/api/v1/ch%61rts"), "/api/v1/charts");
        assert_eq!(ok("/api\\v1\\charts"), "/api/v1/charts");
        assert_eq!(ok("/api/v1;x=1/charts;jsessionid=2"), "/api/v1/charts");
        assert_eq!(ok("/api/v1/..;/..;/metrics"), "/metrics");
        assert_eq!(ok("/api/v1/places/caf%c3%a9"), "/api/v1/places/caf%C3%A9");
        assert_eq!(ok("/"), "/");
        assert_eq!(ok("//"), "/");
    }

    #[test]
    fn what_cannot_be_normalised_is_refused() {
        refused("/../metrics");
        refused("/api/../../metrics");
        refused("/api/v1/charts/%2f..%2fmetrics");
        refused("/api/v1/charts/%2F");
        refused("/api/v1/charts/%5c..%5cmetrics");
        refused("/api/v1/charts/%252e%252e/x");
        refused("/api/v1/charts/%252fx");
        refused("/api/v1/charts/%00");
        refused("/api/v1/charts/%0a");
        refused("/api/v1/charts/%zz");
        refused("/api/v1/charts/%2");
        refused("/api/v1/charts/a b");
        refused("/api/v1/charts/\u{e9}");
        refused("/api/v1/charts/<x>");
        refused("api/v1/charts");
    }

    #[test]
    fn upstream_urls_keep_the_path() {
        let u = upstream_url("http://127.0.0.1:8081/", "/api/v1/charts", "a=1&b=%20").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:8081/api/v1/charts?a=1&b=%20");
        let u = upstream_url("http://h", "/api/v1/x", "q=#frag").unwrap();
        assert_eq!(u.path(), "/api/v1/x");
        assert_eq!(u.fragment(), None);
    }
}

/// Generated paths against the shipped route table: whatever a client
/// sends, the path that reaches an upstream equals the normalised path and
/// lies inside the prefix of the route that authorised it.
#[cfg(test)]
mod fuzz {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::default_routes;
    use crate::proxy::match_route;
    use proptest::prelude::*;

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "/",
            "\\",
            "//",
            ".",
            "..",
            "%2e",
            "%2E",
            "%2e%2e",
            ".%2e",
            "%2f",
            "%2F",
            "%5c",
            "%5C",
            "%25",
            "%252e",
            "%252f",
            "%00",
            "%0a",
            "%41",
            "%7e",
            ";",
            ";x=1",
            "..;",
            "api",
            "v1",
            "charts",
            "credits",
            "places",
            "admin",
            "pricing",
            "internal",
            "metrics",
            "openapi.json",
            "healthz",
            "a",
            "%20",
            "%3f",
            "%23",
            "?",
            "#",
            "@",
            ":",
            "~",
            "é",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20_000, .. ProptestConfig::default() })]

        #[test]
        fn no_path_escapes_its_route(
            prefix in prop::sample::select(vec![
                "/api/v1/charts/", "/api/v1/places/", "/api/v1/credits/", "/api/v1/pricing/services/",
                "/api/v1/payments/stripe/webhook/", "/api/v1/admin/charts/", "/api/", "/",
            ]),
            pieces in prop::collection::vec(piece(), 0..12),
        ) {
            let raw = format!("{prefix}{}", pieces.concat());
            let routes = default_routes();
            if let Ok(norm) = normalize(&raw) {
                prop_assert!(!norm.contains("/../") && !norm.ends_with("/..") && !norm.contains("/./"));
                prop_assert!(!norm.contains("//"));
                let again = normalize(&norm).ok();
                prop_assert_eq!(again.as_deref(), Some(norm.as_str()), "idempotent");
                if let Some(route) = match_route(&routes, &norm) {
                    // What the gateway would send, parsed back the way the upstream will.
                    let url = upstream_url("http://127.0.0.1:8081", &norm, "q=1").unwrap();
                    let sent = url.path();
                    prop_assert_eq!(sent, norm.as_str());
                    let p = route.prefix.trim_end_matches('/');
                    prop_assert!(sent == p || sent.starts_with(&format!("{p}/")), "{sent} outside {p}");
                    // Nothing the upstream decodes can turn into a dot segment or a slash.
                    let decoded = decode_all(sent);
                    let text = String::from_utf8_lossy(&decoded);
                    prop_assert!(!text.split('/').any(|s| s == "." || s == ".."), "{text}");
                }
            }
        }
    }
}
