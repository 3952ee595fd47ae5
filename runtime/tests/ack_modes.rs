//! T-ACK-1: which acknowledgments each combination of MSH-15, MSH-16 and outcome gets, built,
//! parsed back and snapshotted as one table; MSA-2 always equals the inbound MSH-10.

use std::collections::HashSet;
use std::fmt::Write as _;

use hl7_runtime::ack::{
    decide, AckAfter, AckBuilder, AckCode, Clock, ControlIds, Durable, FixedClock, InboundHeader,
    Mode, Outcome, SequenceIds, Timestamp, Unsupported,
};
use hl7_runtime::er7::{Message, ParseError};
use hl7_runtime::validate::{Problem, ProblemKind, Severity};

const CONDITIONS: [&str; 5] = ["", "AL", "NE", "ER", "SU"];
const SUPPORTED_VERSIONS: [&str; 2] = ["2.5", "2.5.1"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Ok,
    ParseError,
    StoreError,
    UnsupportedVersion,
}

impl Case {
    const ALL: [Case; 4] = [
        Case::Ok,
        Case::ParseError,
        Case::StoreError,
        Case::UnsupportedVersion,
    ];

    fn name(self) -> &'static str {
        match self {
            Case::Ok => "ok",
            Case::ParseError => "parse error",
            Case::StoreError => "store error",
            Case::UnsupportedVersion => "unsupported version",
        }
    }
}

/// An inbound message with these MSH-15/16; its body is broken for a parse error, its version
/// unknown for an unsupported version.
fn inbound(n: usize, msh15: &str, msh16: &str, case: Case) -> String {
    let version = if case == Case::UnsupportedVersion {
        "9.9"
    } else {
        "2.5.1"
    };
    let body = if case == Case::ParseError {
        "pid|1||123\r"
    } else {
        "PID|1||123^^^HOSP^MR\r"
    };
    format!(
        "MSH|^~\\&|LAB|HOSP|EHR|WARD|20240501120000||ORU^R01^ORU_R01|C\\F\\{n}|P|{version}|||{msh15}|{msh16}\r{body}"
    )
}

fn mode_name(mode: Mode) -> String {
    match mode {
        Mode::Original => "original".to_owned(),
        Mode::Enhanced {
            accept,
            application,
        } => format!("enhanced {}/{}", accept.code(), application.code()),
    }
}

/// What the receiving side does, sans I/O: store, parse, check the header, decide, build.
struct Receiver<'c> {
    clock: &'c FixedClock,
    ids: &'c SequenceIds,
    ack_after: AckAfter,
    /// Every ACK control ID handed out, to check they are fresh.
    seen_ids: HashSet<String>,
}

/// One ACK sent, parsed back.
struct Sent {
    code: AckCode,
    errors: Vec<String>,
}

impl Receiver<'_> {
    /// The ACKs due for `raw` when the store answers `store_ok`, or `outcome` overrides for a
    /// stored message; returns (mode, accept, application).
    fn receive(
        &mut self,
        raw: &str,
        store_ok: bool,
        stored: impl FnOnce(&Durable) -> Option<(Vec<Problem>, Option<&'static str>)>,
    ) -> (Mode, Option<Sent>, Option<Sent>) {
        let receipt = store_ok.then(|| Durable::committed(1));
        let parsed = Message::parse(raw);
        let header = match &parsed {
            Ok(m) => InboundHeader::of(m),
            Err(_) => InboundHeader::sniff(raw.as_bytes()).expect("the MSH is readable"),
        };
        let mode = header.mode();
        let version_ok = SUPPORTED_VERSIONS.contains(&header.version());
        let extra = receipt.as_ref().and_then(stored);
        let problems = extra.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
        let error: ParseError;
        let outcome = match (&parsed, &receipt) {
            (Err(e), _) => {
                error = e.clone();
                Outcome::Unparseable(&error)
            }
            (Ok(_), _) if !version_ok => Outcome::Unsupported(Unsupported::Version),
            (Ok(_), None) => Outcome::StoreFailed,
            (Ok(_), Some(r)) => match extra.as_ref().and_then(|(_, reason)| *reason) {
                Some(reason) => Outcome::Rejected(r, reason),
                None => Outcome::validated(r, &problems),
            },
        };
        let reply = decide(mode, &outcome, self.ack_after);
        let mut build = |code: Option<AckCode>| {
            let code = code?;
            let builder = match &parsed {
                Ok(m) => AckBuilder::new(m),
                Err(_) => AckBuilder::for_raw(raw.as_bytes()),
            };
            let id = self.ids.next();
            assert!(
                self.seen_ids.insert(id.clone()),
                "ACK control ID {id} reused"
            );
            let text = builder
                .code(code)
                .control_id(id.clone())
                .timestamp(self.clock.now())
                .outcome(&outcome)
                .build();
            Some(check_ack(raw, &text, code, &id))
        };
        let accept = build(reply.accept());
        let application = build(reply.application());
        (mode, accept, application)
    }
}

