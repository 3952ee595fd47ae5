//! The example hospital's interface engine: lab results from ACME mapped for St Mary's EHR,
//! ADT fanned out to the EHR, billing and pharmacy, on the embedded SQLite store.
//!
//! `cargo run -p hl7-examples --bin hospital -- --help`. Started without destination
//! addresses it runs simulated EHR, billing and pharmacy systems of its own, so it works
//! alone on one machine; `--send-examples` then feeds it the bundled sample messages.
//! `--admin 127.0.0.1:8080` with a token (`--admin-token-file` or `HL7_ADMIN_TOKEN`) serves
//! metrics, the JSON API and alerts (`hl7_runtime::admin`), and the operations dashboard at
//! `/` (sign in with the token).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use hl7_examples::engine::{builder, Setup, DESTINATIONS};
use hl7_examples::simulated::{start_sink, SinkOptions};
use hl7_runtime::ack::AckAfter;
use hl7_runtime::admin::{Admin, AdminConfig, AlertConfig, MIN_TOKEN_LEN};
use hl7_runtime::engine::{Retention, RetryPolicy};
use hl7_runtime::store::{Options, SqliteStore, Synchronous};
use hl7_runtime::transport::{ClientConfig, Identity, MllpClient, ServerTlsConfig};
use tracing_subscriber::EnvFilter;

/// The example hospital's HL7 interface engine.
#[derive(Debug, Parser)]
#[command(name = "hospital", version)]
struct Args {
    /// Inbound MLLP address (host:port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2575")]
    listen: String,
    /// The store: `sqlite:PATH` (the embedded default).
    #[arg(long, value_name = "URL", default_value = "sqlite:hospital.db")]
    store: String,
    /// St Mary's EHR (MLLP host:port). Without it a simulated EHR runs in-process.
    #[arg(long, value_name = "ADDR")]
    ehr: Option<String>,
    /// The billing system (MLLP host:port). Without it a simulated one runs in-process.
    #[arg(long, value_name = "ADDR")]
    billing: Option<String>,
    /// The pharmacy system (MLLP host:port). Without it a simulated one runs in-process.
    #[arg(long, value_name = "ADDR")]
    pharmacy: Option<String>,
    /// When the original-mode ACK is sent: once stored, or after validation and routing
    /// (then invalid messages get AE with ERR segments).
    #[arg(long, value_enum, default_value = "stored")]
    ack_after: AckAfterArg,
    /// Response timeout of the MLLP destinations, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    response_timeout_ms: u64,
    /// Send the bundled sample messages (examples/messages) to the engine once it is up.
    #[arg(long)]
    send_examples: bool,
    /// Route every message unchanged to all three destinations (the load benchmark's setup)
    /// instead of the hospital's routes.
    #[arg(long)]
    fan_out_all: bool,
    /// Log message bodies (PHI) at debug level.
    #[arg(long)]
    log_phi: bool,
    /// Serve the admin endpoint (metrics, JSON API, alerts) on this address, e.g.
    /// 127.0.0.1:8080. Off by default. Needs a token: --admin-token-file or HL7_ADMIN_TOKEN.
    #[arg(long, value_name = "ADDR")]
    admin: Option<String>,
    /// File holding the admin token (at least 16 characters; user `admin`). Without it the
    /// token is read from the HL7_ADMIN_TOKEN environment variable.
    #[arg(long, value_name = "FILE", requires = "admin")]
    admin_token_file: Option<PathBuf>,
    /// Let the admin endpoint listen on an address that is not loopback.
    #[arg(long, requires = "admin")]
    admin_allow_remote: bool,
    /// Serve the admin endpoint over HTTPS with this certificate chain (PEM)...
    #[arg(long, value_name = "PEM", requires_all = ["admin", "admin_tls_key"])]
    admin_tls_cert: Option<PathBuf>,
    /// ...and this private key (PEM).
    #[arg(long, value_name = "PEM", requires = "admin_tls_cert")]
    admin_tls_key: Option<PathBuf>,
    /// POST alert notifications (JSON) to this http:// URL; alerts always go to the log.
    #[arg(long, value_name = "URL", requires = "admin")]
    alert_webhook: Option<String>,
    /// How often the alert rules are evaluated, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 15, requires = "admin")]
    alert_interval: u64,
    /// No alerts (by default, with --admin: queue over 1000 or its head older than 10 min,
    /// a destination failing for 5 min, over 10 errors a minute, any control ID reuse).
    #[arg(long, requires = "admin")]
    no_alerts: bool,

    /// Send the application ACKs that enhanced-mode senders ask for (MSH-16) to this MLLP
    /// address (host:port), queued with each message; without it they are not sent
    #[arg(long, value_name = "ADDR")]
    application_acks_to: Option<String>,

    /// This engine's name in the store's leases (several engines on one store need distinct
    /// names)
    #[arg(long, value_name = "NAME", default_value = "engine")]
    node: String,

    /// Prune finished messages (every item delivered or dead-lettered, or in error) older
    /// than this many days; queued work is never pruned. Off by default
    #[arg(long, value_name = "DAYS")]
    retain_days: Option<u64>,

    /// With --retain-days: also prune the oldest finished messages while the stored messages
    /// take more than this many MiB
    #[arg(long, value_name = "MIB", requires = "retain_days")]
    retain_max_mib: Option<u64>,

