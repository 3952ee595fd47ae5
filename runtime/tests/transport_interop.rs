//! Interoperability with an MLLP peer this project did not write: python-hl7's `mllp_send`
//! (PyPI `hl7`, pinned in `.ci/run`) sends a file of fixture messages to our listener over
//! loopback; every message must arrive intact and be acknowledged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hl7_runtime::mllp::MllpCodec;
use hl7_runtime::transport::{ListenerConfig, MllpListener};

const INSTALL_HINT: &str = "`mllp_send` (python-hl7) is not on PATH. Install it with \
     `python3 -m pip install hl7==0.4.5` (as .ci/run does) and make sure pip's script \
     directory is on PATH.";

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The fixture corpus (MANIFEST.tsv), as python-hl7's reader hands it over: it strips `<VT>` and
/// `<CR>` from both ends of each message.
fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messages");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut out = Vec::new();
    for line in manifest.lines().skip(1) {
        let mut cols = line.split('\t');
        let (Some(source), Some(file)) = (cols.next(), cols.next()) else {
            continue;
        };
        let bytes = std::fs::read(dir.join(source).join(file)).expect("fixture");
        // mllp_send splits its input on <FS> (or on <FF> when a read holds one).
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
            out.push(bytes[start..end].to_vec());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_hl7_mllp_send_to_our_listener() {
    let Some(mllp_send) = find_on_path("mllp_send") else {
        panic!("{INSTALL_HINT}");
    };
    let messages = corpus();
    assert!(
        messages.len() >= 100,
        "corpus too small: {}",
        messages.len()
    );

    let mut wire = BytesMut::new();
    for m in &messages {
        MllpCodec::encode_message(m, &mut wire).expect("fixtures frame");
    }
    let dir = std::env::temp_dir().join(format!("hl7-mllp-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("messages.mllp");
    std::fs::write(&file, &wire).expect("write message file");

    let listener = MllpListener::bind(
        "127.0.0.1:0",
        ListenerConfig::default().with_frame_read_timeout(Duration::from_secs(5)),
    )
    .await
    .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let record = Arc::clone(&received);
    tokio::spawn(listener.serve(move |m: Bytes| {
        let record = Arc::clone(&record);
        async move {
            let mut seen = record.lock().expect("lock");
            seen.push(m);
            format!(
                "MSH|^~\\&|RCV|RCV|SND|SND|20240101||ACK|ACK{0:05}|P|2.5\rMSA|AA|SEQ{0:05}\r",
                seen.len()
            )
            .into_bytes()
        }
    }));

    let child = tokio::process::Command::new(&mllp_send)
        .arg("--file")
        .arg(&file)
        .arg("--port")
        .arg(port.to_string())
        .arg("127.0.0.1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .expect("mllp_send finished within 60 s")
        .expect("mllp_send runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "mllp_send failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    let received = received.lock().expect("lock").clone();
    assert_eq!(
        received.len(),
        messages.len(),
        "every message received once"
    );
    for (i, (got, sent)) in received.iter().zip(&messages).enumerate() {
        assert!(got[..] == sent[..], "message {i} differs");
    }
    // mllp_send prints each response it read: every message got its own ACK, in order.
    let stdout = String::from_utf8_lossy(&output.stdout);
    for i in 1..=messages.len() {
        assert!(
            stdout.contains(&format!("MSA|AA|SEQ{i:05}")),
            "ACK {i} not printed by mllp_send"
        );
    }
    eprintln!("mllp_send: {} messages received and ACKed", messages.len());
}
