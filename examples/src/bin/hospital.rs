//! The example hospital's interface job: every inbound message in `examples/messages/` is parsed
//! into its sender's typed model and checked against the sender's site profile; conforming
//! messages are summarised from their typed fields, the others are reported with the HL7
//! location of each problem; lab results are mapped for the EHR (crosswalks to LOINC) and checked
//! against the EHR's profile. Then an outbound admission is built in code and validated.
//!
//! Until the engine runtime exists, this is the hospital's main job:
//! `cargo run -p hl7-examples --bin hospital [FOLDER]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hl7_examples::mappings::LabResultToEhr;
use hl7_examples::{acme_lab, st_marys};
use hl7_runtime::er7;
use hl7_runtime::typed::Parsed;
use hl7_runtime::types::{DateTime, Text};
use hl7_runtime::validate::Problem;
use hl7_runtime::NonEmpty;

fn main() -> ExitCode {
    let folder = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("messages"));
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&folder) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
            .collect(),
        Err(error) => {
            eprintln!("error: cannot read `{}`: {error}", folder.display());
            return ExitCode::from(2);
        }
    };
    files.sort();
    let mut rejected = 0;
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) => {
                eprintln!("error: cannot read `{}`: {error}", path.display());
                return ExitCode::from(2);
            }
        };
        println!("== {name}");
        match route(&bytes) {
            Ok(summary) => println!("   accepted: {summary}"),
            Err(report) => {
                rejected += 1;
                println!("   rejected:\n{report}");
            }
        }
    }
    println!("== outbound");
    let admit = outbound_admission();
    let problems = admit.validate();
    println!(
        "   built ADT^A01 {} in code, {} problem(s):",
        admit.msh.message_control_id,
        problems.len()
    );
    for problem in &problems {
        println!("   - {problem}");
    }
    for line in admit.to_er7().split_terminator('\r') {
        println!("   | {line}");
    }
    println!("{} message(s), {rejected} rejected", files.len());
    ExitCode::SUCCESS
}

/// Picks the sender's typed model by MSH-4 and MSH-9, as an engine's route would.
fn route(bytes: &[u8]) -> Result<String, String> {
    let decoded = er7::decode_bytes(bytes).map_err(|e| format!("   {e}"))?;
    let view = er7::Message::parse(&decoded.text).map_err(|e| format!("   {e}"))?;
    let facility = view
        .get("MSH-4.1")
        .ok()
        .flatten()
        .map(|i| i.decoded().into_owned())
        .unwrap_or_default();
    match (facility.as_str(), view.message_type()) {
        ("ACME", (Some("ORU"), Some("R01"), _)) => {
            lab_result(acme_lab::OruR01::parse_lenient(bytes))
        }
        ("STMARYS", (Some("ADT"), Some("A01"), _)) => {
            admission(st_marys::AdtA01::parse_lenient(bytes))
        }
        (facility, (kind, event, _)) => Err(format!(
            "   no profile for {}^{} from `{facility}`",
            kind.unwrap_or(""),
            event.unwrap_or("")
        )),
    }
}

fn problems(list: &[Problem]) -> Result<(), String> {
    if list.iter().any(Problem::is_error) {
        return Err(list
            .iter()
            .map(|p| format!("   - {p}"))
            .collect::<Vec<_>>()
            .join("\n"));
    }
    Ok(())
}

