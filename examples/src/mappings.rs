//! Mappings between the example hospital's partners, checked at compile time.

use hl7_runtime::types::Text;
use hl7_runtime::Mapping;


/// ACME's lab results, as St Mary's EHR files them: the hub as sender (MSH-3 and MSH-4 rebuilt,
/// not copied), one identifier per patient, sex codes of table 0001; everything else of the same
/// path and a compatible type is copied as it is.
#[derive(Mapping)]
#[mapping(from = crate::acme_lab::OruR01, to = crate::st_marys::OruR01)]
#[map(to = "MSH-3", drop)]
#[map(to = "MSH-3.1", constant = "HUB")]
#[map(to = "MSH-4", drop)]
#[map(to = "MSH-4.1", constant = "STMARYS")]
#[map(to = "PID-3", from = "PID-3[1]")]
#[map(to = "PID-8", with = sex_to_table_0001)]
pub struct LabResultToEhr;

/// ACME sends `M`, `F` or `U`; table 0001 has the same codes, so only the slot changes.
fn sex_to_table_0001(sex: &Text) -> Text {
    match sex.as_raw() {
        "M" | "F" => sex.clone(),
        _ => Text::new("U"),
    }
}
