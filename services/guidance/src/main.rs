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
    /// Rewrites a GGUF model with Q8_0 weights (candle runs Q8_0 with SIMD
    /// kernels; the shipped Q4_1 is several times slower), keeping its metadata.
    ConvertModel {
        #[arg(long)]
        input: std::path::PathBuf,
        #[arg(long)]
        output: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
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
        Command::ConvertModel { input, output } => {
            match guidance::llm::local::convert_gguf(&input, &output) {
                Ok(c) => {
                    println!(
                        "wrote {} ({} bytes): {} tensors requantized to Q8_0, {} kept",
                        output.display(),
                        c.bytes,
                        c.requantized,
                        c.kept
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("convert-model: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Standard(cmd) => {
            let loaded = guidance::load_config(&[]);
            if let Ok((_, cfg)) = &loaded {
                // Before any thread exists: candle reads these once.
                guidance::llm::local::set_threads(cfg.llm.local.threads);
            }
            platform::cli::run_standard(
                "guidance",
                cmd,
                loaded,
                guidance::MIGRATIONS,
                |base, cfg| async move {
                    let app = guidance::Application::build(base, cfg).await?;
                    platform::shutdown::on_signals(app.shutdown_token());
                    app.run_until_stopped().await
                },
            )
        }
    }
}
