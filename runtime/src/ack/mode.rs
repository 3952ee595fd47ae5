//! Original or enhanced acknowledgment mode, and which ACKs an outcome calls for.
//!
//! # The decision table
//!
//! The mode comes from the inbound MSH-15 (accept ACK condition) and MSH-16 (application ACK
//! condition), see [`Mode::from_fields`]. [`decide`] then maps the outcome of receiving the
//! message to the ACKs that are due:
//!
//! **Enhanced mode** (MSH-15 or MSH-16 valued). The accept ACK answers on the connection, as
//! soon as the store has answered:
//!
//! | outcome | accept ACK | sent when MSH-15 is |
//! |---|---|---|
//! | stored (also invalid or rejected later: the accept ACK only says "stored") | `CA` | AL, SU |
//! | store failed, unparseable | `CE` | AL, ER |
//! | unsupported version, type, event or processing ID | `CR` | AL, ER |
//!
//! The application ACK is its own later message, due only for a durably stored message:
//! `AA` (processed), `AE` (invalid: ERR segments) or `AR` (rejected by the application), sent
//! when MSH-16 is AL, or ER for `AE`/`AR`, or SU for `AA`; never when MSH-16 is NE. A message
//! that was not stored, not readable or not supported gets no application ACK: its accept ACK
//! is the whole answer.
//!
//! **Original mode** (MSH-15 and MSH-16 empty). One ACK, always sent, on the connection:
//!
//! | outcome | [`AckAfter::Stored`] | [`AckAfter::Delivered`] |
//! |---|---|---|
//! | stored | `AA` | `AA` |
//! | invalid | `AA` (sent before validation; problems go to the error state) | `AE` + ERR |
//! | rejected by the application | `AA` (likewise) | `AR` |
//! | store failed | `AE` (207) | `AE` (207) |
//! | unparseable | `AE` + ERR | `AE` + ERR |
//! | unsupported version, type, event or processing ID | `AR` | `AR` |
//!
//! A failed store is `AE`, not `AR`: HL7 allows `AR` for "internal error", but senders
//! (ours among them, T-ACK-3) treat `AR` as final and dead-letter it, while a failed store is
//! worth a retry.
//!
//! Whatever the mode, `AA` and `CA` come only from an outcome that holds a [`Durable`]
//! receipt, and a receipt is minted only by a store after its commit: acknowledging before
//! the store cannot be written with this API.

use crate::er7::{Message, ParseError};
use crate::validate::Problem;

use super::AckCode;

/// An accept or application acknowledgment condition (HL7 table 0155), MSH-15 or MSH-16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckCondition {
    /// `AL`: always.
    Always,
    /// `NE`: never.
    Never,
    /// `ER`: only on an error or reject.
    OnError,
    /// `SU`: only on success.
    OnSuccess,
}

impl AckCondition {
    /// Reads a value of table 0155 (`AL`, `NE`, `ER`, `SU`; surrounding spaces and case are
    /// ignored). `None` for anything else, empty included.
    pub fn from_code(code: &str) -> Option<AckCondition> {
        match code.trim().to_ascii_uppercase().as_str() {
            "AL" => Some(AckCondition::Always),
            "NE" => Some(AckCondition::Never),
            "ER" => Some(AckCondition::OnError),
            "SU" => Some(AckCondition::OnSuccess),
            _ => None,
        }
    }

    /// The code as written in MSH-15/16.
    pub fn code(self) -> &'static str {
        match self {
            AckCondition::Always => "AL",
            AckCondition::Never => "NE",
            AckCondition::OnError => "ER",
            AckCondition::OnSuccess => "SU",
        }
    }

    /// Whether an acknowledgment with this outcome (`positive`: accept rather than error or
    /// reject) is to be sent.
    pub fn wants(self, positive: bool) -> bool {
        match self {
            AckCondition::Always => true,
            AckCondition::Never => false,
            AckCondition::OnError => !positive,
            AckCondition::OnSuccess => positive,
        }
    }
}

