use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "charts",
    about = "JyotiFlow charts: birth-chart cache, birth profiles, places, panchang"
)]
struct Cli {
    #[command(subcommand)]
    command: platform::cli::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    platform::cli::run_standard(
        "charts",
        cli.command,
        charts::load_config(&[]),
        charts::MIGRATIONS,
        |base, cfg| async move {
            let app = charts::Application::build(base, cfg).await?;
            platform::shutdown::on_signals(app.shutdown_token());
            app.run_until_stopped().await
        },
    )
}
