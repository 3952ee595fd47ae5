use hl7_runtime::Mapping;

// With automatic copies off, nothing provides what the EHR requires.
#[derive(Mapping)]
#[mapping(from = hl7_examples::acme_lab::OruR01, to = hl7_examples::st_marys::OruR01, auto = false)]
#[map(to = "PID-3", from = "PID-3[1]")]
struct LabToEhr;

fn main() {}
