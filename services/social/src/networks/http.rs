//! What every client shares: building clients, sending, reading bounded
//! answers, transport errors without URLs, `Retry-After`, scrubbing
//! provider messages, form and multipart bodies.

use super::{Network, NetworkError, NetworkResult};
use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Largest answer read from a network.
pub(crate) const MAX_BODY: usize = 8 * 1024 * 1024;

/// A client with TLS ready, the given overall timeout and no redirects (a
/// redirect must never carry a token to another host).
pub(crate) fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(platform::http_client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// Checks a configured base URL: http(s), no trailing slash kept.
pub(crate) fn base_url(network: Network, url: &str) -> anyhow::Result<String> {
    let u = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(u)
        .map_err(|e| anyhow::anyhow!("{network}: base_url {u:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        anyhow::bail!("{network}: base_url {u:?} must be an http(s) URL");
    }
    Ok(u.to_owned())
}

/// A complete answer.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self, network: Network) -> NetworkResult<T> {
        serde_json::from_slice(&self.body).map_err(|e| NetworkError::InvalidResponse {
            network,
            reason: format!("unreadable JSON (HTTP {}): {e}", self.status.as_u16()),
        })
    }

    pub fn value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends and reads the whole answer (at most [`MAX_BODY`]).
pub(crate) async fn send(network: Network, rb: reqwest::RequestBuilder) -> NetworkResult<Answer> {
    let mut r = rb.send().await.map_err(|e| transport(network, e))?;
    let status = r.status();
    let headers = r.headers().clone();
    if r.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(NetworkError::InvalidResponse {
            network,
            reason: format!("an answer larger than {MAX_BODY} bytes"),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(|e| transport(network, e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(NetworkError::InvalidResponse {
                network,
                reason: format!("an answer larger than {MAX_BODY} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body: Bytes::from(body),
    })
}

/// A transport failure, described without the request URL (Telegram's
/// carries the bot token).
pub(crate) fn transport(network: Network, e: reqwest::Error) -> NetworkError {
    if e.is_builder() {
        return NetworkError::Invalid {
            network,
            reason: format!("the request could not be built: {}", e.without_url()),
        };
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not be reached"
    } else {
        "request failed"
    };
    let request_sent = !e.is_connect();
    let e = e.without_url();
    // The causes (hyper's, the OS's) name no URL; keep the first few.
    let mut reason = format!("{what}: {e}");
    let mut cause = std::error::Error::source(&e);
    for _ in 0..3 {
        let Some(c) = cause else { break };
        reason.push_str(&format!(": {c}"));
        cause = c.source();
    }
    NetworkError::Unavailable {
        network,
        reason,
        request_sent,
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = (when.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
    Some(Duration::from_millis(ms.max(0) as u64))
}

/// A provider's message made safe to keep: the secret removed, one line,
/// at most 300 characters.
pub(crate) fn clean(message: &str, secret: &str) -> String {
    let redacted = if secret.len() >= 4 {
        message.replace(secret, "[redacted]")
    } else {
        message.to_owned()
    };
    let one_line: String = redacted
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    one_line.trim().to_owned()
}

/// The answer's body as a short message, when it has no structured one.
pub(crate) fn body_text(body: &[u8], secret: &str) -> String {
    clean(
        &String::from_utf8_lossy(&body[..body.len().min(1024)]),
        secret,
    )
}

/// An id used as a path segment: plain characters only.
pub(crate) fn plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

pub(crate) fn check_id(network: Network, what: &str, id: &str) -> NetworkResult<()> {
    if plain_id(id) {
        Ok(())
    } else {
        Err(NetworkError::Invalid {
            network,
            reason: format!("the {what} is not a valid id"),
        })
    }
}

/// `base` + `path` with `query` appended.
pub(crate) fn url(
    network: Network,
    base: &str,
    path: &str,
    query: &[(&str, &str)],
) -> NetworkResult<reqwest::Url> {
    let mut u =
        reqwest::Url::parse(&format!("{base}{path}")).map_err(|e| NetworkError::Invalid {
            network,
            reason: format!("bad request URL: {e}"),
        })?;
    if !query.is_empty() {
        let mut q = u.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    Ok(u)
}

/// `application/x-www-form-urlencoded` characters left as they are.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An `application/x-www-form-urlencoded` body.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, FORM),
                utf8_percent_encode(v, FORM)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A `multipart/form-data` body (RFC 7578).
pub(crate) struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

fn quoted(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\r' | '\n' | '\\' => '_',
            c => c,
        })
        .collect()
}

impl Multipart {
    pub fn new() -> Multipart {
        let n: u128 = rand::thread_rng().gen();
        Multipart {
            boundary: format!("jyotiflow-{n:032x}"),
            body: Vec::new(),
        }
    }

    fn head(&mut self, disposition: &str, content_type: Option<&str>) {
        self.body.extend_from_slice(b"--");
        self.body.extend_from_slice(self.boundary.as_bytes());
        self.body
            .extend_from_slice(b"\r\nContent-Disposition: form-data; ");
        self.body.extend_from_slice(disposition.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        if let Some(ct) = content_type {
            self.body.extend_from_slice(b"Content-Type: ");
            self.body.extend_from_slice(quoted(ct).as_bytes());
            self.body.extend_from_slice(b"\r\n");
        }
        self.body.extend_from_slice(b"\r\n");
    }

    pub fn text(mut self, name: &str, value: &str) -> Multipart {
        self.head(&format!("name=\"{}\"", quoted(name)), None);
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn file(
        mut self,
        name: &str,
        file_name: &str,
        content_type: &str,
        data: &[u8],
    ) -> Multipart {
        self.head(
            &format!(
                "name=\"{}\"; filename=\"{}\"",
                quoted(name),
                quoted(file_name)
            ),
            Some(content_type),
        );
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// The `Content-Type` header and the body.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.body.extend_from_slice(b"--");
        self.body.extend_from_slice(self.boundary.as_bytes());
        self.body.extend_from_slice(b"--\r\n");
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encodes_everything_but_unreserved() {
        assert_eq!(
            form(&[("message", "a b&c=#d ॐ")]),
            "message=a%20b%26c%3D%23d%20%E0%A5%90"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn clean_scrubs_the_secret() {
        assert_eq!(
            clean("bad token EAAB123456 here\nnext", "EAAB123456"),
            "bad token [redacted] here next"
        );
    }

    #[test]
    fn multipart_layout() {
        let (ct, body) = Multipart::new()
            .text("chat_id", "@c")
            .file("photo", "a\"b.png", "image/png", b"PNG")
            .finish();
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n@c\r\n"
        )));
        assert!(text.contains("filename=\"a'b.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
