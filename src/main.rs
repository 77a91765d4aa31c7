use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    leadline::telemetry::init();
    match leadline::cli::run(leadline::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("leadline: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
