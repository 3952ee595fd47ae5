//! The example hospital's interface engine: lab results from ACME mapped for St Mary's EHR,
//! ADT fanned out to the EHR, billing and pharmacy, on the embedded SQLite store.
//!
//! `cargo run -p hl7-examples --bin hospital -- --help`. Started without destination
//! addresses it runs simulated EHR, billing and pharmacy systems of its own, so it works
//! alone on one machine; `--send-examples` then feeds it the bundled sample messages.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use hl7_examples::engine::{builder, Setup, DESTINATIONS};
use hl7_examples::simulated::{start_sink, SinkOptions};
use hl7_runtime::ack::AckAfter;
use hl7_runtime::engine::RetryPolicy;
use hl7_runtime::store::{Options, SqliteStore, Synchronous};
use hl7_runtime::transport::{ClientConfig, MllpClient};
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
        .with_response_timeout(std::time::Duration::from_millis(args.response_timeout_ms));
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
    };
    let engine = builder(store, &setup)
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
    if args.send_examples {
        send_examples(&listen).await?;
    }
    running.shutdown_on_signal().await;
    Ok(())
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
