//! The ops tests' harness: the example hospital's engine with its admin endpoint in this
//! process, simulated partner systems, the `hl7` binary's runs, and the masking of times in
//! their output.

#![allow(dead_code, unreachable_pub)]

#[path = "../../../runtime/tests/tls_support/mod.rs"]
mod tls_support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hl7_examples::engine::{builder, Setup};
use hl7_runtime::ack::{AckAfter, AckBuilder, AckCode, ControlIds, SequenceIds, Timestamp};
use hl7_runtime::admin::{Admin, AdminConfig, RunningAdmin};
use hl7_runtime::engine::{RetryPolicy, RunningEngine};
use hl7_runtime::er7::Message;
use hl7_runtime::store::SqliteStore;
use hl7_runtime::transport::{
    ClientConfig, ListenerConfig, MllpClient, MllpListener, Reply, ServerTls, ServerTlsConfig,
};
use serde_json::Value;
use tls_support::Ca;

/// The admin token of the tests (user `admin`).
pub const TOKEN: &str = "ops-test-token-0123456789";

/// How long the tests wait for the engine's background work at most.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub const GLUCOSE: &str = "examples/messages/acme_oru_r01_glucose.hl7";
pub const DEFECTS: &str = "examples/messages/acme_oru_r01_defects.hl7";
pub const ADMIT: &str = "examples/messages/st_marys_adt_a01_admit.hl7";

pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(crate::common::workspace().join(path)).expect("read an example message")
}

/// A simulated partner system: ACKs `AA`, or `AR` while told to reject; keeps what it got.
#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<String>>>,
    pub reject: Arc<AtomicBool>,
}

impl Sink {
    pub async fn start(name: &str) -> Sink {
        let listener = MllpListener::bind("127.0.0.1:0", ListenerConfig::default())
            .await
            .expect("bind a sink");
        let addr = listener.local_addr().expect("the sink's address");
        let received: Arc<Mutex<Vec<String>>> = Arc::default();
        let reject = Arc::new(AtomicBool::new(false));
        let ids = Arc::new(SequenceIds::new(name.to_uppercase()));
        let (log, refuse) = (Arc::clone(&received), Arc::clone(&reject));
        tokio::spawn(listener.serve(move |raw: Bytes| {
            let text = String::from_utf8_lossy(&raw).into_owned();
            let message = Message::parse(&text).expect("the engine delivers readable messages");
            let code = if refuse.load(Ordering::SeqCst) {
                AckCode::AR
            } else {
                AckCode::AA
            };
            let ack = AckBuilder::new(&message)
                .code(code)
                .control_id(ids.next())
                .timestamp(Timestamp::from_unix_millis(1_732_672_800_000))
                .build();
            log.lock().expect("the sink's log").push(text.clone());
            async move { Reply::Message(Bytes::from(ack.into_bytes())) }
        }));
        Sink {
            addr,
            received,
            reject,
        }
    }

    /// How many deliveries had this control ID.
    pub fn count(&self, control_id: &str) -> usize {
        let needle = format!("|{control_id}|");
        let log = self.received.lock().expect("the sink's log");
        log.iter()
            .filter(|m| {
                let msh = m.split(['\r', '\n']).next().unwrap_or_default();
                msh.contains(&needle)
            })
            .count()
    }

    pub fn received(&self) -> Vec<String> {
        self.received.lock().expect("the sink's log").clone()
    }
}

/// The example hospital's engine with its admin endpoint, and its three partner systems.
pub struct Hospital {
    pub rt: tokio::runtime::Runtime,
    pub engine: Option<RunningEngine>,
    pub admin: Option<RunningAdmin>,
    pub mllp: SocketAddr,
    pub url: String,
    pub token_file: String,
    pub ehr: Sink,
    pub billing: Sink,
    pub pharmacy: Sink,
    pub dir: tempfile::TempDir,
}

