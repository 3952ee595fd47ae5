//! The example hospital's interface engine: what goes where.
//!
//! - Lab results from ACME (`ORU^R01`, MSH-4 `ACME`) are read as ACME's typed message,
//!   validated against ACME's profile, mapped for St Mary's EHR (LOINC codes, table 0001 sex
//!   codes) and delivered to the EHR.
//! - Admissions, transfers and discharges (`ADT^*`) fan out unchanged to the EHR, billing and
//!   pharmacy; an `ADT^A01` from St Mary's is first checked against St Mary's profile.
//! - Everything else is stored and acknowledged, and routed nowhere: it stays visible in the
//!   store, never lost.

use std::sync::Arc;

use hl7_runtime::ack::AckAfter;
use hl7_runtime::engine::{Channel, Destination, Engine, EngineBuilder, RetryPolicy, Route};
use hl7_runtime::store::Store;
use hl7_runtime::transport::ClientConfig;

use crate::mappings::LabResultToEhr;
use crate::{acme_lab, st_marys};

/// The destinations of the example hospital.
pub const DESTINATIONS: [&str; 3] = ["ehr", "billing", "pharmacy"];

/// Where the example engine listens and delivers.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Inbound MLLP address.
    pub listen: String,
    /// MLLP addresses of the EHR, billing and pharmacy (the order of [`DESTINATIONS`]).
    pub destinations: [String; 3],
    /// Client settings of the MLLP destinations.
    pub client: ClientConfig,
    /// When the original-mode ACK is sent.
    pub ack_after: AckAfter,
    /// Retry policy of every destination.
    pub retry: RetryPolicy,
    /// Route every message unchanged to all three destinations instead of the hospital's
    /// routes (the engine load benchmark's configuration).
    pub fan_out_all: bool,
    /// MLLP address of the senders' listener for the application ACKs of enhanced mode
    /// (destination `sender-acks`); without it such requests are logged and not answered.
    pub application_acks: Option<String>,
}

/// The engine of the example hospital.
pub fn builder(store: Arc<dyn Store>, setup: &Setup) -> EngineBuilder {
    let mut inbound = Channel::mllp("inbound", setup.listen.as_str()).ack_after(setup.ack_after);
    if setup.application_acks.is_some() {
        inbound = inbound.application_acks_to("sender-acks");
    }
    let mut engine = Engine::builder(store).channel(inbound);
    if let Some(addr) = &setup.application_acks {
        engine = engine.destination(
            Destination::mllp("sender-acks", addr.as_str())
                .client(setup.client.clone())
                .retry(setup.retry),
        );
    }
    for (name, addr) in DESTINATIONS.iter().zip(&setup.destinations) {
        engine = engine.destination(
            Destination::mllp(*name, addr.as_str())
                .client(setup.client.clone())
                .retry(setup.retry),
        );
    }
    if setup.fan_out_all {
        return engine.route(
            Route::new("everything to everyone")
                .to("ehr")
                .to("billing")
                .to("pharmacy"),
        );
    }
    engine
        .route(
            Route::new("lab results to the EHR")
                .when(|m| m.is("ORU", "R01") && m.sending_facility() == "ACME")
                .typed::<acme_lab::OruR01>(|t| t.map("ehr", LabResultToEhr::map)),
        )
        .route(
            Route::new("St Mary's admissions, checked")
                .when(|m| m.is("ADT", "A01") && m.sending_facility() == "STMARYS")
                .typed::<st_marys::AdtA01>(|t| t.to("ehr").to("billing").to("pharmacy")),
        )
        .route(
            Route::new("other ADT, passed through")
                .when(|m| {
                    m.message_type() == "ADT"
                        && !(m.event() == "A01" && m.sending_facility() == "STMARYS")
                })
                .to("ehr")
                .to("billing")
                .to("pharmacy"),
        )
}
