//! `media`: the media service's binary. The service (live consultations,
//! avatar jobs) is not built yet; what exists is its Agora token builder:
//!
//! `media agora-token` reads one JSON object on stdin (the input format of
//! `../shared/reference/agora/check.py`) and prints the token.

#![forbid(unsafe_code)]

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("agora-token") => {
            let mut input = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut input) {
                eprintln!("media agora-token: reading stdin: {e}");
                return ExitCode::from(2);
            }
            match agora::token_from_json(&input) {
                Ok(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("media agora-token: {e}");
                    ExitCode::from(2)
                }
            }
        }
        _ => {
            eprintln!(
                "usage: media agora-token < case.json\n\
                 (the media service itself is not built yet: see issue #10)"
            );
            ExitCode::from(2)
        }
    }
}
