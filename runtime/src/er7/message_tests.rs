//! Unit tests of the message, segment and lower views.

use super::*;
use crate::er7::Item;

const ADT: &str = "MSH|^~\\&|SEND|FAC|RECV|FAC|20240101||ADT^A01^ADT_A01|MSG1|P|2.5.1\r\
EVN|A01\r\
PID|1||123^^^HOSP&1.2.3&ISO^MR~456^^^OTHER||DOE^JOHN||19700101|M|||1 MAIN ST\\S\\APT 2^^TOWN\r";

#[test]
fn msh_field_numbering() {
    let m = Message::parse(ADT).unwrap();
    let msh = m.msh();
    assert_eq!(msh.id(), "MSH");
    assert_eq!(msh.field(1).unwrap().raw(), "|");
    assert_eq!(msh.field(2).unwrap().raw(), "^~\\&");
    assert_eq!(msh.field(2).unwrap().repetition_count(), 1);
    assert_eq!(msh.field(2).unwrap().decoded(), "^~\\&");
    assert_eq!(msh.field(3).unwrap().raw(), "SEND");
    assert_eq!(msh.field(3).unwrap().offset(), 9);
    assert_eq!(msh.field(9).unwrap().raw(), "ADT^A01^ADT_A01");
    assert_eq!(msh.field_count(), 12);
    let numbers: Vec<usize> = msh.fields().map(|f| f.number()).collect();
    assert_eq!(numbers, (1..=12).collect::<Vec<_>>());
    assert_eq!(
        m.message_type(),
        (Some("ADT"), Some("A01"), Some("ADT_A01"))
    );
    assert_eq!(m.control_id(), Some("MSG1"));
    assert_eq!(m.version(), Some("2.5.1"));
    assert!(msh.field(13).is_none());
    assert!(msh.field(0).is_none());
}

#[test]
fn lower_levels() {
    let m = Message::parse(ADT).unwrap();
    let pid = m.segment("PID", 1).unwrap();
    assert_eq!(pid.index(), 2);
    assert_eq!(pid.field_count(), 11);
    let f3 = pid.field(3).unwrap();
    assert_eq!(f3.repetition_count(), 2);
    let r1 = f3.repetition(1).unwrap();
    assert_eq!(r1.component_count(), 5);
    let c4 = r1.component(4).unwrap();
    assert_eq!(c4.subcomponent_count(), 3);
    let s2 = c4.subcomponent(2).unwrap();
    assert_eq!(s2.raw(), "1.2.3");
    assert_eq!(&ADT[s2.offset()..s2.offset() + 5], "1.2.3");
    assert_eq!(
        s2.location().to_string(),
        format!("PID(3)-3[1].4.2 @ byte {}", s2.offset())
    );
    assert_eq!(f3.repetition(2).unwrap().component(1).unwrap().raw(), "456");
    assert!(f3.repetition(3).is_none());
    // Empty field: one empty repetition, component, subcomponent.
    let f2 = pid.field(2).unwrap();
    assert!(f2.is_empty());
    assert_eq!(f2.repetition_count(), 1);
    assert_eq!(
        f2.repetition(1)
            .unwrap()
            .component(1)
            .unwrap()
            .subcomponent_count(),
        1
    );
    // Decoding at each level.
    let addr = pid.field(11).unwrap();
    assert_eq!(addr.decoded(), "1 MAIN ST^APT 2^^TOWN");
    assert_eq!(
        addr.repetition(1).unwrap().component(1).unwrap().decoded(),
        "1 MAIN ST^APT 2"
    );
    assert_eq!(m.segment("PID", 2), None);
    assert_eq!(m.segment_at(1).unwrap().id(), "EVN");
    assert_eq!(m.segments().next_back().unwrap().id(), "PID");
    assert_eq!(m.segments().len(), 3);
}

#[test]
fn paths() {
    let m = Message::parse(ADT).unwrap();
    let raw = |p: &str| m.get(p).unwrap().map(|i| i.raw());
    assert_eq!(raw("PID-3[2].1"), Some("456"));
    assert_eq!(raw("PID-3.4.2"), Some("1.2.3"));
    assert_eq!(raw("PID-3"), Some("123^^^HOSP&1.2.3&ISO^MR~456^^^OTHER"));
    assert_eq!(raw("PID-3[1]"), Some("123^^^HOSP&1.2.3&ISO^MR"));
    assert_eq!(raw("MSH-9.2"), Some("A01"));
    assert_eq!(raw("MSH-1"), Some("|"));
    assert_eq!(raw("EVN"), Some("EVN|A01"));
    assert_eq!(raw("PID-30"), None);
    assert_eq!(raw("OBX-1"), None);
    assert_eq!(raw("PID[2]-1"), None);
    assert!(matches!(
        m.get("PID-3.4.2").unwrap(),
        Some(Item::Subcomponent(_))
    ));
    let item = m.get("PID-11.1").unwrap().unwrap();
    assert_eq!(item.decoded(), "1 MAIN ST^APT 2");
    assert_eq!(item.location().component, Some(1));
    assert!(m.get("PID-").is_err());
}

