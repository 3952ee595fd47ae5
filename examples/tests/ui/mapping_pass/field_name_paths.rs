use hl7_runtime::Mapping;

// The same mapping written with generated field names instead of HL7 paths.
#[derive(Mapping)]
#[mapping(from = hl7_examples::acme_lab::OruR01, to = hl7_examples::st_marys::OruR01)]
#[map(drop = "msh.sending_application")]
#[map(to = "msh.sending_application.namespace_id", constant = "HUB")]
#[map(drop = "msh.sending_facility")]
#[map(to = "msh.sending_facility.namespace_id", constant = "STMARYS")]
#[map(to = "patient_result.patient.pid.patient_identifier_list", from = "PID-3[1]")]
struct LabToEhr;

fn main() {
    let _ = LabToEhr::map;
}
