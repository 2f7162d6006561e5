//! What the fake networks share: a local actix-web server on port 0,
//! request parameters from JSON, form or multipart bodies, the bearer
//! token, and scripted faults.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A running fake; stopped when dropped.
pub struct Server {
    pub base_url: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Server {
    fn drop(&mut self) {
        let h = self.handle.clone();
        tokio::spawn(async move { h.stop(false).await });
    }
}

pub fn serve(configure: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(web::PayloadConfig::new(64 << 20))
            .configure(configure.clone())
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Server {
        base_url: format!("http://127.0.0.1:{port}"),
        handle,
    }
}

/// An uploaded file of a multipart body.
#[derive(Clone, Debug)]
pub struct FilePart {
    pub file_name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Request parameters from the query string and the body.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pub fields: HashMap<String, String>,
    pub files: HashMap<String, FilePart>,
    pub json: Value,
}

impl Params {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.fields.get(k).map(String::as_str)
    }
}

fn decode_form(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |x: &str| {
                percent_encoding::percent_decode_str(&x.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn multipart(boundary: &str, body: &[u8], p: &mut Params) {
    let delim = format!("--{boundary}");
    let mut rest = body;
    while let Some(start) = find(rest, delim.as_bytes()) {
        rest = &rest[start + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let rest_part = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let Some(end) = find(rest_part, delim.as_bytes()) else {
            break;
        };
        let part = &rest_part[..end];
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]).into_owned();
        let data = part[split + 4..].to_vec();
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            head.find(&key).map(|i| {
                let s = &head[i + key.len()..];
                s[..s.find('"').unwrap_or(s.len())].to_owned()
            })
        };
        let name = attr("name").unwrap_or_default();
        let content_type = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type:")
                    .map(|_| l["content-type:".len()..].trim().to_owned())
            })
            .unwrap_or_default();
        match head.contains("filename=\"") {
            true => {
                p.files.insert(
                    name,
                    FilePart {
                        file_name: attr("filename").unwrap_or_default(),
                        content_type,
                        data,
                    },
                );
            }
            false => {
                p.fields
                    .insert(name, String::from_utf8_lossy(&data).into_owned());
            }
        }
        rest = &rest_part[end..];
    }
}

/// The query string's and the body's parameters.
pub fn params(req: &HttpRequest, body: &[u8]) -> Params {
    let mut p = Params {
        fields: decode_form(req.query_string()),
        ..Default::default()
    };
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if ct.starts_with("application/json") {
        p.json = serde_json::from_slice(body).unwrap_or(Value::Null);
        if let Some(o) = p.json.as_object() {
            for (k, v) in o {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                p.fields.insert(k.clone(), s);
            }
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        p.fields.extend(decode_form(&String::from_utf8_lossy(body)));
    } else if let Some(b) = ct.split("boundary=").nth(1) {
        multipart(b.trim_matches('"'), body, &mut p);
    }
    p
}

/// The bearer token of the request.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

/// A scripted misbehaviour for the next publishing request(s).
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status, headers and JSON body, doing nothing.
    Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
    /// Do the work, then answer only after this delay (beyond the client's
    /// timeout: the answer is lost).
    AcceptThenDelay(Duration),
}

impl Fault {
    pub fn status(status: u16, body: Value) -> Fault {
        Fault::Answer {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub fn response(&self) -> Option<HttpResponse> {
        match self {
            Fault::Answer {
                status,
                headers,
                body,
            } => {
                let mut r =
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(*status).unwrap());
                for (k, v) in headers {
                    r.insert_header((*k, v.as_str()));
                }
                Some(r.json(body))
            }
            Fault::AcceptThenDelay(_) => None,
        }
    }
}

/// Faults to apply, in order, to the publishing requests of a fake, and
/// the times those requests arrived.
#[derive(Default)]
pub struct Script {
    faults: Mutex<VecDeque<Fault>>,
    pub arrivals: Mutex<Vec<Instant>>,
}

impl Script {
    pub fn push(&self, f: Fault) {
        self.faults.lock().unwrap().push_back(f);
    }

    /// Records an arrival and takes the next fault.
    pub fn next(&self) -> Option<Fault> {
        self.arrivals.lock().unwrap().push(Instant::now());
        self.faults.lock().unwrap().pop_front()
    }

    pub fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }
}

/// Answers `ok` now, or after the fault's delay.
pub async fn deliver(fault: Option<Fault>, ok: HttpResponse) -> HttpResponse {
    if let Some(Fault::AcceptThenDelay(d)) = fault {
        tokio::time::sleep(d).await;
    }
    ok
}
