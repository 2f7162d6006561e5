use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pricing",
    about = "JyotiFlow pricing: credits ledger, payments, prices and quotes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP and NATS.
    Serve,
    /// Apply database migrations (safe to run from many replicas at once).
    Migrate,
    /// Exit 0 when the local instance is ready (`--live` checks liveness only).
    Healthcheck {
        #[arg(long)]
        live: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (base, cfg) = match pricing::load_config(&[]) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pricing: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Healthcheck { live } = cli.command {
        let path = if live { "/healthz" } else { "/readyz" };
        return match platform::cli::healthcheck(&base.http.host, base.http.port, path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pricing: not healthy: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut telemetry = match platform::telemetry::init(&base.service, &base.telemetry) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pricing: telemetry: {e}");
            return ExitCode::from(2);
        }
    };
    let result = platform::cli::block_on(async move {
        match cli.command {
            Command::Serve => {
                let app = pricing::Application::build(base, cfg).await?;
                platform::shutdown::on_signals(app.shutdown_token());
                app.run_until_stopped().await
            }
            Command::Migrate => {
                let report = platform::cli::migrate(&base, pricing::MIGRATIONS).await?;
                println!(
                    "migrations applied: {:?}; already applied: {}",
                    report.applied, report.already
                );
                Ok(())
            }
            Command::Healthcheck { .. } => Ok(()),
        }
    });
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pricing: {e:#}");
            ExitCode::FAILURE
        }
    }
}