impl Hospital {
    pub fn start() -> Hospital {
        Hospital::start_with(|config| config)
    }

    pub fn start_with(admin: impl FnOnce(AdminConfig) -> AdminConfig) -> Hospital {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Arc::new(SqliteStore::open(dir.path().join("hospital.db")).expect("store"));
        let (engine, admin, ehr, billing, pharmacy) = rt.block_on(async {
            let ehr = Sink::start("ehr").await;
            let billing = Sink::start("billing").await;
            let pharmacy = Sink::start("pharmacy").await;
            let setup = Setup {
                listen: "127.0.0.1:0".into(),
                destinations: [ehr.addr, billing.addr, pharmacy.addr].map(|a| a.to_string()),
                client: ClientConfig::default().with_response_timeout(Duration::from_secs(30)),
                ack_after: AckAfter::Stored,
                retry: RetryPolicy::default()
                    .backoff(Duration::from_millis(20), Duration::from_millis(200)),
                fan_out_all: false,
                application_acks: None,
            };
            let engine = builder(store, &setup)
                .build()
                .expect("the hospital's configuration")
                .start()
                .await
                .expect("the engine starts");
            let config = admin(AdminConfig::new("127.0.0.1:0").token(TOKEN));
            let admin = Admin::new(engine.handle(), config)
                .start()
                .await
                .expect("the admin endpoint starts");
            (engine, admin, ehr, billing, pharmacy)
        });
        let mllp = engine.local_addr("inbound").expect("the inbound channel");
        let url = format!("http://{}", admin.local_addr());
        let token_file = write_secret(dir.path(), "token", TOKEN);
        Hospital {
            rt,
            engine: Some(engine),
            admin: Some(admin),
            mllp,
            url,
            token_file,
            ehr,
            billing,
            pharmacy,
            dir,
        }
    }

    /// Sends one message over MLLP and checks the engine took it (AA or CA).
    pub fn send(&self, text: &str) {
        let ack = self.rt.block_on(async {
            let mut client = MllpClient::connect(self.mllp, ClientConfig::default())
                .await
                .expect("connect to the engine");
            client.send(text.as_bytes()).await.expect("an ACK")
        });
        let ack = String::from_utf8_lossy(&ack).into_owned();
        // The admission asks for enhanced-mode acknowledgements (MSH-15 = AL): CA.
        assert!(ack.contains("MSA|AA|") || ack.contains("MSA|CA|"), "{ack}");
    }

    /// `hl7 ARGS --admin URL --token-file FILE`.
    pub fn hl7(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--admin", &self.url, "--token-file", &self.token_file]);
        hl7(&all, &[])
    }

    /// `hl7 ARGS --json ...`, parsed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        let run = self.hl7(&all);
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
        serde_json::from_str(&run.stdout).expect("--json prints JSON")
    }

    /// A destination of `hl7 status --json`.
    pub fn destination(&self, name: &str) -> Value {
        let status = self.json(&["status"]);
        status["destinations"]
            .as_array()
            .expect("destinations")
            .iter()
            .find(|d| d["name"] == name)
            .cloned()
            .expect("the destination")
    }

    /// Waits until no destination has anything queued or being delivered (the store's view,
    /// so every item is `done` or a dead letter by then).
    pub fn settle(&self) {
        eventually("the queues to empty", || {
            let status = self.json(&["status"]);
            status["destinations"]
                .as_array()
                .expect("destinations")
                .iter()
                .all(|d| d["queue_depth"] == 0)
        });
    }

    /// The id of the one message with this control ID.
    pub fn id_of(&self, control_id: &str) -> String {
        let found = self.json(&["messages", "search", "--control-id", control_id]);
        let messages = found["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 1, "{control_id}: {found}");
        messages[0]["id"].to_string()
    }
}

