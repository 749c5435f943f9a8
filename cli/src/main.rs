//! The `boxoffice` command: serve, operate and inspect.

use std::path::PathBuf;

use anyhow::Context as _;
use boxoffice::ServiceName;
use boxoffice_auth::TokenKey;
use boxoffice_config::{LogFormat, Settings};
use boxoffice_types::Role;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// A service allocates and frees many small buffers per request from every thread; glibc's
/// allocator spent an eighth of the server's time on that in the flash-sale profile
/// (BENCHMARKS.md), mimalloc a fraction of it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "boxoffice", version, about = "A ticket booking system that holds a real on-sale")]
struct Cli {
    /// A TOML file of settings; `BOXOFFICE_*` environment variables override it.
    #[arg(long, global = true, env = "BOXOFFICE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process (the default), or one of them.
    Serve {
        /// users, events, bookings, notifications or gateway.
        #[arg(long)]
        service: Option<ServiceName>,
    },
    /// Apply the database migrations (or revert them with --down-to).
    Migrate {
        /// Revert every migration newer than this version; 0 reverts all of them.
        #[arg(long)]
        down_to: Option<i64>,
    },
    /// Manage accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Operate the notifications service's emails.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Make secrets for the configuration.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Measure a running server under load.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Ask a running service whether it is ready (its admin `/readyz`, or `--url`), for a
    /// container's health check: exits 0 when it answers 200, 1 otherwise. Needs no shell.
    Health {
        /// The URL to ask; default `http://<BOXOFFICE_ADMIN_ADDR>/readyz`.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create an account with any role, such as the first admin or an organizer.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        /// admin, organizer or customer.
        #[arg(long)]
        role: Role,
        /// Defaults to the part of the email before the @.
        #[arg(long)]
        first_name: Option<String>,
        /// Defaults to the role's name.
        #[arg(long)]
        last_name: Option<String>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Many buyers at once for few tickets: holds, then payments, then a read-back that checks
    /// nothing was sold twice. Prints a table and one JSON line on stdout; fails when the
    /// read-back finds an inconsistency. Uses the same configuration as `serve`, whose signing
    /// key mints the organizer's and the buyers' tokens.
    FlashSale(boxoffice::bench::FlashSaleOptions),
    /// What open seat-map pages cost: a seated event, seats held at a steady rate with no
    /// viewer, then N availability streams open and idle, then both; prints the server's CPU and
    /// memory in each phase (with --server-pid) and how far behind the sale the streams are.
    Live(boxoffice::live_bench::LiveOptions),
    /// A waiting room under a rush: every buyer joins before the sale, then polls from the start
    /// through one or more gateways (--url again for each replica); prints joins and polls per
    /// second, the admission rate measured against the configured one, and that holds without
    /// a pass are refused. The server must run with BOXOFFICE_AUTH_RATE_LIMIT_PER_MINUTE=0.
    Queue(boxoffice::queue_bench::QueueOptions),
    /// A long, steady sale: new buyers at a steady rate, holds paid, cancelled, refunded or left
    /// to expire; prints one JSON line per minute (requests by outcome, hold p50/p99) and the
    /// read-back of the event's counts last. Fails when the counts disagree.
    Soak(boxoffice::soak_bench::SoakOptions),
}

#[derive(Subcommand)]
enum MailCommand {
    /// Put every email that failed (every try refused, e.g. while the mail server was
    /// misconfigured) back in the queue, to be tried again at once; safe while the server runs.
    RequeueFailed,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new random secret (for BOXOFFICE_JWT_SECRET, BOXOFFICE_TICKET_SECRET or
    /// BOXOFFICE_INTERNAL_TOKEN).
    Generate,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `boxoffice health`: the service's `/readyz` on its admin address, else (all services in one
/// process serve it on the public port) on its public address. Logs nothing, needs no secret.
async fn health(config: Option<&std::path::Path>, url: Option<String>) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
    let urls = match url {
        Some(url) => vec![url],
        None => {
            let settings = Settings::load(config)?;
            // A wildcard address is asked on loopback, where the probe runs.
            let local = |address: std::net::SocketAddr| {
                let ip = if address.ip().is_unspecified() { [127, 0, 0, 1].into() } else { address.ip() };
                format!("http://{}/readyz", std::net::SocketAddr::new(ip, address.port()))
            };
            vec![local(settings.admin_addr), local(settings.http_addr)]
        }
    };
    let mut last = None;
    for url in urls {
        match client.get(&url).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => last = Some(anyhow::anyhow!("{url} answers {}", response.status())),
            Err(error) => last = Some(anyhow::anyhow!("{url}: {error}")),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("nothing to ask")))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Keys { command: KeysCommand::Generate } = cli.command {
        println!("{}", TokenKey::generate_secret());
        return Ok(());
    }
    if let Command::Health { url } = &cli.command {
        return health(cli.config.as_deref(), url.clone()).await;
    }
    let settings = Settings::load(cli.config.as_deref())?;
    // Spans are exported by the servers only: a one-off command's spans would be lost at exit.
    let serving = match &cli.command {
        Command::Serve { service } => Some(
            service.map_or_else(|| "boxoffice".to_owned(), |name| format!("boxoffice-{}", name.as_str())),
        ),
        _ => None,
    };
    let tracing = boxoffice_telemetry::init_logs(&boxoffice_telemetry::LogSettings {
        json: settings.log_format == LogFormat::Json,
        otlp_endpoint: serving.as_ref().and(settings.otlp_endpoint.clone()),
        service_name: serving.unwrap_or_else(|| "boxoffice".to_owned()),
        ca_file: settings.grpc_tls_ca_file.clone(),
    })?;
    match cli.command {
        Command::Serve { service } => {
            let served = serve(&settings, service).await;
            // The last spans are sent before the process ends.
            let _ = tokio::task::spawn_blocking(move || tracing.shutdown()).await;
            served
        }
        Command::Migrate { down_to } => {
            let new_data_dir = boxoffice::data_dir_is_new(&settings);
            match down_to {
                None => {
                    boxoffice::migrate(&settings).await?;
                    println!("migrations applied");
                }
                Some(version) => {
                    boxoffice::revert_migrations(&settings, version).await?;
                    println!("migrations reverted to version {version}");
                }
            }
            println!("{}", boxoffice::where_it_went(&settings, &boxoffice::SERVICES_WITH_DATA, new_data_dir));
            Ok(())
        }
        Command::Users { command: UsersCommand::Add { email, password, role, first_name, last_name } } => {
            // Said before anything is written: an operator who runs this from another directory
            // than the server's learns at once that the account goes elsewhere.
            let new_data_dir = boxoffice::data_dir_is_new(&settings);
            let kv = boxoffice::open_kv(&settings).await?;
            let users = boxoffice::users(&settings, kv, boxoffice::token_key(&settings)?).await?;
            let local_part = email.split('@').next().unwrap_or_default().to_owned();
            let first_name = first_name.unwrap_or(local_part);
            let last_name = last_name.unwrap_or_else(|| capitalized(role.as_str()));
            let account = boxoffice_users::NewAccount {
                email: &email,
                password: &password,
                first_name: &first_name,
                last_name: &last_name,
                role,
            };
            let user = users.create_account(account).await.map_err(|error| anyhow::anyhow!(error.detail))?;
            println!("created {} {} (id {})", user.role, user.email, user.id);
            println!("{}", boxoffice::where_it_went(&settings, &["users"], new_data_dir));
            Ok(())
        }
        Command::Mail { command: MailCommand::RequeueFailed } => {
            let new_data_dir = boxoffice::data_dir_is_new(&settings);
            let requeued = boxoffice::requeue_failed_mail(&settings).await?;
            println!("{requeued} failed emails put back in the queue");
            println!("{}", boxoffice::where_it_went(&settings, &["notifications"], new_data_dir));
            Ok(())
        }
        Command::Bench { command: BenchCommand::FlashSale(options) } => {
            let report = boxoffice::bench::flash_sale(&options, &settings).await?;
            print!("{}", report.table());
            println!("{}", report.json_line());
            anyhow::ensure!(report.consistent, "the read-back found inconsistencies: {:?}", report.problems);
            Ok(())
        }
        Command::Bench { command: BenchCommand::Queue(options) } => {
            let report = boxoffice::queue_bench::queue(&options, &settings).await?;
            print!("{}", report.table());
            println!("{}", report.json_line());
            Ok(())
        }
        Command::Bench { command: BenchCommand::Soak(options) } => {
            let ending = boxoffice::soak_bench::soak(&options, &settings).await?;
            println!("{}", serde_json::to_string(&ending)?);
            anyhow::ensure!(ending.consistent, "the read-back disagrees: {}", ending.problems.join("; "));
            Ok(())
        }
        Command::Bench { command: BenchCommand::Live(options) } => {
            let report = boxoffice::live_bench::live(&options, &settings).await?;
            print!("{}", report.table());
            println!("{}", report.json_line());
            Ok(())
        }
        Command::Keys { .. } | Command::Health { .. } => unreachable!("handled before the settings are read"),
    }
}

async fn serve(settings: &Settings, service: Option<ServiceName>) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let running = boxoffice::start(settings, service, shutdown.clone()).await?;
    let stop = running.stopper();
    tokio::spawn(async move {
        match shutdown_signal().await {
            Ok(()) => tracing::info!(
                drain_s = boxoffice::DRAIN_BEFORE_STOP.as_secs_f64(),
                "shutting down: not ready, then finishing the requests in flight"
            ),
            Err(error) => tracing::error!(error = %error, "listening for shutdown signals fails"),
        }
        stop.await;
    });
    running.wait().await.context("a service stopped with an error")
}

async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}