#[test]
fn unusual_delimiters() {
    let m =
        Message::parse("MSH$%~\\&$GHH LAB%M\rPID$$$555-44-4444$$EVERYWOMAN%EVE%E%%%L\r").unwrap();
    assert_eq!(m.msh().field(1).unwrap().raw(), "$");
    assert_eq!(
        m.msh()
            .field(3)
            .unwrap()
            .repetition(1)
            .unwrap()
            .component(2)
            .unwrap()
            .raw(),
        "M"
    );
    assert_eq!(m.get("PID-5.2").unwrap().unwrap().raw(), "EVE");
    let m = Message::parse("MSH^~|\\&^A^B^^^^^ADT~A24^1^P^2.4\r\nPID^^^1|2~x\r\n").unwrap();
    assert_eq!(m.message_type(), (Some("ADT"), Some("A24"), None));
    let f = m.segment("PID", 1).unwrap().field(3).unwrap();
    assert_eq!(f.repetition_count(), 2);
    assert_eq!(f.repetition(2).unwrap().component(2).unwrap().raw(), "x");
    assert_eq!(
        m.encode(),
        "MSH^~|\\&^A^B^^^^^ADT~A24^1^P^2.4\rPID^^^1|2~x\r"
    );
}

#[test]
fn msh2_lengths() {
    let m = Message::parse("MSH|^~\\&#|A|B||||RSP^K22|1|D|2.7\rQAK|1|OK\r").unwrap();
    assert_eq!(m.delimiters().truncation, Some(b'#'));
    assert_eq!(m.msh().field(2).unwrap().raw(), "^~\\&#");
    assert_eq!(m.msh().field(3).unwrap().raw(), "A");
    let m = Message::parse("MSH|^~\\|A|B\rPID|1|a&b\r").unwrap();
    assert_eq!(m.delimiters().subcomponent, None);
    let c = m.get("PID-2.1").unwrap().unwrap();
    assert_eq!(c.raw(), "a&b");
    if let Item::Component(c) = c {
        assert_eq!(c.subcomponent_count(), 1);
    }
}

#[test]
fn terminators_and_empty_lines() {
    let text = "\u{FEFF}MSH|^~\\&|A\r\nEVN|1\n\nPID|1\r\r\nPV1|1";
    let m = Message::parse(text).unwrap();
    let ids: Vec<_> = m.segments().map(|s| s.id()).collect();
    assert_eq!(ids, ["MSH", "EVN", "PID", "PV1"]);
    assert_eq!(m.encode(), "MSH|^~\\&|A\rEVN|1\rPID|1\rPV1|1\r");
    assert_eq!(m.segment_at(3).unwrap().offset(), text.len() - 5);
    // A segment with its id only.
    let m = Message::parse("MSH|^~\\&\rPID\rPV1|\r").unwrap();
    let pid = m.segment_at(1).unwrap();
    assert_eq!((pid.id(), pid.field_count()), ("PID", 0));
    assert!(pid.field(1).is_none());
    assert_eq!(m.segment_at(2).unwrap().field_count(), 1);
    assert_eq!(m.msh().field_count(), 2);
}

#[test]
fn parse_errors_are_located() {
    assert_eq!(Message::parse("").unwrap_err(), ParseError::Empty);
    assert_eq!(Message::parse("\r\n").unwrap_err(), ParseError::Empty);
    let err = Message::parse("PID|1\r").unwrap_err();
    assert!(matches!(err, ParseError::MissingHeader { .. }));
    let err = Message::parse("MSH|^~\\&\rPID|1\rpv1|x\r").unwrap_err();
    let loc = err.location().unwrap();
    assert_eq!((loc.segment_index, loc.byte_offset), (3, 15));
    assert_eq!(
        err.to_string(),
        "malformed segment id \"pv1\" at pv1(3) @ byte 15"
    );
    let err = Message::parse("MSH|^~\\&\rPID|1\rMSH|^~\\&\r").unwrap_err();
    assert!(matches!(err, ParseError::UnexpectedSegment { .. }));
    let err = Message::parse("MSH|^~\\&\rPIDX|1\r").unwrap_err();
    assert!(matches!(err, ParseError::BadSegmentId { .. }));
    let err = Message::parse("\nMSH|^\r").unwrap_err();
    assert_eq!(err.location().unwrap().byte_offset, 5);
}

#[test]
fn null_and_owned() {
    let m = Message::parse("MSH|^~\\&|A\rPID|1|\"\"|a\\T\\b&c^\\X0D0A\\\r").unwrap();
    let pid = m.segment_at(1).unwrap();
    assert!(pid.field(2).unwrap().is_null());
    let tree = m.to_owned_message();
    assert_eq!(tree.segments[0].fields[0], vec![vec![vec!["|".to_owned()]]]);
    assert_eq!(
        tree.segments[0].fields[1],
        vec![vec![vec!["^~\\&".to_owned()]]]
    );
    assert_eq!(
        tree.segments[1].fields[2],
        vec![vec![
            vec!["a&b".to_owned(), "c".to_owned()],
            vec!["\r\n".to_owned()]
        ]]
    );
    assert_eq!(
        tree.encode(),
        "MSH|^~\\&|A\rPID|1|\"\"|a\\T\\b&c^\\X0D\\\\X0A\\\r"
    );
    assert_eq!(
        Message::parse(&tree.encode()).unwrap().to_owned_message(),
        tree
    );
}
