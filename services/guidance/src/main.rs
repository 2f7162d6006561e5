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
    }
}
