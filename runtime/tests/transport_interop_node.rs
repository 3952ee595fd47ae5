//! Interoperability with a second MLLP implementation this project did not write, in both
//! directions over loopback: the npm packages `node-hl7-client` 3.2.0 (client role) and
//! `node-hl7-server` 2.5.0 (server role), pinned in `runtime/tests/interop/package-lock.json` and
//! installed by `.ci/run` with `npm ci --prefix runtime/tests/interop`. The peer scripts there
//! (`send.js`, `serve.js`) print what they sent, received and answered as JSON lines.
//!
//! - Direction 1: `send.js` sends the fixture corpus to our [`MllpListener`], one connection, one
//!   message after the other's ACK; our handler answers with an [`AckBuilder`] ACK. Every message
//!   the library accepts arrives byte-identical to what it says it put on the wire, and that is
//!   the fixture with JavaScript's `String.prototype.trim()` applied (its `Message` trims the
//!   text; segment terminators inside are left alone, `\n` and `\r\n` included). It refuses only
//!   texts not starting with `MSH`/`BHS`/`FHS` (the fixtures with a UTF-8 BOM). Each ACK reaches
//!   it with MSA-1 `AA` and MSA-2 = the MSH-10 it sent, and as its receive codec rewrites it:
//!   split on `\r`, each segment trimmed, empty ones dropped, joined by `\r`.
//! - Direction 2: our [`MllpClient`] sends the fixtures `serve.js` can acknowledge (see
//!   [`node_server_limit`]) to it, a new connection per message (the server never clears its
//!   per-connection buffer). It receives every message byte-identical, and each ACK it wrote is
//!   the response our client returned, with MSA-1 `AA` and MSA-2 = the message's MSH-10.
//!
//! A missing Node.js or `npm ci` is a failure with the command to run, never a skip.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hl7_runtime::ack::{
    AckBuilder, AckCode, Clock, ControlIds, FixedClock, InboundHeader, SequenceIds, Timestamp,
};
use hl7_runtime::transport::{ClientConfig, ListenerConfig, MllpClient, MllpListener};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const INSTALL_HINT: &str = "the Node.js MLLP peers are not installed. Install them with \
     `npm ci --prefix runtime/tests/interop --no-audit --no-fund` (as .ci/run does), with \
     Node.js >= 20.15 and npm on PATH.";

/// Versions pinned in `runtime/tests/interop/package.json`.
const PINNED: [(&str, &str); 2] = [("node-hl7-client", "3.2.0"), ("node-hl7-server", "2.5.0")];

/// Generous: a shared, noisy machine; nothing here measures time.
const RUN_LIMIT: Duration = Duration::from_secs(300);
const STEP_LIMIT: Duration = Duration::from_secs(60);

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The `node` binary, after checking that `npm ci` installed the pinned packages.
fn node() -> PathBuf {
    let Some(node) = find_on_path("node") else {
        panic!("`node` is not on PATH: {INSTALL_HINT}");
    };
    for (package, version) in PINNED {
        let manifest = interop_dir()
            .join("node_modules")
            .join(package)
            .join("package.json");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            panic!("{} is missing: {INSTALL_HINT}", manifest.display());
        };
        assert!(
            text.contains(&format!("\"version\": \"{version}\"")),
            "{} is not version {version}: {INSTALL_HINT}",
            manifest.display()
        );
    }
    node
}

/// A fixture of the corpus.
struct Fixture {
    name: String,
    bytes: Vec<u8>,
    /// Marked `[defect]` or `[negative-test]` in MANIFEST.tsv's last column.
    defective: bool,
}

