use hl7_runtime::Mapping;

#[derive(Mapping)]
#[map(to = "PID-3", from = "PID-3[1]")]
struct LabToEhr;

fn main() {}
