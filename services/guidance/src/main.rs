use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "guidance",
    about = "JyotiFlow guidance: knowledge base, retrieval, language models, grounded answers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Standard(platform::cli::Command),
    /// Load the knowledge corpus (knowledge.dir) into the database:
    /// validated first, idempotent, versioned, only changed chunks embedded.
    Seed {
        /// The corpus folder (default: knowledge.dir).
        #[arg(long)]
        dir: Option<String>,
        /// Only validate the corpus; write nothing.
        #[arg(long)]
        check: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Standard(cmd) => platform::cli::run_standard(
            "guidance",
            cmd,
            guidance::load_config(&[]),
            guidance::MIGRATIONS,
            |base, cfg| async move {
                let app = guidance::Application::build(base, cfg).await?;
                platform::shutdown::on_signals(app.shutdown_token());
                app.run_until_stopped().await
            },
        ),
        Command::Seed { dir, check } => match guidance::load_config(&[]) {
            Ok((base, cfg)) => platform::cli::run_task("guidance", &base.clone(), async move {
                guidance::knowledge::seed_command(base, cfg, dir, check)
                    .await
                    .map(|_| ())
            }),
            Err(e) => {
                eprintln!("guidance: {e}");
                ExitCode::from(2)
            }
        },
    }
}
