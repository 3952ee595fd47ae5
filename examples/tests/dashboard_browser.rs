//! The operations dashboard in a real browser: headless Chromium driven over WebDriver
//! (fantoccini) through a chromedriver the test starts, against the `hospital` binary with
//! its admin endpoint on a free loopback port and simulated destinations.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! test fails and says how to install them; it never skips. Screenshots go to
//! `target/test-artifacts/` (`dashboard.png`, `dashboard-message.png`,
//! `dashboard-error.png`, and `dashboard-failure.png` when a step times out); with
//! `HL7_DASHBOARD_SCREENSHOT=docs` the overview and the message in error are also copied to
//! `examples/docs/` (`dashboard.png`, `dashboard-message.png`) for the README.
//!
//! No step depends on timing: each waits for the page to show what it expects, polling the
//! DOM for up to `browser_support::PATIENCE`.

mod browser_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use browser_support::{artifacts, free_addr, http_get, program, tail, wait_http, Browser, Process};
use fantoccini::ClientBuilder;
use hl7_runtime::transport::{ClientConfig, MllpClient};
use serde_json::json;

/// The admin token of the engine under test.
const TOKEN: &str = "dashboard-browser-test-token-0123456789";

/// Messages sent while the dashboard is open (with the one in error, more than a page).
const SENT: usize = 60;

/// Messages on a page of the browser.
const PAGE: usize = 50;

