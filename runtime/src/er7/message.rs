//! The zero-copy message view.

use memchr::memchr2_iter;

use super::delimiters::Delimiters;
use super::error::ParseError;
use super::item::Item;
use super::location::Location;
use super::owned::{MessageTree, SegmentTree};
use super::path::{Path, PathError};
use super::segment::Segment;

/// Zero-copy view of one message. Splits segments eagerly (one `Vec` of ranges), everything
/// below lazily (`memchr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    text: &'a str,
    delimiters: Delimiters,
    /// (start, end) byte ranges of the segments in `text`, without terminators.
    segments: Vec<(usize, usize)>,
}

/// Byte ranges of the non-empty lines of `text` from `start`; terminators `\r`, `\n`, `\r\n`.
pub(crate) fn split_lines(text: &str, start: usize, out: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut from = start;
    for i in memchr2_iter(b'\r', b'\n', &bytes[start..]) {
        let end = start + i;
        if end > from {
            out.push((from, end));
        }
        from = end + 1;
    }
    if bytes.len() > from {
        out.push((from, bytes.len()));
    }
}

/// Whether `id` is a well-formed segment id: `[A-Z][A-Z0-9]{2}`.
pub(crate) fn valid_segment_id(raw: &[u8], field: u8) -> bool {
    match raw {
        [a, b, c, rest @ ..] => {
            a.is_ascii_uppercase()
                && (b.is_ascii_uppercase() || b.is_ascii_digit())
                && (c.is_ascii_uppercase() || c.is_ascii_digit())
                && rest.first().is_none_or(|&x| x == field)
        }
        _ => false,
    }
}

/// Checks the segment ids of `ranges[1..]`: well-formed, and no header or trailer segment.
pub(crate) fn check_body(
    text: &str,
    ranges: &[(usize, usize)],
    delimiters: Delimiters,
) -> Result<(), ParseError> {
    for (i, &(s, e)) in ranges.iter().enumerate().skip(1) {
        let raw = &text.as_bytes()[s..e];
        let loc = || Location {
            segment_index: i + 1,
            segment_id: String::from_utf8_lossy(&raw[..raw.len().min(3)]).into(),
            byte_offset: s,
            ..Location::default()
        };
        if !valid_segment_id(raw, delimiters.field) {
            let shown = raw
                .iter()
                .position(|&b| b == delimiters.field)
                .unwrap_or(raw.len())
                .min(16);
            return Err(ParseError::BadSegmentId {
                found: String::from_utf8_lossy(&raw[..shown]).into_owned(),
                location: Box::new(loc()),
            });
        }
        if matches!(&raw[..3], b"MSH" | b"FHS" | b"BHS" | b"BTS" | b"FTS") {
            return Err(ParseError::UnexpectedSegment {
                segment: String::from_utf8_lossy(&raw[..3]).into_owned(),
                reason: "a message holds one header and no batch segments (see er7::batch)",
                location: Box::new(loc()),
            });
        }
    }
    Ok(())
}

impl<'a> Message<'a> {
    /// Parses a message. It must start with `MSH`; segment terminators are `\r`, `\n` or
    /// `\r\n` (mixed too), a trailing terminator is optional and empty lines are skipped. A
    /// leading UTF-8 BOM is skipped. Segment ids must be `[A-Z][A-Z0-9]{2}`; a second `MSH`
    /// or a batch segment (`FHS`, `BHS`, `BTS`, `FTS`) is an error.
    pub fn parse(text: &'a str) -> Result<Message<'a>, ParseError> {
        let start = if text.starts_with('\u{FEFF}') { 3 } else { 0 };
        let mut segments = Vec::with_capacity(text.len() / 64 + 4);
        split_lines(text, start, &mut segments);
        let &(s, e) = segments.first().ok_or(ParseError::Empty)?;
        let first = &text.as_bytes()[s..e];
        if !first.starts_with(b"MSH") {
            return Err(ParseError::MissingHeader {
                expected: "MSH",
                found: String::from_utf8_lossy(&first[..first.len().min(8)]).into_owned(),
                location: Box::new(Location::at_byte(s)),
            });
        }
        let (delimiters, _) = Delimiters::from_header(first).map_err(|e| e.shifted(s, 0))?;
        check_body(text, &segments, delimiters)?;
        Ok(Message {
            text,
            delimiters,
            segments,
        })
    }

    /// Builds a message from already split and checked segments.
    pub(crate) fn from_parts(
        text: &'a str,
        delimiters: Delimiters,
        segments: Vec<(usize, usize)>,
    ) -> Message<'a> {
        Message {
            text,
            delimiters,
            segments,
        }
    }