/// The acknowledgment mode an inbound message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// MSH-15 and MSH-16 are both empty: one application ACK (`AA`/`AE`/`AR`), always sent.
    Original,
    /// MSH-15 or MSH-16 is valued: an accept ACK (`CA`/`CE`/`CR`) and an application ACK
    /// (`AA`/`AE`/`AR`), each under its own condition.
    Enhanced {
        /// MSH-15. Empty or not a value of table 0155: `AL`, because an MLLP sender waits for an
        /// answer on the connection and resends when none comes.
        accept: AckCondition,
        /// MSH-16. Empty or not a value of table 0155: `NE`, because an application ACK nobody
        /// asked for would wait in an outbound queue for a listener that may not exist.
        application: AckCondition,
    },
}

/// Whether an MSH-15/16 value counts as valued: not empty, not blank and not the HL7 null `""`.
fn valued(raw: &str) -> bool {
    let raw = raw.trim();
    !raw.is_empty() && raw != "\"\""
}

impl Mode {
    /// The mode from the values of MSH-15 and MSH-16 (first component, as sent).
    pub fn from_fields(msh15: &str, msh16: &str) -> Mode {
        if !valued(msh15) && !valued(msh16) {
            return Mode::Original;
        }
        Mode::Enhanced {
            accept: AckCondition::from_code(msh15).unwrap_or(AckCondition::Always),
            application: AckCondition::from_code(msh16).unwrap_or(AckCondition::Never),
        }
    }

    /// The mode of a parsed message.
    pub fn of(message: &Message<'_>) -> Mode {
        let msh = message.msh();
        let value = |n: usize| {
            msh.field(n)
                .and_then(|f| f.repetition(1))
                .and_then(|r| r.component(1))
                .map(|c| c.decoded().into_owned())
                .unwrap_or_default()
        };
        Mode::from_fields(&value(15), &value(16))
    }

    /// True for [`Mode::Enhanced`].
    pub fn is_enhanced(self) -> bool {
        matches!(self, Mode::Enhanced { .. })
    }
}

/// When the one ACK of original mode is sent (configuration `ack_after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AckAfter {
    /// As soon as the raw bytes are durably stored, before validation and routing (Mirth's
    /// "source queue on"): the ACK says "stored", so it is `AA` for every stored message and
    /// validation problems reach the error state and the monitor, not the sender.
    #[default]
    Stored,
    /// After processing (validation and routing into the destination queues; Mirth's "respond
    /// after processing"): the ACK says how processing went, `AE` with ERR segments for an
    /// invalid message, `AR` for one the application rejected.
    Delivered,
}

/// Proof that the raw bytes of one inbound message are durably stored (fsync'd, committed).
///
/// **Only a store mints it, after its commit returned.** Every positive acknowledgment (`AA`,
/// `CA`) that [`decide`] returns comes from an [`Outcome`] holding one, so an engine that
/// acknowledges what [`decide`] says cannot acknowledge before the store. It is neither
/// `Clone` nor `Default`: one receipt per stored message.
#[derive(Debug, PartialEq, Eq, Hash)]
#[must_use = "a receipt proves a commit; pass it to the acknowledgment decision"]
pub struct Durable {
    record: u64,
}

impl Durable {
    /// The receipt for record `record` of a store.
    ///
    /// **Call only from a store implementation, after the commit of the raw bytes has
    /// returned successfully** (and in tests). An engine never calls this: it gets the receipt
    /// from its store.
    pub fn committed(record: u64) -> Durable {
        Durable { record }
    }

    /// The store's record id of the message.
    pub fn record(&self) -> u64 {
        self.record
    }
}

/// What a receiver does not support in a message's header: answered with `CR` (enhanced mode)
/// or `AR` (original mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unsupported {
    /// MSH-12, the version ID (error code 203).
    Version,
    /// MSH-9.1, the message type (error code 200).
    MessageType,
    /// MSH-9.2, the trigger event (error code 201).
    Event,
    /// MSH-11, the processing ID (error code 202).
    ProcessingId,
}

impl Unsupported {
    /// The HL7 error code (table 0357) and its text, for ERR-3.
    pub fn hl7_error_code(self) -> (&'static str, &'static str) {
        match self {
            Unsupported::MessageType => ("200", "Unsupported message type"),
            Unsupported::Event => ("201", "Unsupported event code"),
            Unsupported::ProcessingId => ("202", "Unsupported processing id"),
            Unsupported::Version => ("203", "Unsupported version id"),
        }
    }