/// The fixture corpus (MANIFEST.tsv) as `transport_interop.rs` sends it: `<CR>` stripped from
/// both ends, fixtures holding `<VT>`, `<FF>` or `<FS>` left out.
fn corpus() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messages");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut out = Vec::new();
    for line in manifest.lines().skip(1) {
        let mut cols = line.split('\t');
        let (Some(source), Some(file)) = (cols.next(), cols.next()) else {
            continue;
        };
        let note = cols.next_back().unwrap_or_default();
        let defective = note.starts_with("[defect]") || note.starts_with("[negative-test]");
        let bytes = std::fs::read(dir.join(source).join(file)).expect("fixture");
        if bytes.iter().any(|b| matches!(b, 0x0B | 0x0C | 0x1C)) {
            continue;
        }
        let start = bytes
            .iter()
            .position(|&b| b != b'\r')
            .unwrap_or(bytes.len());
        let end = bytes
            .iter()
            .rposition(|&b| b != b'\r')
            .map_or(start, |i| i + 1);
        if start < end {
            out.push(Fixture {
                name: format!("{source}/{file}"),
                bytes: bytes[start..end].to_vec(),
                defective,
            });
        }
    }
    assert!(out.len() >= 100, "corpus too small: {}", out.len());
    out
}

/// JavaScript's whitespace (`String.prototype.trim()`: WhiteSpace and LineTerminator).
fn js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// `trim()` of the text the bytes are in latin1 (one character per byte), as `send.js` reads
/// them.
fn js_trim_latin1(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !js_space(char::from(b)))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !js_space(char::from(b)))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// What node-hl7-client's receive codec hands over for a response frame: the content split on
/// `\r`, each piece trimmed, empty ones dropped, `<VT>` and `<FS>` removed, joined by `\r`.
fn client_codec_view(response: &str) -> String {
    response
        .split('\r')
        .map(|s| s.trim_matches(js_space))
        .filter(|s| !s.is_empty())
        .map(|s| s.replace(['\u{0B}', '\u{1C}'], ""))
        .collect::<Vec<_>>()
        .join("\r")
}

/// MSA-1 and MSA-2 of an ACK, split with the field separator of its MSH.
fn msa(ack: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(ack);
    let sep = char::from(*ack.get(3)?);
    let segment = text.split(['\r', '\n']).find(|s| s.starts_with("MSA"))?;
    let mut fields = segment.split(sep).skip(1);
    let code = fields.next().unwrap_or_default().to_owned();
    let control_id = fields.next().unwrap_or_default().to_owned();
    Some((code, control_id))
}

/// Why node-hl7-server 2.5.0 cannot give `message` a plain `AA` ACK, if it cannot (read from its
/// code and checked against the corpus; `runtime/tests/interop/README.md` has the details).
fn node_server_limit(message: &[u8]) -> Option<&'static str> {
    if !message.starts_with(b"MSH|^~\\&|") {
        return Some("not `MSH|^~\\&|` first (BOM, FHS/BHS, other encoding characters)");
    }
    if memchr_count(message, b"MSH|") > 1 {
        return Some("`MSH|` more than once: taken for a batch, one ACK per part");
    }
    let end = message
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(message.len());
    let msh = String::from_utf8_lossy(&message[..end]);
    let fields: Vec<&str> = msh.split('|').collect();
    let component = |field: usize, n: usize| {
        fields
            .get(field - 1)
            .and_then(|f| f.split('^').nth(n - 1))
            .unwrap_or_default()
    };
    // 2.1 has a class, but it refuses the ACK header the server builds ("MSH.9 must be defined").
    const VERSIONS: [&str; 10] = [
        "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8",
    ];
    if !VERSIONS.contains(&component(12, 1)) {
        return Some("MSH-12 not a version it builds ACKs for: AE with a random MSA-2");
    }
    if component(9, 2).len() != 3 {
        return Some("MSH-9.2 not 3 characters: AE with a random MSA-2");
    }
    None
}

fn memchr_count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// A value of a peer's JSON line.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    /// A number, `true`, `false` or `null`, as written.
    Raw(String),
}

/// One line of a peer script's output: a flat JSON object. Parsed by hand: the runtime's
/// dev-dependencies have no JSON crate.
#[derive(Debug)]
struct Event(BTreeMap<String, Value>);

