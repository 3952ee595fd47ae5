//! Errors of the ER7 reader, each with the location of the problem.

use super::location::Location;

/// An error found while decoding or parsing an ER7 message, file or batch.
///
/// Every variant except [`ParseError::Empty`] carries the [`Location`] of the problem, so the
/// same value can fill the ERR segment of a negative acknowledgement.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input holds no segment at all.
    #[error("empty message")]
    Empty,
    /// The input does not start with an `MSH` (or, for files and batches, `FHS`/`BHS`) segment.
    #[error("message does not start with {expected} (found {found:?}) at {location}")]
    MissingHeader {
        /// What was expected, e.g. `MSH` or `MSH, FHS or BHS`.
        expected: &'static str,
        /// The first characters found instead.
        found: String,
        /// Where.
        location: Box<Location>,
    },
    /// MSH-1/MSH-2 (or FHS/BHS) do not define a usable set of delimiters.
    #[error("bad delimiters: {reason} at {location}")]
    BadDelimiters {
        /// What is wrong with them.
        reason: &'static str,
        /// Where.
        location: Box<Location>,
    },
    /// MSH-18 names a character set that HL7 table 0211 does not know.
    #[error("unknown character set {name:?} in MSH-18 at {location}")]
    UnknownCharset {
        /// The value of MSH-18 (first repetition).
        name: String,
        /// Where.
        location: Box<Location>,
    },
    /// MSH-18 names a character set of table 0211 that this reader does not support.
    #[error("unsupported character set {name:?} in MSH-18 at {location}")]
    UnsupportedCharset {
        /// The value of MSH-18 (first repetition).
        name: String,
        /// Where.
        location: Box<Location>,
    },
    /// The bytes are not valid in the message's character set.
    #[error("bytes invalid for character set {charset} at {location}")]
    InvalidBytes {
        /// Name of the character set, e.g. `ASCII`.
        charset: &'static str,
        /// Where the first invalid byte is.
        location: Box<Location>,
    },
    /// A character of the text cannot be written in the target character set.
    #[error("character {ch:?} cannot be encoded in {charset} at {location}")]
    Unencodable {
        /// The character.
        ch: char,
        /// Name of the character set.
        charset: &'static str,
        /// Where (byte offset in the text).
        location: Box<Location>,
    },
    /// A segment does not start with a valid segment id (three characters `[A-Z][A-Z0-9]{2}`).
    #[error("malformed segment id {found:?} at {location}")]
    BadSegmentId {
        /// The text found where a segment id was expected.
        found: String,
        /// Where.
        location: Box<Location>,
    },
    /// A header or trailer segment (`MSH`, `FHS`, `BHS`, `BTS`, `FTS`) where it is not allowed,
    /// e.g. a second `MSH` inside one message or a `BHS` inside an open batch.
    #[error("unexpected {segment} segment: {reason} at {location}")]
    UnexpectedSegment {
        /// Id of the segment.
        segment: String,
        /// Why it is not allowed there.
        reason: &'static str,
        /// Where.
        location: Box<Location>,
    },
    /// A batch or file trailer count (BTS-1, FTS-1) differs from the actual count.
    #[error("{segment}-1 says {declared} but there are {actual} at {location}")]
    CountMismatch {
        /// `BTS` or `FTS`.
        segment: &'static str,
        /// The declared count.
        declared: String,
        /// The actual count of messages (BTS) or batches (FTS).
        actual: usize,
        /// Where.
        location: Box<Location>,
    },
}

impl ParseError {
    /// The location of the problem, if the error has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ParseError::Empty => None,
            ParseError::MissingHeader { location, .. }
            | ParseError::BadDelimiters { location, .. }
            | ParseError::UnknownCharset { location, .. }
            | ParseError::UnsupportedCharset { location, .. }
            | ParseError::InvalidBytes { location, .. }
            | ParseError::Unencodable { location, .. }
            | ParseError::BadSegmentId { location, .. }
            | ParseError::UnexpectedSegment { location, .. }
            | ParseError::CountMismatch { location, .. } => Some(&**location),
        }
    }

    /// Shifts the byte offset of the location by `delta` and renumbers the segment index by
    /// `segments` (used when a message inside a batch reports against the whole batch).
    pub(crate) fn shifted(mut self, delta: usize, segments: usize) -> ParseError {
        if let Some(loc) = self.location_mut() {
            loc.byte_offset += delta;
            if loc.segment_index > 0 {
                loc.segment_index += segments;
            }
        }
        self
    }

    fn location_mut(&mut self) -> Option<&mut Location> {
        match self {
            ParseError::Empty => None,
            ParseError::MissingHeader { location, .. }
            | ParseError::BadDelimiters { location, .. }
            | ParseError::UnknownCharset { location, .. }
            | ParseError::UnsupportedCharset { location, .. }
            | ParseError::InvalidBytes { location, .. }
            | ParseError::Unencodable { location, .. }
            | ParseError::BadSegmentId { location, .. }
            | ParseError::UnexpectedSegment { location, .. }
            | ParseError::CountMismatch { location, .. } => Some(&mut **location),
        }
    }
}
