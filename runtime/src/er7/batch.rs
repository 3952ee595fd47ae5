//! Files (`FHS` .. `FTS`), batches (`BHS` .. `BTS`) and bare concatenations of messages.

use std::ops::Range;

use super::delimiters::Delimiters;
use super::error::ParseError;
use super::location::Location;
use super::message::{check_body, split_lines, Message};
use super::segment::Segment;

/// A file or batch: `[FHS] { [BHS] { MSH ... } [BTS] } [FTS]`, or a bare concatenation of
/// messages (each starting at an `MSH`).
///
/// Structure errors are located [`ParseError`]s: a `BHS` inside an open batch (a nested
/// batch header), a segment outside a message (no `MSH` before it), a header or trailer in
/// the wrong place, or a trailer count (BTS-1, FTS-1) that differs from the actual count.
/// Trailers are optional at the end of the input (many senders leave them out); a `FTS`
/// closes an open batch. Offsets and segment indexes of the headers, trailers and errors are
/// those of the whole text; those of each [`Message`] are relative to its own text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch<'a> {
    /// The whole text.
    pub text: &'a str,
    /// The `FHS` segment, if any.
    pub file_header: Option<Segment<'a>>,
    /// The `FTS` segment, if any.
    pub file_trailer: Option<Segment<'a>>,
    /// The batches (`BHS` .. `BTS`), in order.
    pub batches: Vec<BatchSection<'a>>,
    /// Every message, in order (inside a batch or not).
    pub messages: Vec<Message<'a>>,
    /// Byte offset of each message in `text`.
    message_offsets: Vec<usize>,
}

/// One batch of a [`Batch`]: its header, trailer and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSection<'a> {
    /// The `BHS` segment.
    pub header: Segment<'a>,
    /// The `BTS` segment, if any.
    pub trailer: Option<Segment<'a>>,
    /// Indexes of the batch's messages in [`Batch::messages`].
    pub messages: Range<usize>,
}

struct Builder<'a> {
    text: &'a str,
    lines: Vec<(usize, usize)>,
    batch: Batch<'a>,
    /// Delimiters of the innermost header seen (for BTS/FTS).
    delimiters: Delimiters,
    /// Line index of the MSH of the open message.
    open_message: Option<usize>,
    open_batch: bool,
}

impl<'a> Batch<'a> {
    /// Parses a file, a batch or a bare concatenation of messages.
    pub fn parse(text: &'a str) -> Result<Batch<'a>, ParseError> {
        let start = if text.starts_with('\u{FEFF}') { 3 } else { 0 };
        let mut lines = Vec::with_capacity(text.len() / 64 + 4);
        split_lines(text, start, &mut lines);
        let &(s, e) = lines.first().ok_or(ParseError::Empty)?;
        let first = &text.as_bytes()[s..e];
        if !matches!(first.get(..3), Some(b"MSH" | b"FHS" | b"BHS")) {
            return Err(ParseError::MissingHeader {
                expected: "MSH, FHS or BHS",
                found: String::from_utf8_lossy(&first[..first.len().min(8)]).into_owned(),
                location: Box::new(Location::at_byte(s)),
            });
        }
        let mut b = Builder {
            text,
            lines,
            batch: Batch {
                text,
                file_header: None,
                file_trailer: None,
                batches: Vec::new(),
                messages: Vec::new(),
                message_offsets: Vec::new(),
            },
            delimiters: Delimiters::DEFAULT,
            open_message: None,
            open_batch: false,
        };
        for i in 0..b.lines.len() {
            b.line(i)?;
        }
        b.close_message(b.lines.len())?;
        Ok(b.batch)
    }

    /// Byte offset of message `index` in [`Batch::text`].
    pub fn message_offset(&self, index: usize) -> Option<usize> {
        self.message_offsets.get(index).copied()
    }

    /// The `BHS` segments, in order.
    pub fn batch_headers(&self) -> impl Iterator<Item = Segment<'a>> + '_ {
        self.batches.iter().map(|b| b.header)
    }
}

impl<'a> Builder<'a> {
    fn segment(&self, i: usize) -> Segment<'a> {
        let (s, e) = self.lines[i];
        Segment::new(self.text, s, e, i, self.delimiters)
    }