impl Event {
    fn parse(line: &str) -> Result<Event, String> {
        let mut cur = Cursor {
            s: line.trim(),
            i: 0,
        };
        let mut map = BTreeMap::new();
        cur.eat('{')?;
        cur.ws();
        if cur.peek() == Some('}') {
            return Ok(Event(map));
        }
        loop {
            cur.ws();
            let key = cur.string()?;
            cur.ws();
            cur.eat(':')?;
            cur.ws();
            let value = if cur.peek() == Some('"') {
                Value::Str(cur.string()?)
            } else {
                Value::Raw(cur.scalar())
            };
            map.insert(key, value);
            cur.ws();
            match cur.next() {
                Some(',') => {}
                Some('}') => return Ok(Event(map)),
                other => return Err(format!("expected `,` or `}}`, got {other:?} in {line}")),
            }
        }
    }

    fn kind(&self) -> &str {
        self.str("event").unwrap_or_default()
    }

    fn str(&self, key: &str) -> Option<&str> {
        match self.0.get(key)? {
            Value::Str(s) => Some(s),
            Value::Raw(_) => None,
        }
    }

    fn num(&self, key: &str) -> Option<usize> {
        match self.0.get(key)? {
            Value::Raw(n) => n.parse().ok(),
            Value::Str(_) => None,
        }
    }

    /// A hex-encoded byte string.
    fn bytes(&self, key: &str) -> Vec<u8> {
        let hex = self
            .str(key)
            .unwrap_or_else(|| panic!("no `{key}` in {self:?}"));
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    }
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.next();
        }
    }

    fn eat(&mut self, want: char) -> Result<(), String> {
        match self.next() {
            Some(c) if c == want => Ok(()),
            other => Err(format!("expected `{want}`, got {other:?} in {}", self.s)),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat('"')?;
        let mut out = String::new();
        loop {
            match self.next().ok_or("unterminated string")? {
                '"' => return Ok(out),
                '\\' => match self.next().ok_or("unterminated escape")? {
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{C}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let hex = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
                        self.i += 4;
                        let code = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                    }
                    c => out.push(c),
                },
                c => out.push(c),
            }
        }
    }

    fn scalar(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(|c| c != ',' && c != '}') {
            self.next();
        }
        self.s[start..self.i].trim().to_owned()
    }
}

fn events(stdout: &str) -> Vec<Event> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Event::parse(l).unwrap_or_else(|e| panic!("peer printed a bad line: {e}")))
        .collect()
}

