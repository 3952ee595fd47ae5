use hl7_runtime::Mapping;

// A coded element (CWE) cannot become a timestamp (TS) without a conversion.
#[derive(Mapping)]
#[mapping(from = hl7_examples::acme_lab::OruR01, to = hl7_examples::st_marys::OruR01)]
#[map(to = "PID-3", from = "PID-3[1]")]
#[map(to = "OBR-7", from = "OBR-4")]
struct LabToEhr;

fn main() {}
