//! The command line: serve, migrate, and account management.

use clap::{Parser, Subcommand};

use crate::app::{shutdown_signal, Application};
use crate::config::Config;
use crate::db::Database;

#[derive(Debug, Parser)]
#[command(
    name = "leadline",
    version,
    about = "Every conversation with a lead — email, SMS, calls, chat — in one place."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Score the sentiment of each line of stdin; prints one JSON line per input line
    /// (`{"label":"positive","score":0.62}`). Needs no database.
    Sentiment,
    /// Manage accounts and their API keys.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage the people of an account.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Bring leads in from a file.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Create a demo account with realistic leads and conversations on every channel over
    /// the last days; prints {"account_id":…, "api_key":"…", "leads":…, "communications":…}.
    Demo {
        /// How many leads.
        #[arg(long, default_value_t = 40)]
        leads: usize,
        /// The history spreads over the last this many days.
        #[arg(long, default_value_t = 60)]
        days: u32,
        /// The demo company's (and account's) name.
        #[arg(long, default_value = "Demo Roofing Co")]
        name: String,
        /// The same seed gives the same leads and conversations (random when absent).
        #[arg(long)]
        seed: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import leads from a CSV file into an account: new emails/phones become leads
    /// (source `import` unless the file has one), known ones only get their empty fields
    /// filled. Prints the report as JSON; skipped rows and why on stderr.
    Leads(crate::imports::command::LeadsArgs),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a person to an account; prints {"user_id":…, "setup_link":"…"}: the one-time
    /// link (72 hours) where they set their password.
    Create {
        #[arg(long)]
        account: i64,
        #[arg(long)]
        email: String,
        /// owner, admin or member.
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; prints {"account_id":…, "api_key":"…"} (the key is shown once),
    /// and with --owner-email its first owner and their password setup link.
    Create {
        #[arg(long)]
        name: String,
        /// The first owner's email: prints their one-time password setup link.
        #[arg(long)]
        owner_email: Option<String>,
    },
    /// Issue another API key for an account.
    Key {
        #[arg(long)]
        account: i64,
    },
    /// Revoke a key of an account, by its prefix (`ll_1a2b3c4d`, as `GET /api/keys` lists
    /// it) or its id; its dashboard sessions end too.
    RevokeKey {
        #[arg(long)]
        account: i64,
        #[arg(long, conflicts_with = "id", required_unless_present = "id")]
        prefix: Option<String>,
        #[arg(long)]
        id: Option<i64>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    // Scoring text needs no configuration or database.
    let config = match command {
        Command::Sentiment => return score_stdin(),
        _ => Config::from_env()?,
    };
    match command {
        Command::Sentiment => score_stdin(),
        Command::Serve => {
            let app = Application::build(config).await?;
            println!("listening on http://{}", app.local_addr());
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => with_database(&config, |_| async { Ok(()) }).await,
        Command::Account { command } => {
            let base = public_base(&config);
            with_database(&config, |pool| async move {
                let issued = match command {
                    AccountCommand::Create { name, owner_email } => {
                        let issued = crate::accounts::create(&pool, &name).await?;
                        let Some(email) = owner_email else {
                            println!("{}", serde_json::to_string(&issued)?);
                            return Ok(());
                        };
                        let (user, link) = crate::team::people::create_first(
                            &pool,
                            &base,
                            issued.account_id,
                            &email,
                            "",
                            crate::auth::Role::Owner,
                        )
                        .await
                        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
                        println!(
                            "{}",
                            serde_json::json!({"account_id": issued.account_id, "api_key": issued.api_key,
                                               "owner_user_id": user.id, "setup_link": link})
                        );
                        return Ok(());
                    }
                    AccountCommand::Key { account } => {
                        crate::accounts::new_key(&pool, crate::domain::AccountId(account)).await?
                    }
                    AccountCommand::RevokeKey {
                        account,
                        prefix,
                        id,
                    } => {
                        let done = crate::keys::revoke(
                            &pool,
                            crate::domain::AccountId(account),
                            id,
                            prefix.as_deref(),
                        )
                        .await?;
                        anyhow::ensure!(done, "account {account} has no such live key");
                        println!(
                            "{}",
                            serde_json::json!({"account_id": account, "revoked": true})
                        );
                        return Ok(());
                    }
                };
                println!("{}", serde_json::to_string(&issued)?);
                Ok(())
            })
            .await
        }
        Command::User {
            command:
                UserCommand::Create {
                    account,
                    email,
                    role,
                    name,
                },
        } => {
            let role = crate::auth::Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("--role must be owner, admin or member"))?;
            let base = public_base(&config);
            with_database(&config, |pool| async move {
                let account = crate::domain::AccountId(account);
                let exists: bool =
                    sqlx::query_scalar("select exists(select 1 from accounts where id = $1)")
                        .bind(account)
                        .fetch_one(&pool)
                        .await?;
                anyhow::ensure!(exists, "no account with id {account}");
                let (user, link) =
                    crate::team::people::create_first(&pool, &base, account, &email, &name, role)
                        .await
                        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
                println!(
                    "{}",
                    serde_json::json!({"user_id": user.id, "email": user.email, "role": user.role, "setup_link": link})
                );
                Ok(())
            })
            .await
        }
        Command::Import {
            command: ImportCommand::Leads(args),
        } => {
            let region = config.default_region;
            with_database(&config, |pool| async move {
                crate::imports::command::run(pool, region, args).await
            })
            .await
        }
        Command::Demo {
            leads,
            days,
            name,
            seed,
        } => {
            let options = crate::demo::DemoOptions {
                leads,
                days,
                name,
                seed,
                progress: true,
            };
            options.validate()?;
            let demo_config = config.clone();
            with_database(&config, |pool| async move {
                let summary = crate::demo::run(demo_config, pool, options).await?;
                println!("{}", serde_json::to_string(&summary)?);
                Ok(())
            })
            .await
        }
    }
}

/// Where links printed by the command line point: `LEADLINE_PUBLIC_URL`, else the
/// address the server binds.
fn public_base(config: &Config) -> String {
    match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("http://{}", config.bind),
    }
}

/// Connects and migrates, runs `f`, then stops the embedded cluster if this command started it.
async fn with_database<F, Fut>(config: &Config, f: F) -> anyhow::Result<()>
where
    F: FnOnce(sqlx::PgPool) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let db = Database::connect(config).await?;
    let result = match db.migrate().await {
        Ok(()) => f(db.pool.clone()).await,
        Err(e) => Err(e),
    };
    db.shutdown().await;
    result
}

fn score_stdin() -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.split(b'\n') {
        let line = line?;
        let s = crate::tracker::sentiment::analyze(&String::from_utf8_lossy(&line));
        writeln!(
            out,
            "{{\"label\":\"{}\",\"score\":{}}}",
            s.label.as_str(),
            s.score
        )?;
    }
    out.flush()?;
    Ok(())
}
