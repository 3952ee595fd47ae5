//! Typed views (`OruR01View` and the rest, written by the derives): each accessor reads what
//! the owned parse reads, repetitions, components and subcomponents included, under any
//! delimiters; a view decodes to the owned message; a view parse reports the same problems.

#[path = "../../runtime/benches/corpus/mod.rs"]
#[allow(missing_docs)]
mod corpus;

use std::path::{Path, PathBuf};

use hl7_runtime::typed::ReadError;
use hl7_tests::base251::{self, AdtA01, AdtA01View, OrmO01, OrmO01View, OruR01, OruR01View};
use hl7_tests::base251::{RdeO11, RdeO11View};
use hl7_tests::{acme, gazelle, hapi, hapi_va, nist};

/// Views `text` as `$view`, parses it as `$owned`, and checks the two agree: the view decodes
/// to the owned message and reports the same problems.
macro_rules! agree {
    ($owned:ty, $($view:ident)::+, $text:expr) => {{
        let text: &str = $text;
        let owned = <$owned>::parse_lenient(text.as_bytes()).expect("ER7");
        let view = $($view)::+::parse_lenient(text).expect("ER7");
        assert_eq!(view.problems, owned.problems, "problems of {text:?}");
        let checked = hl7_runtime::typed::validate_bytes::<$owned>(text.as_bytes()).expect("ER7");
        assert_eq!(checked, owned.problems, "problems of {text:?}, unbuilt");
        assert!(
            view.message.decode() == owned.message,
            "decoded view differs from the owned parse of {text:?}"
        );
    }};
}

#[test]
fn views_of_the_hospital_mix_decode_to_the_owned_parse() {
    for text in corpus::hospital_mix(80) {
        match &text.split('|').nth(8).unwrap_or_default()[..3] {
            "ADT" => agree!(AdtA01, AdtA01View, &text),
            "ORU" => agree!(OruR01, OruR01View, &text),
            "ORM" => agree!(OrmO01, OrmO01View, &text),
            "RDE" => agree!(RdeO11, RdeO11View, &text),
            other => panic!("unexpected message type {other}"),
        }
    }
}

fn messages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/fixtures/messages")
}

#[test]
fn views_of_the_real_fixture_messages_decode_to_the_owned_parse() {
    let manifest = std::fs::read_to_string(messages_dir().join("MANIFEST.tsv")).expect("manifest");
    let mut checked = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (source, file, msh9, version) = (cols[0], cols[1], cols[2], cols[3]);
        if cols.get(16).is_some_and(|f| f.contains("[defect]")) || file.ends_with(".batch.hl7") {
            continue;
        }
        let bytes = std::fs::read(messages_dir().join(source).join(file)).expect("fixture");
        let Ok(decoded) = hl7_runtime::er7::decode_bytes(&bytes) else {
            // Not ER7 (an unknown MSH-18): nothing to view, and the owned parse refuses it too.
            assert!(hl7_runtime::typed::parse_lenient::<OruR01>(&bytes).is_err());
            continue;
        };
        let text: &str = &decoded.text;
        let mut parts = msh9.split(['^', '~']);
        let key = format!(
            "{}^{}",
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("")
        );
        match (key.as_str(), version) {
            ("VXU^V04", "2.5.1") => agree!(nist::VxuV04, nist::VxuV04View, text),
            ("OUL^R22", _) => agree!(gazelle::OulR22, gazelle::OulR22View, text),
            ("RSP^K23", _) => agree!(gazelle::RspK23, gazelle::RspK23View, text),
            ("ADT^A01", "2.3.1") => agree!(hapi_va::AdtA01, hapi_va::AdtA01View, text),
            ("ADT^A01", "2.5") => agree!(hapi::AdtA01, hapi::AdtA01View, text),
            ("ORU^R01", "2.5.1") => agree!(OruR01, OruR01View, text),
            ("ADT^A01" | "ADT^A04" | "ADT^A08", "2.5.1") => agree!(AdtA01, AdtA01View, text),
            _ => continue,
        }
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} fixture messages have a profile type"
    );
}

const LAB: &str =
    "MSH|^~\\&|LAB|ACME^1.2.3^ISO|EHR|STM|20261128080000||ORU^R01^ORU_R01|MSG1|P|2.5.1\r\
PID|1||12345^^^ACME&1.2.3&ISO^MR~67890^^^STM^MR||DOE^JOHN^Q~O\\S\\NEIL^JACK||19700101|M\r\
OBR|1|ORD1|FIL1|GLU^Glucose^L\r\
OBX|1|NM|GLU^Glucose^L||105|mg/dL^milligram per deciliter^UCUM|70-99|H~A|||F\r\
OBX|2|TX|NOTE^Note^L||a \\F\\ b~second||||||F\r";