    /// The whole text the message was parsed from.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The delimiters from MSH-1/MSH-2.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    #[inline]
    fn make(&self, index: usize, (s, e): (usize, usize)) -> Segment<'a> {
        Segment::new(self.text, s, e, index, self.delimiters)
    }

    /// The segments, in order.
    #[inline]
    pub fn segments(&self) -> Segments<'a, '_> {
        Segments {
            message: self,
            front: 0,
            back: self.segments.len(),
        }
    }

    /// Number of segments.
    #[inline]
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Segment `index` (0-based).
    #[inline]
    pub fn segment_at(&self, index: usize) -> Option<Segment<'a>> {
        self.segments.get(index).map(|&r| self.make(index, r))
    }

    /// Occurrence `occurrence` (1-based) of the segments with id `id`.
    pub fn segment(&self, id: &str, occurrence: usize) -> Option<Segment<'a>> {
        let idb = id.as_bytes();
        let field = self.delimiters.field;
        let (index, &range) = self
            .segments
            .iter()
            .enumerate()
            .filter(|(_, &(s, e))| {
                let raw = &self.text.as_bytes()[s..e];
                raw.starts_with(idb) && raw.get(idb.len()).is_none_or(|&b| b == field)
            })
            .nth(occurrence.checked_sub(1)?)?;
        Some(self.make(index, range))
    }

    /// Parses `path` (e.g. `PID-3[2].1`) and resolves it.
    pub fn get(&self, path: &str) -> Result<Option<Item<'a>>, PathError> {
        let path: Path = path.parse()?;
        Ok(path.resolve(self))
    }

    /// The MSH segment.
    pub fn msh(&self) -> Segment<'a> {
        let range = self.segments.first().copied().unwrap_or((0, 0));
        self.make(0, range)
    }

    fn msh_component(&self, field: usize, component: usize) -> Option<&'a str> {
        let raw = self
            .msh()
            .field(field)?
            .repetition(1)?
            .component(component)?
            .raw();
        (!raw.is_empty()).then_some(raw)
    }

    /// MSH-9.1, MSH-9.2 and MSH-9.3 raw (message code, trigger event, structure); `None` when
    /// absent or empty.
    pub fn message_type(&self) -> (Option<&'a str>, Option<&'a str>, Option<&'a str>) {
        (
            self.msh_component(9, 1),
            self.msh_component(9, 2),
            self.msh_component(9, 3),
        )
    }

    /// MSH-10 raw, the message control id; `None` when empty.
    pub fn control_id(&self) -> Option<&'a str> {
        let raw = self.msh().field(10)?.raw();
        (!raw.is_empty()).then_some(raw)
    }

    /// MSH-12.1 raw, the version id; `None` when empty.
    pub fn version(&self) -> Option<&'a str> {
        self.msh_component(12, 1)
    }

    /// A decoded, owned copy of the message (see [`MessageTree`]).
    pub fn to_owned_message(&self) -> MessageTree {
        let segments = self
            .segments()
            .map(|seg| SegmentTree {
                id: seg.id().to_owned(),
                fields: seg
                    .fields()
                    .map(|f| {
                        f.repetitions()
                            .map(|r| {
                                r.components()
                                    .map(|c| {
                                        c.subcomponents()
                                            .map(|s| s.decoded().into_owned())
                                            .collect()
                                    })
                                    .collect()
                            })
                            .collect()
                    })
                    .collect(),
            })
            .collect();
        MessageTree {
            delimiters: self.delimiters,
            segments,
        }
    }

    /// The message text with every segment terminated by `\r`: an unmodified message
    /// re-encodes to the same bytes up to terminator normalisation (and empty lines dropped).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1);
        for &(s, e) in &self.segments {
            out.push_str(&self.text[s..e]);
            out.push('\r');
        }
        out
    }
}

/// Iterator over the segments of a message.
#[derive(Debug, Clone)]
pub struct Segments<'a, 'm> {
    message: &'m Message<'a>,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Segments<'a, '_> {
    type Item = Segment<'a>;

    #[inline]
    fn next(&mut self) -> Option<Segment<'a>> {
        if self.front >= self.back {
            return None;
        }
        let i = self.front;
        self.front += 1;
        self.message.segment_at(i)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Segments<'_, '_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        self.back -= 1;
        self.message.segment_at(self.back)
    }
}

impl ExactSizeIterator for Segments<'_, '_> {}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
