//! Runs `astro batch` on the reference sample (Swiss Ephemeris 2.10, Moshier)
//! and checks it with the reference comparer `compare.py`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code

use std::io::Write;
use std::process::{Command, Stdio};

const REF_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/astro"
);

fn run_batch(input: &str) -> String {
    run_batch_with(input, &[])
}

fn run_batch_with(input: &str, flags: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_astro"))
        .arg("batch")
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn astro batch");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(data.as_bytes()));
    let out = child.wait_with_output().expect("batch output");
    writer.join().expect("writer thread").expect("write stdin");
    assert!(out.status.success(), "astro batch failed");
    String::from_utf8(out.stdout).expect("utf8")
}

/// Runs compare.py on the batch output for the reference sample and returns its JSON report.
fn compare(flags: &[&str], compare_args: &[&str], name: &str) -> serde_json::Value {
    let sample = format!("{REF_DIR}/sample.jsonl");
    let input =
        std::fs::read_to_string(&sample).expect("reference sample (shared/ beside the repository)");
    let output = run_batch_with(&input, flags);
    assert_eq!(
        output.lines().count(),
        input.lines().filter(|l| !l.trim().is_empty()).count()
    );
    let dir = env!("CARGO_TARGET_TMPDIR");
    let cand = format!("{dir}/astro-candidate-{name}.jsonl");
    let report = format!("{dir}/astro-compare-{name}.json");
    std::fs::write(&cand, &output).expect("write candidate");
    let mut args = vec!["compare.py", "sample.jsonl", cand.as_str()];
    args.extend_from_slice(compare_args);
    args.extend_from_slice(&["--json", report.as_str()]);
    let status = Command::new("python3")
        .current_dir(REF_DIR)
        .args(&args)
        .status()
        .expect("run python3 compare.py");
    assert_eq!(
        status.code(),
        Some(0),
        "compare.py failed; see its report above"
    );
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report"))
            .expect("report json");
    assert_eq!(rep["result"], "PASS");
    let discrete = rep["discrete"].as_object().expect("discrete");
    assert!(
        discrete.len() > 50,
        "discrete fields compared: {}",
        discrete.len()
    );
    for (k, v) in discrete {
        if let Some(m) = v.get("mismatches").and_then(serde_json::Value::as_u64) {
            assert_eq!(m, 0, "{k} has mismatches");
        }
    }
    rep
}

/// The acceptance gate exactly as stated: `--max-arcsec 30`, zero mismatches,
/// on the default batch output.
#[test]
fn sample_matches_reference_within_30_arcsec() {
    let rep = compare(&[], &["--max-arcsec", "30"], "default");
    // the graha longitudes are well inside the 10" accuracy target
    for g in [
        "sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "rahu", "ketu",
    ] {
        let max = rep["angular"][g]["max_arcsec"].as_f64().expect("max");
        assert!(max < 10.0, "{g}: max {max}\"");
    }
    for f in ["ascendant", "mc"] {
        let max = rep["angular"][f]["max_arcsec"].as_f64().expect("max");
        assert!(max < 30.0, "{f}: max {max}\"");
    }
}

/// With `--with-true-node` the osculating node is gated at 60": the
/// reference's own osculating node inherits the latitude/velocity noise of
/// the Moshier lunar series, amplified ~11x by the orbit's 5 degree tilt
/// (rms ~12" against ELP/MPP02, uncorrelated with any argument); see the README.
#[test]
fn true_node_matches_reference_within_60_arcsec() {
    let rep = compare(
        &["--with-true-node"],
        &[
            "--max-arcsec",
            "30",
            "--threshold",
            "true_rahu=60",
            "--threshold",
            "true_ketu=60",
            "--ignore",
            "retrograde:true_rahu",
            "--ignore",
            "retrograde:true_ketu",
        ],
        "true-node",
    );
    assert!(
        rep["angular"]["true_rahu"]["max_arcsec"]
            .as_f64()
            .expect("true_rahu compared")
            < 60.0
    );
}

#[test]
fn malformed_lines_produce_error_lines_and_the_batch_goes_on() {
    let input = "{\"id\": 1, \"utc\": \"2000-01-01T12:00:00Z\", \"lat\": 10.0, \"lon\": 20.0}\n\
                 this is not json\n\
                 {\"id\": \"x\", \"utc\": \"yesterday\", \"lat\": 10.0, \"lon\": 20.0}\n\
                 {\"id\": 4, \"utc\": \"2000-01-01T12:00:00Z\", \"lat\": 95.0, \"lon\": 20.0}\n\
                 {\"id\": 5, \"utc\": \"1990-06-15T03:04:05Z\", \"lat\": -33.9, \"lon\": 151.2}\n";
    let out = run_batch(input);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0]["grahas"]["sun"]["lon"].is_f64());
    assert!(lines[1]["error"]
        .as_str()
        .expect("error")
        .contains("line 2"));
    assert_eq!(lines[2]["id"], "x");
    assert!(lines[2]["error"].as_str().expect("error").contains("utc"));
    assert_eq!(lines[3]["id"], 4);
    assert!(lines[3]["error"]
        .as_str()
        .expect("error")
        .contains("latitude"));
    assert!(lines[4]["grahas"]["moon"]["lon"].is_f64());
}
