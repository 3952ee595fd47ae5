//! Typed round trips: the hospital-mix corpus through the base 2.5.1 types byte for byte, and
//! proptest over text with delimiters, escapes, CR/LF and non-ASCII.

#[path = "../../runtime/benches/corpus/mod.rs"]
#[allow(missing_docs)]
mod corpus;

use hl7_runtime::er7::{escape, Delimiters};
use hl7_runtime::typed::{self, MessageType};
use hl7_tests::base251::{AdtA01, OrmO01, OruR01, OruR01View, RdeO11};
use proptest::prelude::*;

/// `text` without trailing empty fields, repetitions, components and subcomponents: they carry
/// no meaning, and the typed model does not keep them (standard delimiters assumed).
fn trim_trailing_empties(text: &str) -> String {
    fn trim(raw: &str, separators: &[char]) -> String {
        let Some((&separator, inner)) = separators.split_first() else {
            return raw.to_owned();
        };
        let mut parts: Vec<String> = raw.split(separator).map(|p| trim(p, inner)).collect();
        while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
            parts.pop();
        }
        parts.join(&separator.to_string())
    }
    text.split_terminator('\r')
        .map(|segment| match segment.strip_prefix("MSH|^~\\&") {
            Some(rest) => format!("MSH|^~\\&{}", trim(rest, &['|', '~', '^', '&'])),
            None => trim(segment, &['|', '~', '^', '&']),
        })
        .map(|segment| segment + "\r")
        .collect()
}

fn round_trip<M: MessageType + PartialEq + std::fmt::Debug>(text: &str) -> Vec<String> {
    let parsed = typed::parse_lenient::<M>(text.as_bytes()).expect("corpus messages are ER7");
    let errors: Vec<String> = parsed
        .problems
        .iter()
        .filter(|p| p.is_error())
        .map(ToString::to_string)
        .collect();
    let encoded = typed::to_er7(&parsed.message);
    assert_eq!(
        encoded,
        trim_trailing_empties(text),
        "typed re-encoding differs"
    );
    let again = typed::parse_lenient::<M>(encoded.as_bytes()).expect("re-encoded parses");
    assert_eq!(again.message, parsed.message);
    errors
}

#[test]
fn hospital_mix_round_trips_through_the_typed_model() {
    let mut errors = Vec::new();
    for text in corpus::hospital_mix(300) {
        let event = text.split('|').nth(8).unwrap_or_default().to_owned();
        let found = match &event[..3] {
            "ADT" => round_trip::<AdtA01>(&text),
            "ORU" => round_trip::<OruR01>(&text),
            "ORM" => round_trip::<OrmO01>(&text),
            "RDE" => round_trip::<RdeO11>(&text),
            other => panic!("unexpected message type {other}"),
        };
        errors.extend(found.into_iter().map(|e| format!("{event}: {e}")));
    }
    assert!(
        errors.is_empty(),
        "the corpus should conform to base 2.5.1:\n{}",
        errors.join("\n")
    );
}

fn text() -> impl Strategy<Value = String> {
    // Delimiters, the escape character, CR/LF, and non-ASCII, mixed with ordinary text.
    proptest::collection::vec(
        prop_oneof![
            4 => "[A-Za-z0-9 .,-]{1,6}",
            1 => Just("|".to_owned()),
            1 => Just("^".to_owned()),
            1 => Just("~".to_owned()),
            1 => Just("\\".to_owned()),
            1 => Just("&".to_owned()),
            1 => Just("\r\n".to_owned()),
            1 => Just("\n".to_owned()),
            1 => Just("é".to_owned()),
            1 => Just("漢字".to_owned()),
            1 => Just("🩺".to_owned()),
        ],
        1..8,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn typed_parse_of_encode_is_identity(family in text(), given in text(), comment in text(), value in text()) {
        let esc = |s: &str| escape::encode(s, &Delimiters::DEFAULT).into_owned();
        let wire = format!(
            "MSH|^~\\&|LAB|H|EHR|H|20240101120000||ORU^R01^ORU_R01|1|P|2.5.1\r\
             PID|1||123^^^H^MR||{}^{}\r\
             OBR|1|||1234-5^Panel^LN\r\
             OBX|1|ST|1234-5^Test^LN||{}\r\
             NTE|1||{}\r",
            esc(&family), esc(&given), esc(&value), esc(&comment)
        );
        let first = typed::parse_lenient::<OruR01>(wire.as_bytes()).expect("parses").message;
        let encoded = typed::to_er7(&first);
        prop_assert_eq!(&encoded, &wire);
        let second = typed::parse_lenient::<OruR01>(encoded.as_bytes()).expect("parses").message;
        prop_assert_eq!(&second, &first);

        let pid = &first.patient_result[0].patient.as_ref().expect("patient group").pid;
        let name = &pid.patient_name[0];
        let family_name = name.family_name.as_ref().map(|f| f.surname.decoded().into_owned());
        prop_assert_eq!(family_name.as_deref(), Some(family.as_str()));
        let given_name = name.given_name.as_ref().map(|t| t.decoded().into_owned());
        prop_assert_eq!(given_name.as_deref(), Some(given.as_str()));

        // The typed view reads the same values in place, and decodes to the same message.
        let view = OruR01View::parse_lenient(&wire).expect("parses").message;
        let result = view.patient_result().first().expect("PATIENT_RESULT");
        let name = result.patient().expect("patient group").pid().patient_name().first();
        let surname = name.and_then(|n| n.family_name()).map(|f| f.surname().text().into_owned());
        prop_assert_eq!(surname.as_deref(), Some(family.as_str()));
        let given_name = name.and_then(|n| n.given_name()).map(|g| g.text().into_owned());
        prop_assert_eq!(given_name.as_deref(), Some(given.as_str()));
        let obx = result.order_observation().first().expect("ORDER_OBSERVATION")
            .observation().first().expect("OBSERVATION").obx();
        let read = obx.observation_value().first().map(|v| v.text().into_owned());
        prop_assert_eq!(read.as_deref(), Some(value.as_str()));
        prop_assert_eq!(&view.decode(), &first);
    }
}
