use hl7_runtime::Mapping;

// The lab sends up to two identifiers; the EHR takes one: which one?
#[derive(Mapping)]
#[mapping(from = hl7_examples::acme_lab::OruR01, to = hl7_examples::st_marys::OruR01)]
#[map(to = "PID-3", from = "PID-3")]
struct LabToEhr;

fn main() {}
