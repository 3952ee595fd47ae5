//! Simulated partner systems: MLLP receivers that acknowledge every message with `AA`, so the
//! example engine runs alone on one machine. They print one line per message (type and
//! control ID only: bodies are PHI) and can log `MSH-10<TAB>sha256` of each delivery, which
//! is what the end-to-end tests compare with the sender's log.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hl7_runtime::ack::{AckBuilder, AckCode, Clock, ControlIds, SequenceIds, SystemClock};
use hl7_runtime::er7::Message;
use hl7_runtime::transport::{ListenerConfig, MllpListener};
use sha2::{Digest, Sha256};

/// Where a simulated system reports what it received.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Print one line per message on stdout.
    pub print: bool,
    /// Append `MSH-10<TAB>sha256-hex` per message to this file.
    pub log: Option<PathBuf>,
}

/// Starts a simulated receiving system named `name` on `bind` (port 0: any free port) and
/// returns its address; it runs until the runtime stops.
pub async fn start_sink(
    name: &str,
    bind: &str,
    options: SinkOptions,
) -> std::io::Result<SocketAddr> {
    let listener = MllpListener::bind(bind, ListenerConfig::default()).await?;
    let addr = listener.local_addr()?;
    let log = match &options.log {
        Some(path) => Some(Arc::new(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ))),
        None => None,
    };
    let name = name.to_owned();
    let ids = Arc::new(SequenceIds::per_run(
        &name.to_uppercase(),
        SystemClock.now(),
    ));
    let print = options.print;
    tokio::spawn(async move {
        let served = listener
            .serve(move |raw: Bytes| {
                let reply = receive(&name, &raw, &ids, print, log.as_deref());
                async move { reply }
            })
            .await;
        if let Err(e) = served {
            eprintln!("simulated system stopped: {e}");
        }
    });
    Ok(addr)
}

fn receive(
    name: &str,
    raw: &[u8],
    ids: &SequenceIds,
    print: bool,
    log: Option<&Mutex<std::fs::File>>,
) -> Bytes {
    let text = String::from_utf8_lossy(raw);
    let Ok(message) = Message::parse(&text) else {
        return Bytes::from(
            AckBuilder::for_raw(raw)
                .code(AckCode::AR)
                .control_id(ids.next())
                .build()
                .into_bytes(),
        );
    };
    let control_id = message.control_id().unwrap_or_default();
    if print {
        let (kind, event, _) = message.message_type();
        println!(
            "[{name}] received {}^{} {control_id} ({} bytes)",
            kind.unwrap_or(""),
            event.unwrap_or(""),
            raw.len()
        );
    }
    if let Some(log) = log {
        let hash = hex(&Sha256::digest(raw));
        let mut file = log.lock().unwrap_or_else(|p| p.into_inner());
        // The log is the test's evidence: a failed write must not pass unnoticed.
        writeln!(file, "{control_id}\t{hash}").expect("write the sink log");
    }
    Bytes::from(
        AckBuilder::new(&message)
            .code(AckCode::AA)
            .control_id(ids.next())
            .timestamp(SystemClock.now())
            .build()
            .into_bytes(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
