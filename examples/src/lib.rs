//! An example hospital: two partner systems, each with its site profile, and the typed
//! interface code written against them.
//!
//! - `acme_lab`: the ACME laboratory sends results (`ORU^R01`) with a `ZLR` review segment.
//! - `st_marys`: the St Mary's EHR sends admissions (`ADT^A01`) with a `ZPV` visit segment.

/// Types generated from `profiles/acme_lab/`.
pub mod acme_lab {
    hl7_runtime::include_site!("acme_lab");
}

/// Types generated from `profiles/st_marys/`.
pub mod st_marys {
    hl7_runtime::include_site!("st_marys");
}

pub mod mappings;

pub mod engine;
pub mod simulated;