fn adt_a04(n: usize) -> Vec<u8> {
    format!(
        "MSH|^~\\&|REG|STMARYS|HUB|STMARYS|20241127090000||ADT^A04^ADT_A01|DASH{n:04}|P|2.5.1\r\
         EVN|A04|20241127090000\r\
         PID|1||DASH-P-{n:04}^^^STMARYS^MR||DOE^JANE^Q||19800101|F\r\
         PV1|1|O|CLINIC^101^1\r"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_browser() {
    let chromedriver = program(&["chromedriver"], &["/usr/bin/chromedriver"]);
    let chromium = program(
        &["chromium", "chromium-browser", "google-chrome"],
        &["/usr/bin/chromium"],
    );
    let dir = tempfile::tempdir().expect("a temporary folder");
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write the token file");

    // The engine, with its admin endpoint and simulated destinations.
    let listen = free_addr();
    let admin = free_addr();
    let engine_log = artifacts().join("dashboard-engine.log");
    let mut engine = Process::spawn(
        "hospital",
        Command::new(env!("CARGO_BIN_EXE_hospital"))
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--store")
            .arg(format!(
                "sqlite:{}",
                dir.path().join("hospital.db").display()
            ))
            .arg("--admin")
            .arg(admin.to_string())
            .arg("--admin-token-file")
            .arg(&token_file)
            .arg("--unsafe-no-fsync")
            .env("RUST_LOG", "info")
            .env_remove("HL7_ADMIN_TOKEN"),
        engine_log.clone(),
    );
    wait_http(&mut engine, admin, "/api/status", Some(TOKEN));
    let (status, body) = http_get(admin, "/", None).expect("GET / without a token");
    assert_eq!(status, 401, "the page needs a token too: {body}");

    // chromedriver, and a browser session through it.
    let driver_addr = free_addr();
    let mut driver = Process::spawn(
        "chromedriver",
        Command::new(&chromedriver)
            .arg(format!("--port={}", driver_addr.port()))
            .arg("--allowed-ips=127.0.0.1"),
        artifacts().join("dashboard-chromedriver.log"),
    );
    wait_http(&mut driver, driver_addr, "/status", None);
    let profile = dir.path().join("chromium-profile");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1440,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://{driver_addr}"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot start Chromium through chromedriver: {e}\n{}",
                tail(&artifacts().join("dashboard-chromedriver.log"))
            )
        });
    let browser = Browser {
        client,
        base: format!("http://{admin}"),
        engine_log: engine_log.clone(),
    };

    // Signing in: the page is not served without a token; a wrong one is refused.
    browser
        .client
        .goto(&format!("{}/", browser.base))
        .await
        .expect("open the dashboard");
    browser.type_into("#token", "not-the-token-at-all").await;
    browser.click("#sign-in").await;
    browser
        .until(
            "the wrong token refused",
            "const p = document.querySelector('.problem'); \
             return !!p && p.textContent.includes('not valid');",
        )
        .await;
    let shown = browser
        .js("return document.querySelector('#destinations') !== null")
        .await;
    assert_eq!(shown, json!(false), "no dashboard without a valid token");
    browser.type_into("#token", TOKEN).await;
    browser.click("#sign-in").await;
    browser
        .until(
            "the three destinations, up",
            "const rows = document.querySelectorAll('#destinations tbody tr[data-state=\"up\"]'); \
             return rows.length === 3;",
        )
        .await;
    let before = browser
        .until(
            "the inbound channel",
            "const r = document.querySelector('#channels tr[data-key=\"inbound\"]'); \
                 return r && r.dataset.received;",
        )
        .await;
    let before: u64 = before
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a count");

    // Counts move while messages are sent over MLLP: the page shows the first half before
    // the second half is sent, then the total.
    let (half_shown, wait_for_page) = tokio::sync::oneshot::channel::<()>();
    let sender = tokio::spawn(async move {
        let mut client = MllpClient::connect(&listen.to_string(), ClientConfig::default())
            .await
            .expect("connect to the engine");
        let mut wait_for_page = Some(wait_for_page);
        for n in 1..=SENT {
            if n == SENT / 2 + 1 {
                if let Some(wait) = wait_for_page.take() {
                    wait.await.expect("the page showed the first half");
                }
            }
            let ack = client.send(&adt_a04(n)).await.expect("an ACK");
            let ack = String::from_utf8_lossy(&ack).into_owned();
            assert!(ack.contains("MSA|AA|"), "not accepted: {ack}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let defects = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("messages/acme_oru_r01_defects.hl7"),
        )
        .expect("the sample with defects");
        client.send(&defects).await.expect("an ACK for the defects");
    });
    let inbound = "document.querySelector('#channels tr[data-key=\"inbound\"]').dataset.received";
    let half = before + (SENT / 2) as u64;
    browser
        .until(
            &format!("the page to show {half} received"),
            &format!("return ({inbound}) === '{half}';"),
        )
        .await;
    half_shown.send(()).expect("the sender waits");
    let total = before + SENT as u64 + 1;
    browser
        .until(
            &format!("the page to show {total} received"),
            &format!("return ({inbound}) === '{total}';"),
        )
        .await;
    sender.await.expect("the sender");
    browser
        .until(
            "every destination to have delivered the ADT messages",
            &format!(
                "const rows = [...document.querySelectorAll('#destinations tbody tr')]; \
                 return rows.length === 3 && rows.every(r => Number(r.dataset.delivered) >= {SENT} \
                   && r.dataset.queue === '0');"
            ),
        )
        .await;
    let rate = browser
        .js("return document.querySelector('#channels tr[data-key=\"inbound\"] td[data-col=\"rate\"]').textContent")
        .await;
    assert!(
        rate.as_str().is_some_and(|r| r.ends_with("/s")),
        "a rate: {rate}"
    );

    // Pause and resume a destination.
    browser
        .click("#destinations tr[data-key=\"pharmacy\"] button")
        .await;
    browser
        .until(
            "pharmacy paused",
            "const r = document.querySelector('#destinations tr[data-key=\"pharmacy\"]'); \
             return r.dataset.state === 'paused' && r.querySelector('button').textContent === 'Resume';",
        )
        .await;
    browser
        .click("#destinations tr[data-key=\"pharmacy\"] button")
        .await;
    browser
        .until(
            "pharmacy up again",
            "return document.querySelector('#destinations tr[data-key=\"pharmacy\"]')\
               .dataset.state === 'up';",
        )
        .await;

    // The message browser: the newest page, the older one (keyset), back.
    let rows = "document.querySelectorAll('#results tr.result')";
    browser.click("#search-button").await;
    browser
        .until(
            "the newest page",
            &format!(
                "const rows = {rows}; return rows.length === {PAGE} \
                   && rows[0].dataset.control === 'ACME00018' && !document.querySelector('#older').disabled;"
            ),
        )
        .await;
    browser.click("#older").await;
    browser
        .until(
            "the older page",
            &format!(
                "const rows = {rows}; return rows.length === {} \
                   && rows[rows.length - 1].dataset.control === 'DASH0001' \
                   && document.querySelector('#older').disabled;",
                SENT + 1 - PAGE
            ),
        )
        .await;
    browser.click("#newer").await;
    browser
        .until(
            "the newest page again",
            &format!(
                "const rows = {rows}; return rows.length === {PAGE} \
                   && rows[0].dataset.control === 'ACME00018';"
            ),
        )
        .await;
    let overview = browser.screenshot("dashboard.png").await;

    // Search by patient id, open the message.
    browser.type_into("#q-patient", "DASH-P-0017").await;
    browser.click("#search-button").await;
    browser
        .until(
            "the one message of patient DASH-P-0017",
            "const rows = document.querySelectorAll('#results tr.result'); \
             return rows.length === 1 && rows[0].dataset.patient === 'DASH-P-0017';",
        )
        .await;
    browser.click("#results tr.result").await;
    browser
        .until(
            "the message view with named fields",
            "const name = document.querySelector('#segments .segment[data-segment=\"PID\"] \
               tr[data-field=\"3\"] td.name'); \
             return !!name && name.textContent.includes('Patient Identifier List') \
               && document.querySelector('#message-title').textContent.includes('DASH0017');",
        )
        .await;
    browser
        .until(
            "three deliveries, done",
            "const items = [...document.querySelectorAll('#items tr.item')]; \
             return items.length === 3 && items.every(i => i.dataset.state === 'done');",
        )
        .await;

    // Reprocess it: a second item per destination, linked to the first, delivered.
    browser.click("#act-reprocess").await;
    browser
        .type_into("#reprocess-reason", "browser test: send again")
        .await;
    browser.click("#reprocess-confirm").await;
    browser
        .until(
            "the reprocessed copies delivered",
            "const items = [...document.querySelectorAll('#items tr.item')]; \
             const copies = items.filter(i => i.dataset.reprocessOf !== ''); \
             return items.length === 6 && copies.length === 3 \
               && copies.every(i => i.dataset.state === 'done');",
        )
        .await;
    let result = browser
        .js("return document.querySelector('#action-result').textContent")
        .await;
    assert!(
        result
            .as_str()
            .is_some_and(|r| r.starts_with("Reprocessed")),
        "{result}"
    );
    browser
        .js("document.querySelector('#action-result').scrollIntoView({block: 'start'})")
        .await;
    browser.screenshot("dashboard-message.png").await;

    // A message in error: its location is highlighted in the segment view.
    browser.click("#back").await;
    browser
        .element("#q-patient")
        .await
        .clear()
        .await
        .expect("clear");
    browser
        .element("#q-state")
        .await
        .select_by_value("error")
        .await
        .expect("select a state");
    browser.click("#search-button").await;
    browser
        .until(
            "the message in error",
            "const rows = document.querySelectorAll('#results tr.result'); \
             return rows.length === 1 && rows[0].dataset.control === 'ACME00018';",
        )
        .await;
    browser.click("#results tr.result").await;
    let highlighted = browser
        .until(
            "the error's locations highlighted",
            "const locs = document.querySelectorAll('#message-error-text button.loc'); \
             const fields = document.querySelectorAll('#segments tr.field.hl'); \
             return locs.length > 0 && fields.length > 0 \
               && [...fields].map(f => f.id).join(' ');",
        )
        .await;
    eprintln!("highlighted fields: {highlighted}");
    browser
        .js("document.querySelector('#message-error').scrollIntoView({block: 'start'})")
        .await;
    let error = browser.screenshot("dashboard-error.png").await;
    if std::env::var("HL7_DASHBOARD_SCREENSHOT").as_deref() == Ok("docs") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).expect("create examples/docs");
        for (shot, name) in [
            (&overview, "dashboard.png"),
            (&error, "dashboard-message.png"),
        ] {
            std::fs::copy(shot, docs.join(name)).expect("copy a screenshot into the docs");
        }
    }

    // Edit and reprocess it: the fixed copy is a new message, linked to the original, and
    // delivered to the EHR; the original, in error, is set aside.
    browser.click("#act-edit").await;
    let fixed =
        "MSH|^~\\&|LIS|ACME^2.16.840.1.113883.3.72.5.30^ISO|EHR|STMARYS|20241127084500-0500||\
                 ORU^R01^ORU_R01|ACME00018|P|2.5.1\n\
                 PID|1||881240^^^ACME^MR||ROE^RICHARD||19650101|M\n\
                 OBR|1|ORD450^EHR|LAB7740^ACME|CMP^Comprehensive metabolic panel^LAB|||2024112707\n\
                 OBX|1|NM|GLU^Glucose^LAB||104|mg/dL^mg/dL^UCUM|70-99|H|||F\n";
    browser
        .js(&format!(
            "document.querySelector('#edit-body').value = {}; return true;",
            json!(fixed)
        ))
        .await;
    browser
        .type_into(
            "#edit-reason",
            "browser test: PID-3.4, PID-8, PID-19, OBX-11 fixed",
        )
        .await;
    browser.click("#edit-confirm").await;
    browser
        .until(
            "the original set aside, with a link to its edited copy",
            "return document.querySelector('#message-state .badge').dataset.state === 'discarded' \
               && !!document.querySelector('#action-result a');",
        )
        .await;
    browser.click("#action-result a").await;
    browser
        .until(
            "the edited copy delivered to the EHR",
            "const items = [...document.querySelectorAll('#items tr.item')]; \
             return document.querySelector('#message-state .badge').dataset.state === 'routed' \
               && document.querySelector('#message-facts').textContent.includes('Edit of') \
               && items.length === 1 && items[0].dataset.destination === 'ehr' \
               && items[0].dataset.state === 'done';",
        )
        .await;

    // Discard (nothing is waiting: the answer says so), with a reason for the audit log.
    browser.click("#act-discard").await;
    browser
        .type_into("#discard-reason", "browser test: nothing left to send")
        .await;
    browser.click("#discard-confirm").await;
    browser
        .until(
            "the discard answered and audited",
            "return document.querySelector('#action-result').textContent.startsWith('Discarded 0') \
               && document.querySelector('#audit').textContent.includes('nothing left to send');",
        )
        .await;

    // Signing out ends the session: the page asks for the token again.
    browser.click("#logout").await;
    browser.element("#token").await;

    let Browser { client, .. } = browser;
    client.close().await.expect("close the browser");
    drop(driver);
    drop(engine);
}