impl Drop for Hospital {
    fn drop(&mut self) {
        let (engine, admin) = (self.engine.take(), self.admin.take());
        self.rt.block_on(async {
            if let Some(admin) = admin {
                admin.shutdown().await;
            }
            if let Some(engine) = engine {
                engine.shutdown().await;
            }
        });
    }
}

/// Writes a file only its owner may read (the CLI warns about others).
pub fn write_secret(dir: &Path, name: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("{text}\n")).expect("write a secret");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// Polls `check` until it holds, for at most [`PATIENCE`].
pub fn eventually(what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One run of `hl7`.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `hl7 args` with nothing from the caller's admin environment but `env`.
pub fn hl7(args: &[&str], env: &[(&str, &str)]) -> Run {
    let run = crate::common::hl7_env(args, env);
    Run {
        code: run.code,
        stdout: run.stdout(),
        stderr: run.stderr,
    }
}

/// Times (`2024-11-27T02:00:00.000Z`, `2024-11-27T02:00:00Z`) as placeholders of the same
/// width, so tables stay aligned; ages (`250ms`, `5m12s`) as `<age>`; the MSH-7 and MSH-10 of
/// ACKs, which the engine and the sinks make, as `<ts>` and `<id>`.
pub fn masked(text: &str) -> String {
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = mask_times(line);
        let line = line
            .split(' ')
            .map(|word| {
                let bare = word.trim_end_matches([',', ')', ';']);
                if is_age(bare) {
                    format!("<age>{}", &word[bare.len()..])
                } else {
                    word.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        lines.push(mask_ack_header(&line));
    }
    lines.join("\n") + "\n"
}

pub fn mask_times(line: &str) -> String {
    const LONG: &str = "YYYY-MM-DDThh:mm:ss.sssZ";
    const SHORT: &str = "YYYY-MM-DDThh:mm:ssZ";
    let fits = |s: &[u8], shape: &str| {
        s.len() >= shape.len()
            && shape.bytes().zip(s).all(|(p, c)| match p {
                b'Y' | b'M' | b'D' | b'h' | b'm' | b's' => c.is_ascii_digit(),
                other => other == *c,
            })
    };
    let bytes = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if let Some(shape) = [LONG, SHORT].into_iter().find(|s| fits(rest, s)) {
            out.push_str(shape);
            i += shape.len();
        } else {
            let c = line[i..].chars().next().expect("a char");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

pub fn is_age(word: &str) -> bool {
    let digits = word.trim_start_matches(|c: char| c.is_ascii_digit());
    if digits.len() == word.len() {
        return false;
    }
    ["ms", "s"].contains(&digits)
        || ["m", "h", "d"].iter().any(|unit| {
            digits
                .strip_prefix(unit)
                .is_some_and(|r| r.len() == 3 && r[..2].bytes().all(|b| b.is_ascii_digit()))
        })
}

pub fn mask_ack_header(line: &str) -> String {
    let Some(at) = line.find("MSH|") else {
        return line.to_owned();
    };
    let mut fields: Vec<String> = line[at..].split('|').map(str::to_owned).collect();
    if fields.len() > 9 && fields[8].starts_with("ACK") {
        fields[6] = "<ts>".into();
        fields[9] = "<id>".into();
    }
    format!("{}{}", &line[..at], fields.join("|"))
}

/// A CA, a certificate for 127.0.0.1 signed by it, and an unrelated CA: the CA files' paths
/// and the server's TLS.
pub fn pki(dir: &Path) -> (String, String, ServerTls) {
    let ca = Ca::new("ops test CA");
    let rogue = Ca::new("someone else");
    let identity = ca.identity("admin", &["127.0.0.1"], false);
    let tls = ServerTlsConfig::new(identity).build().expect("server TLS");
    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).expect("write a PEM");
        path.to_str().expect("a UTF-8 path").to_owned()
    };
    (
        write("ca.pem", ca.pem()),
        write("rogue.pem", rogue.pem()),
        tls,
    )
}