    /// The MSH field and component that hold the unsupported value.
    pub fn field(self) -> (usize, Option<usize>) {
        match self {
            Unsupported::MessageType => (9, Some(1)),
            Unsupported::Event => (9, Some(2)),
            Unsupported::ProcessingId => (11, None),
            Unsupported::Version => (12, None),
        }
    }

    /// What is unsupported, in words: `version`, `message type`, ...
    pub fn what(self) -> &'static str {
        match self {
            Unsupported::MessageType => "message type",
            Unsupported::Event => "trigger event",
            Unsupported::ProcessingId => "processing ID",
            Unsupported::Version => "version",
        }
    }
}

/// What became of an inbound message: the input of [`decide`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// Durably stored; processed without error, or not processed yet.
    Stored(&'a Durable),
    /// Durably stored; validation found these problems (at least one error, see
    /// [`Outcome::validated`]).
    Invalid(&'a Durable, &'a [Problem]),
    /// Durably stored; the application refused it (no route takes it, a mapping failed), for
    /// this reason.
    Rejected(&'a Durable, &'a str),
    /// The store failed: nothing was committed.
    StoreFailed,
    /// The bytes are not a readable message.
    Unparseable(&'a ParseError),
    /// The header names something this receiver does not take.
    Unsupported(Unsupported),
}

impl<'a> Outcome<'a> {
    /// [`Outcome::Invalid`] when `problems` holds an error, else [`Outcome::Stored`].
    pub fn validated(receipt: &'a Durable, problems: &'a [Problem]) -> Outcome<'a> {
        if problems.iter().any(Problem::is_error) {
            Outcome::Invalid(receipt, problems)
        } else {
            Outcome::Stored(receipt)
        }
    }

    /// The receipt, for the outcomes of a stored message.
    pub fn durable(&self) -> Option<&'a Durable> {
        match *self {
            Outcome::Stored(d) | Outcome::Invalid(d, _) | Outcome::Rejected(d, _) => Some(d),
            Outcome::StoreFailed | Outcome::Unparseable(_) | Outcome::Unsupported(_) => None,
        }
    }
}

/// The acknowledgments due for one inbound message, from [`decide`].
///
/// Fields are private so that a `Reply` holding `AA` or `CA` comes only from [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reply {
    mode: Mode,
    accept: Option<AckCode>,
    application: Option<AckCode>,
}

impl Reply {
    /// The mode the decision was made in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The accept ACK (`CA`/`CE`/`CR`), enhanced mode only, sent on the connection now.
    pub fn accept(&self) -> Option<AckCode> {
        self.accept
    }

    /// The application ACK (`AA`/`AE`/`AR`): in original mode the one ACK, sent on the
    /// connection (when [`AckAfter`] says); in enhanced mode a later message of its own.
    pub fn application(&self) -> Option<AckCode> {
        self.application
    }

    /// The ACK that answers on the inbound connection: the accept ACK in enhanced mode, the
    /// application ACK in original mode.
    pub fn immediate(&self) -> Option<AckCode> {
        match self.mode {
            Mode::Original => self.application,
            Mode::Enhanced { .. } => self.accept,
        }
    }

    /// The ACK sent later as a message of its own: the application ACK in enhanced mode,
    /// nothing in original mode.
    pub fn deferred(&self) -> Option<AckCode> {
        match self.mode {
            Mode::Original => None,
            Mode::Enhanced { .. } => self.application,
        }
    }
}

/// The acknowledgments due for `outcome` in `mode`; `ack_after` matters in original mode only.
/// See the [module documentation](self) for the table.
pub fn decide(mode: Mode, outcome: &Outcome<'_>, ack_after: AckAfter) -> Reply {
    let kind = match outcome {
        Outcome::Stored(_) => Kind::Stored(Processed::Ok),
        Outcome::Invalid(..) => Kind::Stored(Processed::Invalid),
        Outcome::Rejected(..) => Kind::Stored(Processed::Rejected),
        Outcome::StoreFailed => Kind::StoreFailed,
        Outcome::Unparseable(_) => Kind::Unparseable,
        Outcome::Unsupported(_) => Kind::Unsupported,
    };
    let (accept, application) = codes(mode, kind, ack_after);
    Reply {
        mode,
        accept,
        application,
    }
}

/// How processing went for a message that is (or will be) stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Processed {
    /// Valid and routed (or not processed yet).
    Ok,
    /// Validation found errors ([`Outcome::Invalid`]).
    Invalid,
    /// The application refused it ([`Outcome::Rejected`]).
    Rejected,
}

