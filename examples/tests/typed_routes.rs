//! A typed route whose outputs deliver the message as received checks it against the sender's
//! profile without building it, and tells the same problems as one that maps it.

use hl7_examples::st_marys;
use hl7_runtime::ack::InboundHeader;
use hl7_runtime::engine::{Inbound, Output, Route, RouteError};
use hl7_runtime::er7::Message;

fn admission() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("messages/st_marys_adt_a01_admit.hl7");
    std::fs::read(path).expect("example message")
}

/// Runs `route` on `raw` as the engine would.
fn apply(route: &Route, raw: &[u8]) -> Result<Vec<Output>, RouteError> {
    let text = std::str::from_utf8(raw).expect("UTF-8");
    let message = Message::parse(text).expect("ER7");
    let header = InboundHeader::of(&message);
    let inbound = Inbound::new("adt", raw, &message, &header);
    let mut out = Vec::new();
    route.apply(&inbound, &mut out)?;
    Ok(out)
}

fn checked() -> Route {
    Route::new("checked").typed::<st_marys::AdtA01>(|t| t.to("ehr").to("billing"))
}

/// The same check, through a route that builds the message (its output maps it to itself).
fn built() -> Route {
    Route::new("built").typed::<st_marys::AdtA01>(|t| t.to("ehr").map("billing", |m| Ok(m.clone())))
}

#[test]
fn a_conformant_admission_is_delivered_as_received() {
    let raw = admission();
    let out = apply(&checked(), &raw).expect("conforms to St Mary's profile");
    let delivered: Vec<(&str, &[u8])> = out
        .iter()
        .map(|o| (o.destination.as_str(), o.payload.as_slice()))
        .collect();
    assert_eq!(
        delivered,
        [("ehr", raw.as_slice()), ("billing", raw.as_slice())]
    );
}

#[test]
fn a_nonconformant_admission_is_refused_with_the_problems_a_built_read_finds() {
    // PID-8 (administrative sex, required by St Mary's) left out, and a code outside its table
    // in PV1-2.
    let raw = String::from_utf8(admission())
        .expect("UTF-8")
        .replace("||19500317|M|", "||19500317||")
        .replace("PV1|1|I|", "PV1|1|Q|");
    let problems = |route: &Route| match apply(route, raw.as_bytes()) {
        Err(RouteError::Invalid { problems, .. }) => problems,
        other => panic!("the route took a message that breaks the profile: {other:?}"),
    };
    let checked = problems(&checked());
    assert!(
        checked
            .iter()
            .any(|p| p.is_error() && p.location.field == Some(8)),
        "{checked:#?}"
    );
    assert_eq!(checked, problems(&built()));
}
