//! The message browser through the API, over a real engine: search by patient, control ID,
//! text, type and state with keyset paging; one message's every stage; reprocess (a second
//! delivery, linked), edit and reprocess, bulk reprocess of dead letters and of ids, discard;
//! and the audit log of it all.

mod admin_support;
mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use admin_support::{eventually, start, Api};
use engine_support::{adt, wait_for, Sink, SinkReply};
use hl7_runtime::ack::AckCode;
use hl7_runtime::engine::{Channel, Destination, Engine, RetryPolicy, Route};
use hl7_runtime::store::SqliteStore;
use hl7_runtime::transport::{ClientConfig, MllpClient};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(30);

/// The message ids of a search.
async fn ids(api: &Api, query: &str) -> (Vec<u64>, Option<u64>) {
    let page = api.get_json(&format!("/api/messages?{query}")).await;
    let ids = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    (ids, page["next_before"].as_u64())
}

async fn id_of(api: &Api, control_id: &str) -> u64 {
    let (found, _) = ids(api, &format!("control_id={control_id}")).await;
    assert_eq!(found.len(), 1, "{control_id}: {found:?}");
    found[0]
}

async fn item_states(api: &Api, id: u64) -> Vec<String> {
    api.get_json(&format!("/api/messages/{id}")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_reprocess_edit_discard_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("e.db")).unwrap());
    // The EHR refuses C5 the first time only.
    let ehr = Sink::start(Arc::new(|id: &str, seen| {
        let code = if id == "C5" && seen == 1 {
            AckCode::AR
        } else {
            AckCode::AA
        };
        SinkReply::Ack(code, Duration::ZERO)
    }))
    .await;
    let builder = Engine::builder(store)
        .channel(Channel::mllp("in", "127.0.0.1:0"))
        .destination(Destination::mllp("ehr", ehr.addr.to_string()).retry(
            RetryPolicy::default().backoff(Duration::from_millis(20), Duration::from_millis(100)),
        ))
        .route(
            Route::new("ADT")
                .when(|m| m.is("ADT", "*"))
                .transform("ehr", |m| {
                    if String::from_utf8_lossy(m.raw()).contains("BADVALUE") {
                        Err("PV1-3 holds BADVALUE".to_owned())
                    } else {
                        Ok(m.raw().to_vec())
                    }
                }),
        );
    let (engine, admin, api) = start(builder, |c| c).await;
    let mut client = MllpClient::connect(engine.local_addr("in").unwrap(), ClientConfig::default())
        .await
        .unwrap();
    for i in 0..30 {
        client
            .send(&adt(&format!("C{i}"), &format!("P{}", i % 3), i))
            .await
            .unwrap();
    }
    let bad = String::from_utf8(adt("CBAD", "P9", 77))
        .unwrap()
        .replace("W1^101^A", "BADVALUE");
    client.send(bad.as_bytes()).await.unwrap();
    wait_for("30 deliveries", LIMIT, || ehr.count() >= 30).await;

    // Search: by patient with keyset pages, newest first.
    let (page1, next) = ids(&api, "patient_id=P1&limit=4").await;
    assert_eq!(page1.len(), 4);
    assert!(page1.windows(2).all(|w| w[0] > w[1]));
    let mut all = page1.clone();
    let mut before = next;
    while let Some(b) = before {
        let (page, next) = ids(&api, &format!("patient_id=P1&limit=4&before={b}")).await;
        all.extend(&page);
        before = next;
    }
    assert_eq!(all.len(), 10, "P1 is i = 1, 4, ..., 28: {all:?}");
    // By control ID, by text (the phone number 555-0007 of message 7), by type and event.
    let c7 = id_of(&api, "C7").await;
    assert_eq!(ids(&api, "text=555-0007").await.0, vec![c7]);
    assert_eq!(ids(&api, "text=0007&patient_id=P1").await.0, vec![c7]);
    assert!(ids(&api, "text=0007&patient_id=P2").await.0.is_empty());
    assert_eq!(ids(&api, "type=ADT&event=A08&limit=100").await.0.len(), 31);
    assert!(ids(&api, "type=ORU").await.0.is_empty());
    let bad_id = id_of(&api, "CBAD").await;
    assert_eq!(ids(&api, "state=error").await.0, vec![bad_id]);
    assert_eq!(api.get("/api/messages?state=lost").await.status, 400);
    assert_eq!(api.get("/api/messages?from=yesterday").await.status, 400);
    let (recent, _) = ids(
        &api,
        "from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00%2B01:00&limit=100",
    )
    .await;
    assert_eq!(recent.len(), 31);

    // Detail of C7: raw, ACK, the item with its attempt and the EHR's answer.
    let detail = api.get_json(&format!("/api/messages/{c7}")).await;
    assert!(detail["raw"]
        .as_str()
        .unwrap()
        .starts_with("MSH|^~\\&|REG|HOSP|"));
    assert_eq!(detail["control_id"], "C7");
    assert_eq!(detail["patient_id"], "P1");
    assert!(detail["ack"].as_str().unwrap().contains("MSA|AA|C7"));
    let item = &detail["items"][0];
    assert_eq!(item["destination"], "ehr");
    assert_eq!(item["state"], "done");
    assert_eq!(item["attempt_log"][0]["outcome"], "done");
    assert!(item["attempt_log"][0]["response"]
        .as_str()
        .unwrap()
        .contains("MSA|AA|C7"));
    assert!(item["payload"].as_str().unwrap().contains("|C7|"), "{item}");
    let bad_detail = api.get_json(&format!("/api/messages/{bad_id}")).await;
    assert_eq!(bad_detail["state"], "error");
    assert!(bad_detail["error"].as_str().unwrap().contains("BADVALUE"));
    assert_eq!(api.get("/api/messages/999999").await.status, 404);
    assert_eq!(api.get("/api/messages/abc").await.status, 400);

    // Reprocess C7: a second delivery, linked to the first.
    let done = api
        .post_json(&format!("/api/messages/{c7}/reprocess"), None)
        .await;
    assert_eq!(done["items"].as_array().unwrap().len(), 1);
    wait_for("C7 again", LIMIT, || {
        ehr.control_ids().iter().filter(|c| *c == "C7").count() == 2
    })
    .await;
    eventually("the second item done", LIMIT, || async {
        item_states(&api, c7).await == ["done", "done"]
    })
    .await;
    let detail = api.get_json(&format!("/api/messages/{c7}")).await;
    assert_eq!(detail["items"][1]["reprocess_of"], detail["items"][0]["id"]);
    assert_eq!(detail["audit"][0]["action"], "reprocess");

    // C5 was refused (dead letter); a bulk reprocess of the EHR's errors delivers it.
    let c5 = id_of(&api, "C5").await;
    eventually("C5 dead-lettered", LIMIT, || async {
        item_states(&api, c5).await == ["error"]
    })
    .await;
    let queue = api
        .get_json("/api/destinations/ehr/queue?view=errors")
        .await;
    assert_eq!(queue["items"][0]["message_id"], c5);
    let bulk = api
        .post_json(
            "/api/reprocess",
            Some(json!({"errored": true, "destination": "ehr", "reason": "EHR fixed"})),
        )
        .await;
    assert_eq!(bulk["count"], 1);
    eventually("C5 delivered", LIMIT, || async {
        item_states(&api, c5).await == ["error", "done"]
    })
    .await;
    // By ids.
    let (c3, c4) = (id_of(&api, "C3").await, id_of(&api, "C4").await);
    let bulk = api
        .post_json("/api/reprocess", Some(json!({"ids": [c3, c4]})))
        .await;
    assert_eq!(bulk["count"], 2);
    wait_for("C3 and C4 again", LIMIT, || {
        let ids = ehr.control_ids();
        ids.iter().filter(|c| *c == "C3").count() == 2
            && ids.iter().filter(|c| *c == "C4").count() == 2
    })
    .await;
    assert_eq!(
        api.post("/api/reprocess", Some(json!({}))).await.status,
        400
    );
    assert_eq!(
        api.post(
            "/api/reprocess",
            Some(json!({"ids": [c3], "errored": true}))
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api.post(
            "/api/reprocess",
            Some(json!({"errored": true, "destination": "nowhere"}))
        )
        .await
        .status,
        404
    );

    // Edit the message in error and reprocess it: a new message, linked, delivered.
    let fixed = bad.replace("BADVALUE", "W2^202^B").replace('\r', "\n");
    let edited = api
        .post_json(
            &format!("/api/messages/{bad_id}/reprocess"),
            Some(json!({"body": fixed, "reason": "ward code corrected"})),
        )
        .await;
    assert_eq!(edited["state"], "routed");
    let new_id = edited["new_message"].as_u64().unwrap();
    wait_for("the edited message", LIMIT, || {
        ehr.control_ids().iter().any(|c| c == "CBAD")
    })
    .await;
    let delivered = ehr
        .received
        .lock()
        .unwrap()
        .iter()
        .find(|m| engine_support::control_id_of(m) == "CBAD")
        .cloned()
        .unwrap();
    assert!(String::from_utf8_lossy(&delivered).contains("W2^202^B\r"));
    let copy = api.get_json(&format!("/api/messages/{new_id}")).await;
    assert_eq!(copy["edited_from"], bad_id);
    let original = api.get_json(&format!("/api/messages/{bad_id}")).await;
    assert_eq!(original["edits"], json!([new_id]));
    assert_eq!(original["state"], "discarded");
    assert_eq!(
        api.post(
            &format!("/api/messages/{bad_id}/reprocess"),
            Some(json!({"body": "not HL7"}))
        )
        .await
        .status,
        400
    );

    // Discard a queued message while the EHR is paused: it is never delivered.
    api.post_json("/api/destinations/ehr/pause", None).await;
    client.send(&adt("C100", "P1", 100)).await.unwrap();
    let c100 = id_of(&api, "C100").await;
    assert_eq!(
        api.post(&format!("/api/messages/{c100}/discard"), Some(json!({})))
            .await
            .status,
        400,
        "a discard needs a reason"
    );
    let discarded = api
        .post_json(
            &format!("/api/messages/{c100}/discard"),
            Some(json!({"reason": "sent to the wrong hospital"})),
        )
        .await;
    assert_eq!(discarded["discarded"].as_array().unwrap().len(), 1);
    api.post_json("/api/destinations/ehr/resume", None).await;
    client.send(&adt("C101", "P1", 101)).await.unwrap();
    wait_for("C101", LIMIT, || {
        ehr.control_ids().iter().any(|c| c == "C101")
    })
    .await;
    assert!(!ehr.control_ids().iter().any(|c| c == "C100"));
    assert_eq!(item_states(&api, c100).await, ["discarded"]);

    // The audit log has it all, with who and why.
    let audit = api.get_json("/api/audit?limit=100").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["view", "reprocess", "edit", "discard", "pause", "resume"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let about: Value = api
        .get_json(&format!("/api/audit?message_id={c100}&action=discard"))
        .await;
    let entry = &about["entries"][0];
    assert_eq!(entry["action"], "discard");
    assert_eq!(entry["user"], "admin");
    assert_eq!(entry["details"]["reason"], "sent to the wrong hospital");
    let views = api
        .get_json(&format!("/api/audit?message_id={c7}&action=view"))
        .await;
    assert!(views["entries"].as_array().unwrap().len() >= 2);
    let edit = api.get_json("/api/audit?action=edit").await;
    assert_eq!(edit["entries"][0]["messages"], json!([bad_id, new_id]));
    assert_eq!(
        edit["entries"][0]["details"]["reason"],
        "ward code corrected"
    );
    // Paging the audit log.
    let first = api.get_json("/api/audit?limit=2").await;
    let next = first["next_before"].as_u64().unwrap();
    let second = api
        .get_json(&format!("/api/audit?limit=2&before={next}"))
        .await;
    assert!(second["entries"][0]["id"].as_u64().unwrap() < next);

    admin.shutdown().await;
    engine.shutdown().await;
}
