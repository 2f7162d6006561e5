use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pricing",
    about = "JyotiFlow pricing: credits ledger, payments, prices and quotes"
)]
struct Cli {
    #[command(subcommand)]
    command: platform::cli::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    platform::cli::run_standard(
        "pricing",
        cli.command,
        pricing::load_config(&[]),
        pricing::MIGRATIONS,
        |base, cfg| async move {
            let app = pricing::Application::build(base, cfg).await?;
            platform::shutdown::on_signals(app.shutdown_token());
            app.run_until_stopped().await
        },
    )
}