    /// DANGEROUS, for tests only: SQLite `synchronous=OFF` (commits not durable).
    #[arg(long, hide = true)]
    unsafe_no_fsync: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AckAfterArg {
    Stored,
    Delivered,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Installed first, so a SIGTERM during start-up also ends in a clean shutdown.
    let stop = hl7_runtime::engine::shutdown_signal();
    let Some(path) = args.store.strip_prefix("sqlite:") else {
        return Err(format!(
            "unsupported store URL `{}` (expected sqlite:PATH)",
            args.store
        )
        .into());
    };
    let mut options = Options::new();
    if args.unsafe_no_fsync {
        options.synchronous(Synchronous::Off);
    }
    // Checked before anything starts: no token, no admin endpoint.
    let admin = match &args.admin {
        Some(addr) => Some(admin_config(&args, addr)?),
        None => None,
    };
    let store = Arc::new(SqliteStore::open_with(path, &options)?);

    let mut addrs = Vec::with_capacity(3);
    for (name, given) in DESTINATIONS
        .iter()
        .zip([&args.ehr, &args.billing, &args.pharmacy])
    {
        let addr = match given {
            Some(addr) => addr.clone(),
            None => {
                let options = SinkOptions {
                    print: true,
                    log: None,
                };
                let addr = start_sink(name, "127.0.0.1:0", options).await?;
                println!("simulated {name} system listening on {addr}");
                addr.to_string()
            }
        };
        addrs.push(addr);
    }
    let client = ClientConfig::default()
        .with_response_timeout(Duration::from_millis(args.response_timeout_ms));
    let setup = Setup {
        listen: args.listen.clone(),
        destinations: [addrs[0].clone(), addrs[1].clone(), addrs[2].clone()],
        client,
        ack_after: match args.ack_after {
            AckAfterArg::Stored => AckAfter::Stored,
            AckAfterArg::Delivered => AckAfter::Delivered,
        },
        retry: RetryPolicy::default(),
        fan_out_all: args.fan_out_all,
        application_acks: args.application_acks_to.clone(),
    };
    let mut engine = builder(store, &setup).node(args.node.as_str());
    if let Some(days) = args.retain_days {
        let mut retention = Retention::max_age(Duration::from_secs(days * 86_400));
        if let Some(mib) = args.retain_max_mib {
            retention = retention.max_bytes(mib * 1024 * 1024);
        }
        engine = engine.retention(retention);
    }
    let engine = engine
        .log_phi(args.log_phi)
        .allow_non_durable_store(args.unsafe_no_fsync)
        .build()?;
    let running = engine.start().await?;
    let listen = running
        .local_addr("inbound")
        .map_or(args.listen.clone(), |a| a.to_string());
    println!("hospital engine listening on {listen} (store {path}); Ctrl-C or SIGTERM stops it");
    println!(
        "send a message: hl7 send --to {listen} FILE   or   mllp_send --port {} FILE",
        listen.rsplit(':').next().unwrap_or("2575")
    );
    let admin = match admin {
        Some(config) => {
            let admin = Admin::new(running.handle(), config)
                .merge(hl7_runtime::admin::dashboard::router())
                .start()
                .await?;
            let scheme = if args.admin_tls_cert.is_some() {
                "https"
            } else {
                "http"
            };
            let addr = admin.local_addr();
            println!("admin endpoint on {scheme}://{addr} (Authorization: Bearer <token>)");
            println!("dashboard: open {scheme}://{addr}/ and sign in with the admin token");
            Some(admin)
        }
        None => None,
    };
    if args.send_examples {
        send_examples(&listen).await?;
    }
    running.shutdown_on(stop).await;
    if let Some(admin) = admin {
        admin.shutdown().await;
    }
    Ok(())
}

/// The admin endpoint's settings from the flags; refuses a missing or weak token and a
/// remote address without --admin-allow-remote.
fn admin_config(args: &Args, addr: &str) -> Result<AdminConfig, Box<dyn std::error::Error>> {
    let token = match &args.admin_token_file {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| format!("admin token file {}: {e}", file.display()))?,
        None => std::env::var("HL7_ADMIN_TOKEN").map_err(|_| {
            "--admin needs a token: --admin-token-file FILE or the HL7_ADMIN_TOKEN variable"
        })?,
    };
    let token = token.trim();
    if token.chars().count() < MIN_TOKEN_LEN {
        return Err(
            format!("the admin token must have at least {MIN_TOKEN_LEN} characters").into(),
        );
    }
    if let Ok(socket) = addr.parse::<std::net::SocketAddr>() {
        if !socket.ip().is_loopback() && !args.admin_allow_remote {
            return Err(format!(
                "--admin {addr} is not a loopback address; add --admin-allow-remote to listen there"
            )
            .into());
        }
    }
    let mut config = AdminConfig::new(addr)
        .token(token)
        .allow_remote(args.admin_allow_remote);
    if let (Some(cert), Some(key)) = (&args.admin_tls_cert, &args.admin_tls_key) {
        let identity = Identity::from_pem_files(cert, key)?;
        config = config.tls(ServerTlsConfig::new(identity).build()?);
    }
    if !args.no_alerts {
        let mut alerts = AlertConfig::with_default_rules()
            .interval(Duration::from_secs(args.alert_interval.max(1)));
        if let Some(url) = &args.alert_webhook {
            alerts = alerts.webhook(url.clone());
        }
        config = config.alerts(alerts);
    }
    Ok(config)
}

/// Sends each bundled sample message and prints its ACK, as a partner system would.
async fn send_examples(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("messages");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
        .collect();
    files.sort();
    let mut client = MllpClient::connect(addr, ClientConfig::default()).await?;
    for path in files {
        let bytes = std::fs::read(&path)?;
        let ack = client.send(&bytes).await?;
        let ack = String::from_utf8_lossy(&ack);
        let msa = ack
            .split(['\r', '\n'])
            .filter(|l| l.starts_with("MSA") || l.starts_with("ERR"))
            .collect::<Vec<_>>()
            .join(" | ");
        println!(
            "sent {} -> {msa}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    Ok(())
}
