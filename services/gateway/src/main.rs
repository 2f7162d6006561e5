use clap::{Parser, Subcommand};
use std::io::Read;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gateway",
    about = "JyotiFlow gateway: accounts, authentication and routing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default in containers).
    Serve,
    /// Apply database migrations (safe to run from many replicas at once).
    Migrate,
    /// Exit 0 when the local instance is ready (`--live` checks liveness only).
    Healthcheck {
        #[arg(long)]
        live: bool,
    },
    /// Create an admin account (password read from standard input), or make an existing account admin.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        display_name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (base, cfg) = match gateway::load_config(&[]) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Healthcheck { live } = cli.command {
        let path = if live { "/healthz" } else { "/readyz" };
        return match platform::cli::healthcheck(&base.http.host, base.http.port, path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gateway: not healthy: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut telemetry = match platform::telemetry::init(&base.service, &base.telemetry) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gateway: telemetry: {e}");
            return ExitCode::from(2);
        }
    };
    let result = platform::cli::block_on(async move {
        match cli.command {
            Command::Serve => {
                let app = gateway::Application::build(base, cfg).await?;
                platform::shutdown::on_signals(app.shutdown_token());
                app.run_until_stopped().await
            }
            Command::Migrate => {
                let report = platform::cli::migrate(&base, gateway::MIGRATIONS).await?;
                println!(
                    "migrations applied: {:?}; already applied: {}",
                    report.applied, report.already
                );
                Ok(())
            }
            Command::CreateAdmin {
                email,
                display_name,
            } => {
                let mut password = String::new();
                std::io::stdin().read_to_string(&mut password)?;
                let password = password.trim_end_matches(['\n', '\r']).to_owned();
                let msg = gateway::create_admin(base, cfg, &email, &display_name, password).await?;
                println!("{msg}");
                Ok(())
            }
            Command::Healthcheck { .. } => Ok(()),
        }
    });
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}
