//! `media`: the media service's binary.

use clap::{Parser, Subcommand};
use std::io::Read;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "media",
    about = "JyotiFlow media: live consultations billed by the minute, avatar voice/video messages"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Standard(platform::cli::Command),
    /// Build an Agora token: reads one JSON case on stdin (the input of
    /// `shared/reference/agora/check.py`), prints the token.
    AgoraToken,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::AgoraToken => {
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
        Command::Standard(cmd) => platform::cli::run_standard(
            "media",
            cmd,
            media::load_config(&[]),
            media::MIGRATIONS,
            |base, cfg| async move {
                let app = media::Application::build(base, cfg).await?;
                platform::shutdown::on_signals(app.shutdown_token());
                app.run_until_stopped().await
            },
        ),
    }
}
