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
    #[command(flatten)]
    Standard(platform::cli::Command),
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
    match cli.command {
        Command::Standard(cmd) => platform::cli::run_standard(
            "gateway",
            cmd,
            gateway::load_config(&[]),
            gateway::MIGRATIONS,
            |base, cfg| async move {
                let app = gateway::Application::build(base, cfg).await?;
                platform::shutdown::on_signals(app.shutdown_token());
                app.run_until_stopped().await
            },
        ),
        Command::CreateAdmin {
            email,
            display_name,
        } => {
            let (base, cfg) = match gateway::load_config(&[]) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("gateway: {e}");
                    return ExitCode::from(2);
                }
            };
            let telemetry_cfg = base.clone();
            platform::cli::run_task("gateway", &telemetry_cfg, async move {
                let mut password = String::new();
                std::io::stdin().read_to_string(&mut password)?;
                let password = password.trim_end_matches(['\n', '\r']).to_owned();
                let msg = gateway::create_admin(base, cfg, &email, &display_name, password).await?;
                println!("{msg}");
                Ok(())
            })
        }
    }
}