    fn unexpected(&self, i: usize, reason: &'static str) -> ParseError {
        let (s, e) = self.lines[i];
        let raw = &self.text.as_bytes()[s..e];
        let id = String::from_utf8_lossy(&raw[..raw.len().min(3)]).into_owned();
        ParseError::UnexpectedSegment {
            segment: id.clone(),
            reason,
            location: Box::new(Location {
                segment_index: i + 1,
                segment_id: id.into(),
                byte_offset: s,
                ..Location::default()
            }),
        }
    }

    fn header(&mut self, i: usize) -> Result<Segment<'a>, ParseError> {
        let (s, e) = self.lines[i];
        let (d, _) = Delimiters::from_header(&self.text.as_bytes()[s..e])
            .map_err(|err| err.shifted(s, i))?;
        self.delimiters = d;
        Ok(self.segment(i))
    }

    fn line(&mut self, i: usize) -> Result<(), ParseError> {
        let (s, e) = self.lines[i];
        let id = self
            .text
            .as_bytes()
            .get(s..e.min(s + 3))
            .unwrap_or_default();
        let after_fts = self.batch.file_trailer.is_some();
        match id {
            b"FHS" => {
                if i != 0 {
                    return Err(self.unexpected(i, "FHS must be the first segment"));
                }
                self.batch.file_header = Some(self.header(i)?);
            }
            b"BHS" => {
                self.close_message(i)?;
                if self.open_batch {
                    return Err(
                        self.unexpected(i, "nested batch header: the open batch has no BTS")
                    );
                }
                if after_fts {
                    return Err(self.unexpected(i, "after the file trailer (FTS)"));
                }
                let header = self.header(i)?;
                let first = self.batch.messages.len();
                self.batch.batches.push(BatchSection {
                    header,
                    trailer: None,
                    messages: first..first,
                });
                self.open_batch = true;
            }
            b"BTS" => {
                self.close_message(i)?;
                if !self.open_batch {
                    return Err(self.unexpected(i, "batch trailer without batch header (BHS)"));
                }
                let trailer = self.segment(i);
                let count = self.batch.batches.last().map_or(0, |b| b.messages.len());
                check_count(&trailer, "BTS", count)?;
                if let Some(b) = self.batch.batches.last_mut() {
                    b.trailer = Some(trailer);
                }
                self.open_batch = false;
            }
            b"FTS" => {
                self.close_message(i)?;
                if self.batch.file_header.is_none() {
                    return Err(self.unexpected(i, "file trailer without file header (FHS)"));
                }
                if after_fts {
                    return Err(self.unexpected(i, "second file trailer"));
                }
                self.open_batch = false;
                let trailer = self.segment(i);
                check_count(&trailer, "FTS", self.batch.batches.len())?;
                self.batch.file_trailer = Some(trailer);
            }
            b"MSH" => {
                self.close_message(i)?;
                if after_fts {
                    return Err(self.unexpected(i, "after the file trailer (FTS)"));
                }
                self.open_message = Some(i);
            }
            _ => {
                if self.open_message.is_none() {
                    return Err(self.unexpected(i, "segment outside a message (no MSH before it)"));
                }
            }
        }
        Ok(())
    }

    /// Ends the open message (if any) before line `end`.
    fn close_message(&mut self, end: usize) -> Result<(), ParseError> {
        let Some(first) = self.open_message.take() else {
            return Ok(());
        };
        let start = self.lines[first].0;
        let stop = self.lines[end - 1].1;
        let text = &self.text[start..stop];
        let ranges: Vec<(usize, usize)> = self.lines[first..end]
            .iter()
            .map(|&(s, e)| (s - start, e - start))
            .collect();
        let (msh_s, msh_e) = ranges[0];
        let (d, _) = Delimiters::from_header(&text.as_bytes()[msh_s..msh_e])
            .map_err(|err| err.shifted(start, first))?;
        check_body(text, &ranges, d).map_err(|err| err.shifted(start, first))?;
        self.batch
            .messages
            .push(Message::from_parts(text, d, ranges));
        self.batch.message_offsets.push(start);
        if self.open_batch {
            if let Some(b) = self.batch.batches.last_mut() {
                b.messages.end = self.batch.messages.len();
            }
        }
        Ok(())
    }
}