#[test]
fn accessors_read_fields_repetitions_components_and_subcomponents() {
    let view = OruR01::view(LAB).expect("a conformant message");
    let msh = view.msh();
    assert_eq!(msh.field_separator().raw(), "|");
    assert_eq!(msh.encoding_characters().raw(), "^~\\&");
    let facility = msh.sending_facility().expect("MSH-4");
    assert_eq!(facility.namespace_id().expect("MSH-4.1"), "ACME");
    assert_eq!(facility.universal_id().expect("MSH-4.2"), "1.2.3");
    assert_eq!(msh.message_control_id().raw(), "MSG1");
    assert_eq!(msh.message_type().trigger_event().expect("MSH-9.2"), "R01");
    assert!(msh.security().is_none());

    assert_eq!(view.patient_result().len(), 1);
    let result = view.patient_result().first().expect("PATIENT_RESULT");
    let pid = result.patient().expect("PATIENT").pid();
    let ids = pid.patient_identifier_list();
    assert_eq!(ids.len(), 2);
    let first = ids.first().expect("PID-3[1]");
    assert_eq!(first.id_number().raw(), "12345");
    let authority = first.assigning_authority().expect("PID-3.4");
    assert_eq!(authority.universal_id().expect("PID-3.4.2"), "1.2.3");
    assert_eq!(authority.universal_id_type().expect("PID-3.4.3"), "ISO");
    let second = ids.get(1).expect("PID-3[2]");
    assert_eq!(second.id_number().raw(), "67890");
    assert!(ids.get(2).is_none());
    let ids_read: Vec<String> = ids.iter().map(|c| c.id_number().raw().to_owned()).collect();
    assert_eq!(ids_read, ["12345", "67890"]);

    let names: Vec<_> = pid.patient_name().into_iter().collect();
    assert_eq!(names.len(), 2);
    let family = names[1].family_name().expect("PID-5[2].1");
    assert_eq!(family.surname().raw(), "O\\S\\NEIL");
    assert_eq!(family.surname().text(), "O^NEIL");
    assert_eq!(family.surname().to_string(), "O^NEIL");
    assert_eq!(names[0].given_name().expect("PID-5.2"), "JOHN");
    assert!(pid.mother_s_maiden_name().is_empty());
    assert_eq!(pid.mother_s_maiden_name().len(), 0);
    assert!(pid.patient_alias().first().is_none());
    assert_eq!(pid.administrative_sex().expect("PID-8"), "M");
    let born = pid.date_time_of_birth().expect("PID-7");
    assert_eq!(born.time().raw(), "19700101");

    let order = result
        .order_observation()
        .first()
        .expect("ORDER_OBSERVATION");
    assert!(order.orc().is_none());
    assert_eq!(
        order
            .obr()
            .filler_order_number()
            .expect("OBR-3")
            .entity_identifier()
            .expect("OBR-3.1"),
        "FIL1"
    );
    let observations = order.observation();
    assert_eq!(observations.len(), 2);
    assert_eq!(observations.iter().len(), 2);
    let glucose = observations.first().expect("OBSERVATION").obx();
    assert_eq!(
        glucose.observation_identifier().text().expect("OBX-3.2"),
        "Glucose"
    );
    assert_eq!(
        glucose
            .units()
            .expect("OBX-6")
            .name_of_coding_system()
            .expect("OBX-6.3"),
        "UCUM"
    );
    let flags: Vec<&str> = glucose.abnormal_flags().iter().map(|f| f.raw()).collect();
    assert_eq!(flags, ["H", "A"]);
    assert_eq!(
        glucose.observation_value().first().expect("OBX-5").raw(),
        "105"
    );
    let note = observations.get(1).expect("OBSERVATION[2]").obx();
    let values: Vec<String> = note
        .observation_value()
        .iter()
        .map(|v| v.text().into_owned())
        .collect();
    assert_eq!(values, ["a | b", "second"]);

    // A view decodes to exactly what the owned parse holds, at every level.
    let owned = OruR01::parse(LAB.as_bytes()).expect("a conformant message");
    let owned_obx = &owned.patient_result[0].order_observation[0].observation[1].obx;
    assert_eq!(&note.decode(), owned_obx);
    assert_eq!(
        &names[1].decode(),
        &owned.patient_result[0]
            .patient
            .as_ref()
            .unwrap()
            .pid
            .patient_name[1]
    );
    assert_eq!(
        ids.decode(),
        owned.patient_result[0]
            .patient
            .as_ref()
            .unwrap()
            .pid
            .patient_identifier_list
            .clone()
            .into_vec()
    );
    assert!(view.decode() == owned);
}

