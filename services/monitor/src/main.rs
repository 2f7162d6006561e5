use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "monitor",
    about = "JyotiFlow monitor: service, database and messaging health, schema drift, incidents and safe repairs"
)]
struct Cli {
    #[command(subcommand)]
    command: platform::cli::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    platform::cli::run_standard(
        "monitor",
        cli.command,
        monitor::load_config(&[]),
        monitor::MIGRATIONS,
        |base, cfg| async move {
            let app = monitor::Application::build(base, cfg).await?;
            platform::shutdown::on_signals(app.shutdown_token());
            app.run_until_stopped().await
        },
    )
}
