use hl7_runtime::Mapping;

// The sex crosswalk writes codes of table 0001; OBX-11 takes codes of table 0085.
#[derive(Mapping)]
#[mapping(from = hl7_examples::acme_lab::OruR01, to = hl7_examples::st_marys::OruR01)]
#[map(to = "PID-3", from = "PID-3[1]")]
#[map(to = "OBX-11", crosswalk = hl7_examples::acme_lab::crosswalks::SEX_TO_0001)]
struct LabToEhr;

fn main() {}