/// Parses the ACK back: MSA-1 is `code`, MSA-2 the inbound MSH-10, MSH-10 the fresh `id`,
/// and the parties are swapped.
fn check_ack(raw: &str, text: &str, code: AckCode, id: &str) -> Sent {
    assert!(text.ends_with('\r') && !text.contains('\n'), "{text:?}");
    let ack = Message::parse(text).unwrap_or_else(|e| panic!("ACK does not parse: {e}\n{text}"));
    let inbound = InboundHeader::sniff(raw.as_bytes()).expect("inbound header");
    let get = |path: &str| {
        ack.get(path)
            .expect("path")
            .map(|i| i.decoded().into_owned())
            .unwrap_or_default()
    };
    assert_eq!(get("MSA-1"), code.as_str());
    // MSH-10 as the sender wrote it (`C\F\<n>`), decoded by hand.
    let msh10 = raw.split('|').nth(9).expect("MSH-10").replace("\\F\\", "|");
    assert_eq!(get("MSA-2"), msh10);
    assert_eq!(
        ack.get("MSA-2").expect("path").map(|i| i.raw()),
        Some(inbound.control_id())
    );
    assert_eq!(get("MSH-10"), id);
    assert_ne!(get("MSH-10"), get("MSA-2"));
    assert_eq!(
        (get("MSH-3"), get("MSH-4"), get("MSH-5"), get("MSH-6")),
        ("EHR".into(), "WARD".into(), "LAB".into(), "HOSP".into())
    );
    assert_eq!(get("MSH-7"), "20240501120000.000+0000");
    assert_eq!(get("MSH-9"), "ACK^R01^ACK");
    let errors = ack
        .segments()
        .filter(|s| s.id() == "ERR")
        .map(|s| {
            let code = s
                .field(3)
                .and_then(|f| f.repetition(1))
                .and_then(|r| r.component(1))
                .map(|c| c.raw().to_owned())
                .unwrap_or_default();
            let location = s.field(2).map(|f| f.raw().to_owned()).unwrap_or_default();
            if location.is_empty() {
                code
            } else {
                format!("{code}@{location}")
            }
        })
        .collect();
    Sent { code, errors }
}

fn cell(sent: &Option<Sent>) -> String {
    match sent {
        None => "-".to_owned(),
        Some(s) if s.errors.is_empty() => s.code.to_string(),
        Some(s) => format!("{} (ERR {})", s.code, s.errors.join(", ")),
    }
}

fn show(c: &str) -> &str {
    if c.is_empty() {
        "--"
    } else {
        c
    }
}

#[test]
fn t_ack_1_every_mode_and_outcome() {
    let clock = FixedClock(Timestamp::from_unix_millis(1_714_564_800_000));
    let ids = SequenceIds::new("ACK");
    let mut rx = Receiver {
        clock: &clock,
        ids: &ids,
        ack_after: AckAfter::Delivered,
        seen_ids: HashSet::new(),
    };
    let mut table = String::from(
        "MSH-15 MSH-16 outcome              mode             accept ACK (now)      application ACK\n",
    );
    let mut rows = 0;
    for msh15 in CONDITIONS {
        for msh16 in CONDITIONS {
            for case in Case::ALL {
                rows += 1;
                let raw = inbound(rows, msh15, msh16, case);
                let (mode, accept, application) =
                    rx.receive(&raw, case != Case::StoreError, |_| None);
                assert_eq!(mode.is_enhanced(), !(msh15.is_empty() && msh16.is_empty()));
                if !mode.is_enhanced() {
                    assert!(
                        accept.is_none() && application.is_some(),
                        "original: one ACK"
                    );
                }
                writeln!(
                    table,
                    "{:<6} {:<6} {:<20} {:<16} {:<21} {}",
                    show(msh15),
                    show(msh16),
                    case.name(),
                    mode_name(mode),
                    cell(&accept),
                    cell(&application)
                )
                .unwrap();
            }
        }
    }
    assert_eq!(rows, 100);
    insta::assert_snapshot!("ack_t_ack_1", table);
}

fn problem(severity: Severity, field: usize) -> Problem {
    Problem {
        severity,
        kind: ProblemKind::MissingRequired {
            what: format!("field PID-{field}"),
        },
        location: hl7_runtime::er7::Location {
            segment_index: 2,
            segment_id: "PID".into(),
            field: Some(field),
            ..Default::default()
        },
    }
}

/// Original mode: what `ack_after` changes, for every outcome (invalid and rejected too).
#[test]
fn original_mode_with_each_ack_after() {
    let clock = FixedClock(Timestamp::from_unix_millis(1_714_564_800_000));
    let ids = SequenceIds::new("ACK");
    let mut table = String::from("ack_after  outcome              ACK\n");
    for ack_after in [AckAfter::Stored, AckAfter::Delivered] {
        let mut rx = Receiver {
            clock: &clock,
            ids: &ids,
            ack_after,
            seen_ids: HashSet::new(),
        };
        let stored_cases: [(&str, Vec<Problem>, Option<&'static str>); 3] = [
            ("ok", vec![problem(Severity::Warning, 5)], None),
            ("invalid", vec![problem(Severity::Error, 3)], None),
            ("rejected", Vec::new(), Some("no route takes ORU^R01")),
        ];
        for (name, problems, reason) in stored_cases {
            let raw = inbound(1, "", "", Case::Ok);
            let (_, _, app) = rx.receive(&raw, true, |_| Some((problems, reason)));
            writeln!(
                table,
                "{:<10} {:<20} {}",
                format!("{ack_after:?}"),
                name,
                cell(&app)
            )
            .unwrap();
        }
        for case in [Case::ParseError, Case::StoreError, Case::UnsupportedVersion] {
            let raw = inbound(1, "", "", case);
            let (_, _, app) = rx.receive(&raw, case != Case::StoreError, |_| None);
            writeln!(
                table,
                "{:<10} {:<20} {}",
                format!("{ack_after:?}"),
                case.name(),
                cell(&app)
            )
            .unwrap();
        }
    }
    insta::assert_snapshot!("ack_original_mode_ack_after", table);
}
