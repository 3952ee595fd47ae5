use hl7_runtime::Mapping;

// OBX-7 (reference range) is free text, not a code.
#[derive(Mapping)]
#[mapping(from = hl7_examples::acme_lab::OruR01, to = hl7_examples::st_marys::OruR01)]
#[map(to = "PID-3", from = "PID-3[1]")]
#[map(to = "OBX-7", crosswalk = hl7_examples::acme_lab::crosswalks::LAB_TO_LOINC)]
struct LabToEhr;

fn main() {}