/// The ACK our listener sends for `message`: `AA`, fixed clock, sequential control IDs.
fn our_ack(message: &[u8], ids: &SequenceIds) -> String {
    let clock = FixedClock(Timestamp::from_unix_millis(1_714_564_800_000));
    AckBuilder::for_raw(message)
        .code(AckCode::AA)
        .control_id(ids.next())
        .timestamp(clock.now())
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_hl7_client_sends_to_our_listener() {
    let node = node();
    let corpus = corpus();
    let dir = tempfile::tempdir().expect("temp dir");
    for (i, f) in corpus.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:04}.hl7")), &f.bytes).expect("write message");
    }

    let listener = MllpListener::bind("127.0.0.1:0", ListenerConfig::default())
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // What the listener got and what it answered, in order.
    let received: Arc<Mutex<Vec<(Bytes, String)>>> = Arc::default();
    let record = Arc::clone(&received);
    let ids = Arc::new(SequenceIds::new("ACK"));
    tokio::spawn(listener.serve(move |m: Bytes| {
        let record = Arc::clone(&record);
        let ids = Arc::clone(&ids);
        async move {
            let ack = our_ack(&m, &ids);
            record.lock().expect("lock").push((m, ack.clone()));
            ack.into_bytes()
        }
    }));

    let run = Command::new(&node)
        .arg(interop_dir().join("send.js"))
        .arg(port.to_string())
        .arg(dir.path())
        .current_dir(interop_dir())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(RUN_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("send.js did not finish within {RUN_LIMIT:?}"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "send.js failed: {}\n{stdout}\n{stderr}",
        output.status
    );
    let events = events(&stdout);

    // It refuses exactly the texts that do not start with a header segment: here, the BOMs.
    let refused: BTreeSet<usize> = events
        .iter()
        .filter(|e| e.kind() == "refused")
        .map(|e| e.num("index").expect("index"))
        .collect();
    let with_bom: BTreeSet<usize> = (0..corpus.len())
        .filter(|&i| corpus[i].bytes.starts_with(b"\xEF\xBB\xBF"))
        .collect();
    assert!(!with_bom.is_empty(), "the corpus lost its BOM fixtures");
    assert_eq!(
        refused, with_bom,
        "node-hl7-client refuses exactly the BOM-prefixed fixtures"
    );

    let sent: Vec<&Event> = events.iter().filter(|e| e.kind() == "sent").collect();
    let acks: Vec<&Event> = events.iter().filter(|e| e.kind() == "ack").collect();
    let received = received.lock().expect("lock").clone();
    assert_eq!(
        sent.len(),
        corpus.len() - refused.len(),
        "one `sent` per accepted fixture"
    );
    assert_eq!(
        received.len(),
        sent.len(),
        "our listener got every message once"
    );
    assert_eq!(
        acks.len(),
        sent.len(),
        "node-hl7-client got an ACK for every message"
    );
    let done = events.last().expect("events");
    assert_eq!(done.kind(), "done", "send.js finished: {done:?}");

    let mut trimmed = 0;
    let mut unreadable = Vec::new();
    for ((sent, ack), (got, our)) in sent.iter().zip(&acks).zip(&received) {
        let i = sent.num("index").expect("index");
        let name = &corpus[i].name;
        assert_eq!(ack.num("index"), Some(i), "{name}: ACKs in order");
        // Byte-identical to what the peer put on the wire ...
        let wire = sent.bytes("bytes");
        assert!(
            got[..] == wire[..],
            "{name}: received bytes differ from the ones sent"
        );
        // ... which is the fixture, trimmed at both ends and otherwise untouched.
        assert!(
            wire[..] == *js_trim_latin1(&corpus[i].bytes),
            "{name}: node-hl7-client changed more than the whitespace at the ends"
        );
        if wire != corpus[i].bytes {
            trimmed += 1;
        }
        // The ACK as it reached the peer, and its reading of MSA-1 and MSA-2.
        let raw = String::from_utf8(ack.bytes("raw")).expect("UTF-8");
        assert_eq!(
            raw,
            client_codec_view(our),
            "{name}: ACK as node-hl7-client read it"
        );
        let (_, our_msa2) = msa(our.as_bytes()).expect("our ACK has an MSA");
        assert_eq!(ack.str("msa1"), Some("AA"), "{name}: MSA-1");
        assert_eq!(
            ack.str("msa2"),
            Some(our_msa2.as_str()),
            "{name}: MSA-2 as sent"
        );
        // A single message whose MSH we read (a batch has no one MSH-10): we and the peer read
        // the same MSH-10, and MSA-2 is that.
        let Some(header) = InboundHeader::sniff(got) else {
            assert!(
                corpus[i].defective,
                "{name}: our listener read no MSH in it"
            );
            unreadable.push(name.as_str());
            continue;
        };
        if let Some(msh10) = sent.str("msh10") {
            assert_eq!(
                header.control_id(),
                msh10,
                "{name}: MSH-10 as we and the peer read it"
            );
            assert_eq!(ack.str("msa2"), Some(msh10), "{name}: MSA-2 = MSH-10");
        }
    }
    // Defective fixtures whose MSH we cannot read get an ACK with an empty MSA-2 (AckBuilder's
    // fallback); the checks above cover that it reached the peer as sent.
    assert!(
        trimmed > 0,
        "no fixture ends in whitespace any more: update the docs"
    );
    eprintln!(
        "node-hl7-client: {} messages received and ACKed ({trimmed} trimmed at the ends by the \
         client), {} refused by it (BOM); no MSH readable by us in {unreadable:?}",
        sent.len(),
        refused.len()
    );
}

