//! External programs (espeak-ng, ffmpeg, ffprobe): started directly (no
//! shell; every argument is one argv entry, text goes through files), with
//! a timeout, killed when it passes or when the job is cancelled.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("{program} is not installed (or not on PATH)")]
    Missing { program: String },
    #[error("{program} did not finish within {secs} s")]
    Timeout { program: String, secs: u64 },
    #[error("cancelled")]
    Cancelled,
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("{program}: {source}")]
    Io {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} printed something unreadable: {detail}")]
    Unreadable { program: String, detail: String },
}

impl ProcError {
    /// Worth another try (a run that took too long on a busy machine).
    pub fn transient(&self) -> bool {
        matches!(self, ProcError::Timeout { .. })
    }
}

/// The last `n` characters of a program's error output, on one line.
fn tail(bytes: &[u8], n: usize) -> String {
    let s = String::from_utf8_lossy(bytes);
    let one: String = s
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let count = one.chars().count();
    if count <= n {
        one
    } else {
        let skip = count - n;
        format!("…{}", one.chars().skip(skip).collect::<String>())
    }
}

/// Runs `program args…` and returns its standard output. The child is
/// killed (SIGKILL) when `timeout` passes or `cancel` fires.
pub async fn run(
    program: &str,
    args: &[OsString],
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Vec<u8>, ProcError> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ProcError::Missing {
                program: program.to_owned(),
            }
        } else {
            ProcError::Io {
                program: program.to_owned(),
                source: e,
            }
        }
    })?;
    // Dropping the future drops the child, which kills it (kill_on_drop).
    let output = tokio::select! {
        r = child.wait_with_output() => r.map_err(|e| ProcError::Io { program: program.to_owned(), source: e })?,
        _ = tokio::time::sleep(timeout) => return Err(ProcError::Timeout { program: program.to_owned(), secs: timeout.as_secs() }),
        _ = cancel.cancelled() => return Err(ProcError::Cancelled),
    };
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(ProcError::Failed {
            program: program.to_owned(),
            status: output.status.to_string(),
            stderr: tail(&output.stderr, 400),
        })
    }
}

/// What ffprobe says about a media file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Probe {
    pub duration_secs: f64,
    /// `codec_type:codec_name` of each stream, in order.
    pub streams: Vec<(String, String)>,
}

impl Probe {
    pub fn has(&self, codec_type: &str) -> bool {
        self.streams.iter().any(|(t, _)| t == codec_type)
    }
}

/// Parses `ffprobe -show_entries format=duration:stream=codec_type,codec_name -of json`.
pub fn parse_probe(json: &[u8]) -> Option<Probe> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    let duration_secs = v["format"]["duration"].as_str()?.parse::<f64>().ok()?;
    if !duration_secs.is_finite() || duration_secs < 0.0 {
        return None;
    }
    let streams = v["streams"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["codec_type"].as_str().unwrap_or("").to_owned(),
                        s["codec_name"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Probe {
        duration_secs,
        streams,
    })
}

/// Runs ffprobe on `file`.
pub async fn probe(
    ffprobe: &str,
    file: &Path,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Probe, ProcError> {
    let args: Vec<OsString> = vec![
        "-v".into(),
        "error".into(),
        "-show_entries".into(),
        "format=duration:stream=codec_type,codec_name".into(),
        "-of".into(),
        "json".into(),
        file.as_os_str().to_owned(),
    ];
    let out = run(ffprobe, &args, timeout, cancel).await?;
    parse_probe(&out).ok_or_else(|| ProcError::Unreadable {
        program: ffprobe.to_owned(),
        detail: tail(&out, 200),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn probe_output_is_read() {
        let p = parse_probe(
            br#"{"programs": [], "streams": [{"codec_name": "h264", "codec_type": "video"},
                {"codec_name": "aac", "codec_type": "audio"}], "format": {"duration": "5.033000"}}"#,
        )
        .unwrap();
        assert!((p.duration_secs - 5.033).abs() < 1e-9);
        assert!(p.has("video") && p.has("audio") && !p.has("subtitle"));
        assert!(parse_probe(b"{}").is_none());
        assert!(parse_probe(br#"{"format": {"duration": "N/A"}}"#).is_none());
    }

    #[test]
    fn error_output_is_cut_to_its_end() {
        assert_eq!(tail(b"short\nline", 100), "short line");
        let t = tail("x".repeat(500).as_bytes(), 10);
        assert_eq!(t.chars().count(), 11);
    }

    #[tokio::test]
    async fn a_missing_program_and_a_slow_one_are_told_apart() {
        let c = CancellationToken::new();
        let e = run("no-such-program-here", &[], Duration::from_secs(1), &c)
            .await
            .unwrap_err();
        assert!(matches!(e, ProcError::Missing { .. }));
        let e = run("sleep", &["5".into()], Duration::from_millis(100), &c)
            .await
            .unwrap_err();
        assert!(e.transient(), "{e}");
        c.cancel();
        let e = run("sleep", &["5".into()], Duration::from_secs(10), &c)
            .await
            .unwrap_err();
        assert!(matches!(e, ProcError::Cancelled));
    }
}
