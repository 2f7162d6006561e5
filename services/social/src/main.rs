use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "social",
    about = "JyotiFlow social: daily content, image cards, an approval calendar and idempotent publishing"
)]
struct Cli {
    #[command(subcommand)]
    command: platform::cli::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    platform::cli::run_standard(
        "social",
        cli.command,
        social::load_config(&[]),
        social::MIGRATIONS,
        |base, cfg| async move {
            let app = social::Application::build(base, cfg).await?;
            platform::shutdown::on_signals(app.shutdown_token());
            app.run_until_stopped().await
        },
    )
}
