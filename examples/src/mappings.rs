//! Mappings between the example hospital's partners, checked at compile time.

use hl7_runtime::Mapping;

/// ACME's lab results, as St Mary's EHR files them: the hub as sender (MSH-3 and MSH-4 rebuilt,
/// not copied), one identifier per patient, sex codes of table 0001; everything else of the same
/// path and a compatible type is copied as it is.
#[derive(Mapping)]
#[mapping(from = crate::acme_lab::OruR01, to = crate::st_marys::OruR01)]
#[map(drop = "MSH-3")]
#[map(to = "MSH-3.1", constant = "HUB")]
#[map(drop = "MSH-4")]
#[map(to = "MSH-4.1", constant = "STMARYS")]
#[map(to = "PID-3", from = "PID-3[1]")]
#[map(to = "PID-8", crosswalk = crate::acme_lab::crosswalks::SEX_TO_0001)]
#[map(to = "OBR-4", crosswalk = crate::acme_lab::crosswalks::LAB_TO_LOINC)]
#[map(to = "OBX-3", crosswalk = crate::acme_lab::crosswalks::LAB_TO_LOINC)]
pub struct LabResultToEhr;