/// The code [`decide`] will give the connection once a message with this processing result is
/// stored. An engine uses it to write the ACK text before the commit and keep it with the
/// message in the same transaction (for verbatim resends); it still sends an ACK only after
/// the commit, with the code [`decide`] returns for the store's receipt.
pub fn expected_when_stored(
    mode: Mode,
    processed: Processed,
    ack_after: AckAfter,
) -> Option<AckCode> {
    let (accept, application) = codes(mode, Kind::Stored(processed), ack_after);
    match mode {
        Mode::Original => application,
        Mode::Enhanced { .. } => accept,
    }
}

/// The application ACK that enhanced mode asks for (MSH-16) once a message with this
/// processing result is stored, to be sent later as a message of its own; `None` in original
/// mode, where the one ACK answers on the connection. Known before the commit, so an engine
/// queues the ACK in the message's own transaction and it is delivered like any output.
pub fn deferred_when_stored(mode: Mode, processed: Processed) -> Option<AckCode> {
    match mode {
        Mode::Original => None,
        Mode::Enhanced { .. } => codes(mode, Kind::Stored(processed), AckAfter::Stored).1,
    }
}

/// An [`Outcome`] without its data.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Stored(Processed),
    StoreFailed,
    Unparseable,
    Unsupported,
}

/// The accept and application codes of the decision table.
fn codes(mode: Mode, kind: Kind, ack_after: AckAfter) -> (Option<AckCode>, Option<AckCode>) {
    match mode {
        Mode::Enhanced {
            accept,
            application,
        } => {
            let commit = match kind {
                Kind::Stored(_) => AckCode::CA,
                Kind::StoreFailed | Kind::Unparseable => AckCode::CE,
                Kind::Unsupported => AckCode::CR,
            };
            let app = match kind {
                Kind::Stored(Processed::Ok) => Some(AckCode::AA),
                Kind::Stored(Processed::Invalid) => Some(AckCode::AE),
                Kind::Stored(Processed::Rejected) => Some(AckCode::AR),
                _ => None,
            };
            (
                Some(commit).filter(|c| accept.wants(c.is_positive())),
                app.filter(|c| application.wants(c.is_positive())),
            )
        }
        Mode::Original => {
            let code = match (kind, ack_after) {
                (Kind::Stored(Processed::Ok), _) => AckCode::AA,
                (Kind::Stored(_), AckAfter::Stored) => AckCode::AA,
                (Kind::Stored(Processed::Invalid), AckAfter::Delivered) => AckCode::AE,
                (Kind::Stored(Processed::Rejected), AckAfter::Delivered) => AckCode::AR,
                (Kind::StoreFailed | Kind::Unparseable, _) => AckCode::AE,
                (Kind::Unsupported, _) => AckCode::AR,
            };
            (None, Some(code))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::er7::Location;
    use crate::validate::{ProblemKind, Severity};

    const CONDITIONS: [AckCondition; 4] = [
        AckCondition::Always,
        AckCondition::Never,
        AckCondition::OnError,
        AckCondition::OnSuccess,
    ];

    fn modes() -> Vec<Mode> {
        let mut modes = vec![Mode::Original];
        for accept in CONDITIONS {
            for application in CONDITIONS {
                modes.push(Mode::Enhanced {
                    accept,
                    application,
                });
            }
        }
        modes
    }

    /// The ACK an engine writes before the commit is the one `decide` gives after it.
    #[test]
    fn the_codes_known_before_the_commit_agree_with_decide() {
        let receipt = Durable::committed(1);
        let problems = [Problem {
            severity: Severity::Error,
            kind: ProblemKind::MissingRequired {
                what: "PID".to_owned(),
            },
            location: Location::default(),
        }];
        for mode in modes() {
            for ack_after in [AckAfter::Stored, AckAfter::Delivered] {
                for (processed, outcome) in [
                    (Processed::Ok, Outcome::Stored(&receipt)),
                    (Processed::Invalid, Outcome::Invalid(&receipt, &problems)),
                    (Processed::Rejected, Outcome::Rejected(&receipt, "no")),
                ] {
                    assert_eq!(
                        expected_when_stored(mode, processed, ack_after),
                        decide(mode, &outcome, ack_after).immediate(),
                        "{mode:?} {processed:?} {ack_after:?}"
                    );
                    assert_eq!(
                        deferred_when_stored(mode, processed),
                        decide(mode, &outcome, ack_after).deferred(),
                        "{mode:?} {processed:?} {ack_after:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn mode_from_fields() {
        assert_eq!(Mode::from_fields("", ""), Mode::Original);
        assert_eq!(Mode::from_fields(" ", "\"\""), Mode::Original);
        assert_eq!(
            Mode::from_fields("NE", ""),
            Mode::Enhanced {
                accept: AckCondition::Never,
                application: AckCondition::Never
            }
        );
        assert_eq!(
            Mode::from_fields("", "su"),
            Mode::Enhanced {
                accept: AckCondition::Always,
                application: AckCondition::OnSuccess
            }
        );
        assert_eq!(
            Mode::from_fields("XX", "ER"),
            Mode::Enhanced {
                accept: AckCondition::Always,
                application: AckCondition::OnError
            }
        );
        for c in CONDITIONS {
            assert_eq!(AckCondition::from_code(c.code()), Some(c));
        }
    }

    #[test]
    fn positive_acks_only_for_durable_outcomes() {
        let problem = Problem {
            severity: Severity::Error,
            kind: ProblemKind::MissingRequired {
                what: "segment PID".into(),
            },
            location: Location::default(),
        };
        let problems = [problem];
        let receipt = Durable::committed(1);
        let err = ParseError::Empty;
        let outcomes = [
            Outcome::Stored(&receipt),
            Outcome::Invalid(&receipt, &problems),
            Outcome::Rejected(&receipt, "no route"),
            Outcome::StoreFailed,
            Outcome::Unparseable(&err),
            Outcome::Unsupported(Unsupported::Version),
            Outcome::Unsupported(Unsupported::MessageType),
            Outcome::Unsupported(Unsupported::Event),
            Outcome::Unsupported(Unsupported::ProcessingId),
        ];
        for mode in modes() {
            for outcome in &outcomes {
                for after in [AckAfter::Stored, AckAfter::Delivered] {
                    let reply = decide(mode, outcome, after);
                    let positive = [reply.accept(), reply.application()]
                        .into_iter()
                        .flatten()
                        .any(AckCode::is_positive);
                    if positive {
                        assert!(outcome.durable().is_some(), "{mode:?} {outcome:?}");
                    }
                    if mode == Mode::Original {
                        assert!(reply.immediate().is_some(), "original mode always answers");
                        assert_eq!(reply.accept(), None);
                        assert_eq!(reply.deferred(), None);
                    } else {
                        assert!(reply.accept().is_none_or(AckCode::is_accept));
                        assert!(reply.application().is_none_or(|c| !c.is_accept()));
                    }
                }
            }
        }
    }

    #[test]
    fn original_mode_ack_after() {
        let receipt = Durable::committed(3);
        let invalid = Outcome::Invalid(&receipt, &[]);
        let rejected = Outcome::Rejected(&receipt, "no route");
        let code = |o: &Outcome<'_>, a| decide(Mode::Original, o, a).immediate();
        assert_eq!(code(&invalid, AckAfter::Stored), Some(AckCode::AA));
        assert_eq!(code(&invalid, AckAfter::Delivered), Some(AckCode::AE));
        assert_eq!(code(&rejected, AckAfter::Stored), Some(AckCode::AA));
        assert_eq!(code(&rejected, AckAfter::Delivered), Some(AckCode::AR));
        assert_eq!(receipt.record(), 3);
    }

    #[test]
    fn validated_picks_invalid_only_for_errors() {
        let receipt = Durable::committed(1);
        let warning = Problem {
            severity: Severity::Warning,
            kind: ProblemKind::TooLong { max: 2, found: 3 },
            location: Location::default(),
        };
        let warnings = [warning.clone()];
        assert!(matches!(
            Outcome::validated(&receipt, &warnings),
            Outcome::Stored(_)
        ));
        let mixed = [
            warning,
            Problem {
                severity: Severity::Error,
                kind: ProblemKind::TooLong { max: 2, found: 3 },
                location: Location::default(),
            },
        ];
        assert!(matches!(
            Outcome::validated(&receipt, &mixed),
            Outcome::Invalid(..)
        ));
    }
}