fn lab_result(parsed: Result<Parsed<acme_lab::OruR01>, er7::ParseError>) -> Result<String, String> {
    let parsed = parsed.map_err(|e| format!("   {e}"))?;
    problems(&parsed.problems)?;
    let result = &parsed.message.patient_result;
    let patient = &result.patient.pid;
    let mrn = patient
        .patient_identifier_list
        .first()
        .id_number
        .to_string();
    let values: Vec<String> = result
        .order_observation
        .iter()
        .flat_map(|order| &order.observation)
        .map(|o| {
            let test = o
                .obx
                .observation_identifier
                .text
                .as_ref()
                .map(Text::to_string)
                .unwrap_or_default();
            let value = o
                .obx
                .observation_value
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let reviewed = o
                .zlr
                .as_ref()
                .map(|z| format!(" (reviewed {})", z.internal_code))
                .unwrap_or_default();
            format!("{test} = {value}{reviewed}")
        })
        .collect();
    // Deliver to the EHR: the typed mapping, then the EHR's own profile as a receiver checks it.
    let delivered = match LabResultToEhr::map(&parsed.message) {
        Ok(ehr) => {
            let errors = ehr.validate().iter().filter(|p| p.is_error()).count();
            format!(
                "mapped for the St Mary's EHR ({} bytes, {errors} profile errors)",
                ehr.to_er7().len()
            )
        }
        Err(error) => format!("not mapped for the EHR: {error}"),
    };
    Ok(format!(
        "lab result for MRN {mrn}: {}; {delivered}",
        values.join("; ")
    ))
}

fn admission(parsed: Result<Parsed<st_marys::AdtA01>, er7::ParseError>) -> Result<String, String> {
    let parsed = parsed.map_err(|e| format!("   {e}"))?;
    problems(&parsed.problems)?;
    let msg = &parsed.message;
    let name = &msg.pid.patient_name[0];
    let family = name
        .family_name
        .as_ref()
        .map(|f| f.surname.to_string())
        .unwrap_or_default();
    let bed = msg
        .pv1
        .assigned_patient_location
        .bed
        .as_ref()
        .map(Text::to_string)
        .unwrap_or_default();
    let priority = msg
        .zpv
        .as_ref()
        .map(|z| z.bed_request_priority.to_string())
        .unwrap_or_default();
    Ok(format!(
        "admission of {family} to bed {bed}, priority {priority}"
    ))
}

/// An admission built in code: the compiler insists on every required element of the profile.
fn outbound_admission() -> st_marys::AdtA01 {
    use st_marys::adt_a01::*;
    let mut admit = AdtA01::default();
    admit.msh.sending_application = Some(Box::new(Hd {
        namespace_id: "EPIC".into(),
        ..Hd::default()
    }));
    admit.msh.sending_facility = Some(Box::new(HdMsh4 {
        namespace_id: "STMARYS".into(),
        ..HdMsh4::default()
    }));
    admit.msh.date_time_of_message = Ts {
        time: DateTime::new("20241127100000"),
        ..Ts::default()
    };
    admit.msh.message_type = Msg {
        message_code: "ADT".into(),
        trigger_event: Some("A01".into()),
        message_structure: Some("ADT_A01".into()),
    };
    admit.msh.message_control_id = "STM-90002".into();
    admit.msh.processing_id = Pt {
        processing_id: Some("P".into()),
        ..Pt::default()
    };
    admit.msh.version_id = Vid {
        version_id: Some("2.5.1".into()),
        ..Vid::default()
    };
    admit.evn.recorded_date_time = Ts {
        time: DateTime::new("20241127095958"),
        ..Ts::default()
    };
    // Required and repeating: a `NonEmpty`, so at least one identifier and one name.
    admit.pid.patient_identifier_list = NonEmpty::new(CxPid3 {
        id_number: "7452199".into(),
        assigning_authority: Some(HdMsh5 {
            namespace_id: Some("STMARYS".into()),
            ..HdMsh5::default()
        }),
        identifier_type_code: "MR".into(),
        ..CxPid3::default()
    });
    admit.pid.patient_name = NonEmpty::new(Xpn {
        family_name: Some(FnType {
            surname: "O'Brien".into(),
            ..FnType::default()
        }),
        given_name: Some("Mary Ann".into()),
        ..Xpn::default()
    });
    admit.pid.date_time_of_birth = Ts {
        time: DateTime::new("19620704"),
        ..Ts::default()
    };
    admit.pid.administrative_sex = "F".into();
    admit.pv1.patient_class = "E".into();
    admit.pv1.assigned_patient_location = Pl {
        point_of_care: Some("ED".into()),
        bed: Some("12".into()),
        ..Pl::default()
    };
    admit.pv1.visit_number = Cx {
        id_number: "V778900".into(),
        ..Cx::default()
    };
    admit
}