fn check_count(trailer: &Segment<'_>, id: &'static str, actual: usize) -> Result<(), ParseError> {
    let Some(field) = trailer.field(1) else {
        return Ok(());
    };
    let declared = field.raw().trim();
    if declared.is_empty() || declared.parse::<usize>().ok() == Some(actual) {
        return Ok(());
    }
    let mut location = field.location();
    location.segment_index = trailer.index() + 1;
    Err(ParseError::CountMismatch {
        segment: id,
        declared: declared.to_owned(),
        actual,
        location: Box::new(location),
    })
}

/// Splits a bare concatenation of messages: each piece starts at a line beginning with `MSH`
/// (text before the first `MSH`, if any, is a piece of its own so that parsing it fails).
/// Empty lines around pieces are dropped; terminators inside a piece are kept.
pub fn split_messages(text: &str) -> impl Iterator<Item = &str> {
    let mut lines = Vec::new();
    split_lines(text, 0, &mut lines);
    let mut pieces = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for (s, e) in lines {
        let is_msh = text.as_bytes()[s..e].starts_with(b"MSH");
        match current {
            Some((start, _)) if !is_msh => current = Some((start, e)),
            Some((start, end)) => {
                pieces.push(&text[start..end]);
                current = Some((s, e));
            }
            None => current = Some((s, e)),
        }
    }
    if let Some((start, end)) = current {
        pieces.push(&text[start..end]);
    }
    pieces.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str = "MSH|^~\\&|A|B|||||ADT^A04|1|P|2.5\rPID|1\r";

    #[test]
    fn file_with_batches() {
        let text = format!("FHS|^~\\&\rBHS|^~\\&\r{MSG}{MSG}BTS|2\rBHS|^~\\&\r{MSG}BTS|1\rFTS|2\r");
        let b = Batch::parse(&text).unwrap();
        assert!(b.file_header.is_some() && b.file_trailer.is_some());
        assert_eq!(b.batches.len(), 2);
        assert_eq!(b.messages.len(), 3);
        assert_eq!(b.batches[0].messages, 0..2);
        assert_eq!(b.batches[1].messages, 2..3);
        assert_eq!(b.message_offset(1), Some(18 + MSG.len()));
        assert_eq!(b.messages[1].segment_count(), 2);
        assert_eq!(b.batch_headers().count(), 2);
    }

    #[test]
    fn bare_concatenation() {
        let text = format!("{MSG}\n\n{MSG}");
        let b = Batch::parse(&text).unwrap();
        assert_eq!(b.messages.len(), 2);
        assert!(b.batches.is_empty());
        let pieces: Vec<_> = split_messages(&text).collect();
        assert_eq!(pieces, vec![MSG.trim_end(), MSG.trim_end()]);
        let pieces: Vec<_> = split_messages("junk\rMSH|^~\\&\r").collect();
        assert_eq!(pieces, vec!["junk", "MSH|^~\\&"]);
    }

    #[test]
    fn structure_errors_are_located() {
        let nested = "BHS|^~\\&\rMSH|^~\\&\rEVN|A04\rBHS|^~\\&\rPID|1\rBTS|1\r";
        let err = Batch::parse(nested).unwrap_err();
        let loc = err.location().unwrap();
        assert_eq!((loc.segment_index, loc.segment_id.as_str()), (4, "BHS"));
        let no_msh = "BHS|^~\\&\rEVN|A04\rBTS|0\r";
        let loc = Batch::parse(no_msh)
            .unwrap_err()
            .location()
            .cloned()
            .unwrap();
        assert_eq!((loc.segment_index, loc.segment_id.as_str()), (2, "EVN"));
        let count = format!("BHS|^~\\&\r{MSG}BTS|3\r");
        let err = Batch::parse(&count).unwrap_err();
        assert!(
            matches!(err, ParseError::CountMismatch { actual: 1, .. }),
            "{err}"
        );
        assert_eq!(err.location().unwrap().segment_index, 4);
        let bad_seg = format!("BHS|^~\\&\r{MSG}pid|1\r");
        let loc = Batch::parse(&bad_seg)
            .unwrap_err()
            .location()
            .cloned()
            .unwrap();
        assert_eq!((loc.segment_index, loc.byte_offset), (4, 9 + MSG.len()));
        assert!(Batch::parse("FTS|0\r").is_err());
        assert_eq!(Batch::parse("").unwrap_err(), ParseError::Empty);
    }
}
