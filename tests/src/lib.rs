//! Cross-crate tests: typed code generated from the fixture profiles by this crate's build.rs,
//! compiled and exercised as a user's crate would.

/// HAPI's fixtures: the HL7 example ACK (2.4) and the full ADT_A01 (2.5) with predicates.
pub mod hapi {
    hl7_runtime::include_site!("hapi");
}

/// The Veterans Affairs ADT_A01 receiver profile (2.3.1).
pub mod hapi_va {
    hl7_runtime::include_site!("hapi_va");
}

/// IHE/Gazelle: OUL_R22 (LAW, 2.5.1) and RSP_K23 (PIX query response, 2.5).
pub mod gazelle {
    hl7_runtime::include_site!("gazelle");
}

/// NIST immunization VXU_V04 (2.5.1).
pub mod nist {
    hl7_runtime::include_site!("nist");
}

/// A concise site profile: a lab's ORU_R01 with a Z-segment.
pub mod acme {
    hl7_runtime::include_site!("acme");
}

/// Unconstrained HL7 2.5.1 structures: the hospital mix of the benchmarks.
pub mod base251 {
    hl7_runtime::include_site!("base251");
}
