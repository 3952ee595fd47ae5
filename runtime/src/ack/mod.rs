//! Acknowledgments, sans-I/O: which ACKs an inbound message gets, the ACK text, and the
//! duplicate check. No sockets and no clock of its own: time and control IDs are injected.
//!
//! - [`mode`]: original or enhanced mode from MSH-15/16, and [`decide`], the decision table of
//!   RELIABILITY.md ("Engine policy"). A positive ACK (`AA`, `CA`) comes only from an outcome
//!   that holds a [`Durable`] receipt, which a store hands out after its commit.
//! - [`AckBuilder`]: the ER7 text of an ACK (MSH swapped, MSA-2 = inbound MSH-10, one ERR per
//!   located problem), also for bytes that do not parse at all; [`Clock`] and [`ControlIds`]
//!   inject time and fresh control IDs.
//! - [`dedupe`]: the duplicate key (MSH-3, MSH-4, MSH-10) plus a payload hash, and the verdict
//!   [`Duplicate`]: a verbatim resend, a reused control ID, or a new message.
//!
//! ```
//! use hl7_runtime::ack::{decide, AckAfter, AckBuilder, Durable, FixedClock, Clock, ControlIds,
//!     Mode, Outcome, SequenceIds, Timestamp};
//! use hl7_runtime::er7::Message;
//!
//! let inbound = Message::parse("MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240501||ORU^R01^ORU_R01|42|P|2.5.1|||AL|NE\r")?;
//! // The store commits the raw bytes and hands back the receipt.
//! let receipt = Durable::committed(7);
//! let reply = decide(Mode::of(&inbound), &Outcome::Stored(&receipt), AckAfter::Stored);
//! let code = reply.immediate().expect("MSH-15 = AL asks for an accept ACK");
//!
//! let clock = FixedClock(Timestamp::from_unix_millis(1_714_564_800_000));
//! let ids = SequenceIds::new("ACK");
//! let ack = AckBuilder::new(&inbound).code(code).control_id(ids.next()).timestamp(clock.now()).build();
//! assert_eq!(
//!     ack,
//!     "MSH|^~\\&|EHR|HOSP|LAB|HOSP|20240501120000.000+0000||ACK^R01^ACK|ACK1|P|2.5.1\rMSA|CA|42\r"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod clock;
pub mod dedupe;
mod header;
pub(crate) mod matching;
pub mod mode;

use std::fmt;
use std::str::FromStr;

pub use builder::{AckBuilder, FALLBACK_PROCESSING_ID, FALLBACK_VERSION};
pub use clock::{Clock, ControlIds, FixedClock, SequenceIds, SystemClock, Timestamp};
pub use dedupe::{DedupeKey, Duplicate, Fingerprint, PayloadHash};
pub use header::InboundHeader;
pub use mode::{
    decide, deferred_when_stored, expected_when_stored, AckAfter, AckCondition, Durable, Mode,
    Outcome, Processed, Reply, Unsupported,
};

/// An acknowledgment code (HL7 table 0008), the value of MSA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckCode {
    /// Original mode: application accept. Enhanced mode: application acknowledgment, accept.
    AA,
    /// Original mode: application error. Enhanced mode: application acknowledgment, error.
    AE,
    /// Original mode: application reject. Enhanced mode: application acknowledgment, reject.
    AR,
    /// Enhanced mode: accept acknowledgment, commit accept (the message is durably stored).
    CA,
    /// Enhanced mode: accept acknowledgment, commit error (not stored, or not readable).
    CE,
    /// Enhanced mode: accept acknowledgment, commit reject (unsupported version, type or
    /// processing ID).
    CR,
}

impl AckCode {
    /// The code as written in MSA-1.
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::AA => "AA",
            AckCode::AE => "AE",
            AckCode::AR => "AR",
            AckCode::CA => "CA",
            AckCode::CE => "CE",
            AckCode::CR => "CR",
        }
    }

    /// True for `AA` and `CA`: the receiver took responsibility for the message.
    pub fn is_positive(self) -> bool {
        matches!(self, AckCode::AA | AckCode::CA)
    }

    /// True for the accept (commit) codes `CA`, `CE`, `CR` of enhanced mode.
    pub fn is_accept(self) -> bool {
        matches!(self, AckCode::CA | AckCode::CE | AckCode::CR)
    }
}

impl fmt::Display for AckCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// MSA-1 holds no code of table 0008.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an acknowledgment code (AA, AE, AR, CA, CE, CR)")]
pub struct UnknownAckCode(pub String);

impl FromStr for AckCode {
    type Err = UnknownAckCode;

    fn from_str(s: &str) -> Result<AckCode, UnknownAckCode> {
        Ok(match s.trim() {
            "AA" => AckCode::AA,
            "AE" => AckCode::AE,
            "AR" => AckCode::AR,
            "CA" => AckCode::CA,
            "CE" => AckCode::CE,
            "CR" => AckCode::CR,
            other => return Err(UnknownAckCode(other.to_owned())),
        })
    }
}