/// `serve.js` as a child process: killed on drop; its stdout lines collected by a task.
struct NodeServer {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl NodeServer {
    /// Starts the server on a free port and returns it with the port.
    async fn start(node: &Path) -> (NodeServer, u16) {
        let mut child = Command::new(node)
            .arg(interop_dir().join("serve.js"))
            .arg("0")
            .current_dir(interop_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = NodeServer { child, lines };
        let first = tokio::time::timeout(STEP_LIMIT, server.lines.recv())
            .await
            .unwrap_or_else(|_| panic!("serve.js did not listen within {STEP_LIMIT:?}"))
            .expect("serve.js exited before listening (its stderr is above)");
        let event = Event::parse(&first).expect("JSON line");
        assert_eq!(event.kind(), "listening", "serve.js: {first}");
        let port = event.num("port").expect("port");
        (server, u16::try_from(port).expect("port"))
    }

    /// Closes its stdin (it then exits) and returns everything it printed.
    async fn finish(mut self) -> Vec<Event> {
        drop(self.child.stdin.take());
        let status = tokio::time::timeout(STEP_LIMIT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("serve.js did not exit within {STEP_LIMIT:?}"))
            .expect("wait");
        assert!(status.success(), "serve.js: {status}");
        let mut out = Vec::new();
        while let Some(line) = self.lines.recv().await {
            out.push(Event::parse(&line).unwrap_or_else(|e| panic!("serve.js: {e}")));
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_sends_to_node_hl7_server() {
    let node = node();
    let mut excluded: BTreeMap<&str, usize> = BTreeMap::new();
    let fixtures: Vec<Fixture> = corpus()
        .into_iter()
        .filter(|f| match node_server_limit(&f.bytes) {
            Some(reason) => {
                *excluded.entry(reason).or_default() += 1;
                false
            }
            None => true,
        })
        .collect();
    assert!(
        fixtures.len() >= 60,
        "too few fixtures for node-hl7-server: {}",
        fixtures.len()
    );

    let (server, port) = NodeServer::start(&node).await;
    let config = ClientConfig::default()
        .with_connect_timeout(STEP_LIMIT)
        .with_response_timeout(STEP_LIMIT);
    let mut client = MllpClient::connect(("127.0.0.1", port), config)
        .await
        .expect("connect to serve.js");
    let mut responses = Vec::with_capacity(fixtures.len());
    for f in &fixtures {
        let response = client
            .send(&f.bytes)
            .await
            .unwrap_or_else(|e| panic!("{}: {e} (serve.js's stderr is above)", f.name));
        // node-hl7-server never clears a connection's buffer: a second message on it would be
        // read as a batch of both and both ACKed again. One connection per message.
        client.disconnect();
        responses.push(response);
    }
    let events = server.finish().await;

    let errors: Vec<&Event> = events.iter().filter(|e| e.kind() == "error").collect();
    assert!(errors.is_empty(), "serve.js reported errors: {errors:?}");
    let received: Vec<&Event> = events.iter().filter(|e| e.kind() == "received").collect();
    let acks: Vec<&Event> = events.iter().filter(|e| e.kind() == "ack").collect();
    assert_eq!(
        received.len(),
        fixtures.len(),
        "serve.js received every message once"
    );
    assert_eq!(
        acks.len(),
        fixtures.len(),
        "serve.js ACKed every message once"
    );
    assert_eq!(
        events.last().map(Event::kind),
        Some("end"),
        "serve.js ended"
    );

    for (((f, got), ack), response) in fixtures.iter().zip(&received).zip(&acks).zip(&responses) {
        let name = &f.name;
        assert!(
            got.bytes("bytes") == f.bytes,
            "{name}: serve.js received other bytes"
        );
        assert!(
            ack.bytes("ack")[..] == response[..],
            "{name}: our client returned other bytes than serve.js wrote"
        );
        let msh10 = InboundHeader::sniff(&f.bytes)
            .map(|h| h.control_id().to_owned())
            .unwrap_or_else(|| panic!("{name}: no MSH"));
        assert_eq!(
            ack.str("msh10"),
            Some(msh10.as_str()),
            "{name}: MSH-10 as serve.js read it"
        );
        let (code, control_id) = msa(response).unwrap_or_else(|| panic!("{name}: no MSA"));
        assert_eq!(code, "AA", "{name}: MSA-1");
        assert_eq!(control_id, msh10, "{name}: MSA-2 = MSH-10");
    }
    eprintln!(
        "node-hl7-server: {} messages received intact and ACKed; left out: {excluded:?}",
        fixtures.len()
    );
}
