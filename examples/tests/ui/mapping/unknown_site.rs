use hl7_runtime::Mapping;

mod lab {
    pub use hl7_examples::acme_lab::OruR01;
}

#[derive(Mapping)]
#[mapping(from = lab::OruR01, to = hl7_examples::st_marys::OruR01)]
#[map(to = "PID-3", from = "PID-3[1]")]
struct LabToEhr;

fn main() {}
