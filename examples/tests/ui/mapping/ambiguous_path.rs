use hl7_runtime::Mapping;

#[derive(Mapping)]
#[mapping(from = hl7_examples::acme_lab::OruR01, to = hl7_examples::st_marys::OruR01)]
#[map(to = "PID-3", from = "PID-3[1]")]
#[map(to = "NTE-3", drop)]
struct LabToEhr;

fn main() {}