#[test]
fn accessors_read_under_other_delimiters_and_decode_to_the_standard_ones() {
    // Component `$`, repetition `!`, escape `\`, subcomponent `%`.
    let text =
        "MSH|$!\\%|LAB|ACME$1.2.3$ISO|EHR|STM|20261128080000||ORU$R01$ORU_R01|MSG2|P|2.5.1\r\
PID|1||12345$$$ACME%1.2.3%ISO$MR!777||DOE$JOHN\r\
OBR|1|ORD1|FIL1|GLU$Glucose$L\r\
OBX|1|ST|NOTE$Note$L||a^b \\S\\ c||||||F\r";
    let view = OruR01View::parse(text).expect("a conformant message");
    assert_eq!(view.msh().encoding_characters().raw(), "$!\\%");
    let pid = view
        .patient_result()
        .first()
        .unwrap()
        .patient()
        .unwrap()
        .pid();
    let ids = pid.patient_identifier_list();
    assert_eq!(ids.len(), 2);
    let authority = ids.first().unwrap().assigning_authority().expect("PID-3.4");
    assert_eq!(authority.universal_id().expect("PID-3.4.2"), "1.2.3");
    assert_eq!(ids.get(1).unwrap().id_number().raw(), "777");
    let obx = view
        .patient_result()
        .first()
        .unwrap()
        .order_observation()
        .first()
        .unwrap()
        .observation()
        .first()
        .unwrap()
        .obx();
    let value = obx.observation_value().first().expect("OBX-5");
    assert_eq!(value.raw(), "a^b \\S\\ c");
    assert_eq!(value.text(), "a^b $ c");
    // Decoded, a value is escaped for the standard delimiters, as the owned parse keeps it.
    let owned = OruR01::parse(text.as_bytes()).expect("a conformant message");
    assert_eq!(
        obx.decode(),
        owned.patient_result[0].order_observation[0].observation[0].obx
    );
    assert!(view.decode() == owned);
}

#[test]
fn a_view_parse_fails_or_reports_like_the_owned_parse() {
    // OBX-11 (required) left out, OBX-2 not in its table.
    let text = LAB.replace("||||||F\r", "|||||\r").replace("|TX|", "|ZZ|");
    match OruR01View::parse(&text) {
        Err(ReadError::Invalid { problems }) => {
            let owned = match OruR01::parse(text.as_bytes()) {
                Err(ReadError::Invalid { problems }) => problems,
                other => panic!("the owned parse accepted it: {other:?}"),
            };
            assert_eq!(problems, owned);
            assert!(
                problems.iter().any(|p| p.to_string().contains("OBX-11")),
                "{problems:?}"
            );
        }
        other => panic!("the view parse accepted it: {other:?}"),
    }
    // Lenient: the view is there, a missing required value reads empty.
    let parsed = OruR01View::parse_lenient(&text).expect("ER7");
    let obx = parsed
        .message
        .patient_result()
        .first()
        .unwrap()
        .order_observation()
        .first()
        .unwrap()
        .observation()
        .get(1)
        .unwrap()
        .obx();
    assert!(obx.observation_result_status().is_empty());
    assert!(OruR01View::parse_lenient("not hl7").is_err());
    let _ = base251::AdtA01View::parse_lenient(LAB).expect("ER7 of another type");
}

/// The README's example, on ACME's site profile.
#[test]
fn the_readme_example_reads_an_acme_result() -> Result<(), Box<dyn std::error::Error>> {
    let bytes = b"MSH|^~\\&|LIS|ACME|EHR|STMARYS|20241127083000||ORU^R01^ORU_R01|1|P|2.5.1\r\
PID|1||881234^^^ACME^MR||DOE^JANE||19790412|F\r\
OBR|1|||GLU^Glucose^LAB\r\
OBX|1|NM|GLU^Glucose^LAB||104||||||F\r\
OBX|2|NM|K^Potassium^LAB||4.1||||||F\r";
    let text = std::str::from_utf8(bytes)?;
    let msg = acme::OruR01::view(text)?;
    let result = msg.patient_result();
    let pid = result.patient().pid();
    let mrn = pid
        .patient_identifier_list()
        .first()
        .map(|cx| cx.id_number().text());
    assert_eq!(mrn.as_deref(), Some("881234"));
    let mut codes = Vec::new();
    for order in result.order_observation() {
        for obs in order.observation() {
            let code = obs.obx().observation_identifier().identifier();
            codes.push(code.map(|c| c.raw()));
        }
    }
    assert_eq!(codes, [Some("GLU"), Some("K")]);
    let owned: acme::OruR01 = msg.decode();
    assert!(owned == acme::OruR01::parse(bytes)?);
    Ok(())
}
