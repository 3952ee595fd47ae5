//! The segment view and its field iterator.

use std::fmt;

use memchr::memchr;

use super::delimiters::Delimiters;
use super::index::{DelimiterIndex, IndexedPieces, Split};
use super::location::Location;
use super::scan::Pieces;
use super::view::{count_pieces, Field, SegCtx};

/// One segment of a message: a zero-copy view of its raw text.
#[derive(Clone, Copy)]
pub struct Segment<'a> {
    /// The whole text; the segment is `text[start..end]`.
    text: &'a str,
    start: usize,
    end: usize,
    index: u32,
    delimiters: Delimiters,
    /// Length of the segment id.
    id_len: u32,
    /// `MSH`, `FHS` or `BHS`: field 1 is the field separator, field 2 the encoding characters.
    header: bool,
}

/// Whether a segment id is one of the headers that carry MSH-1/MSH-2.
#[inline]
pub(crate) fn is_header_id(id: &str) -> bool {
    matches!(id, "MSH" | "FHS" | "BHS")
}

impl fmt::Debug for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("raw", &self.raw())
            .field("offset", &self.start)
            .field("index", &self.index)
            .field("delimiters", &self.delimiters)
            .field("id_len", &self.id_len)
            .field("header", &self.header)
            .finish()
    }
}

/// Equality of what the view shows (its raw text, not the text around it).
impl PartialEq for Segment<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.raw() == other.raw()
            && self.start == other.start
            && self.index == other.index
            && self.delimiters == other.delimiters
            && self.id_len == other.id_len
            && self.header == other.header
    }
}

impl Eq for Segment<'_> {}

impl<'a> Segment<'a> {
    /// A view of `text[start..end]`, segment `index` (0-based).
    #[inline]
    pub(crate) fn new(
        text: &'a str,
        start: usize,
        end: usize,
        index: usize,
        delimiters: Delimiters,
    ) -> Self {
        let raw = text.as_bytes().get(start..end).unwrap_or_default();
        let id_end = memchr(delimiters.field, raw).unwrap_or(raw.len());
        Segment {
            text,
            start,
            end,
            index: u32::try_from(index).unwrap_or(u32::MAX),
            delimiters,
            id_len: u32::try_from(id_end).unwrap_or(0),
            header: matches!(raw.get(..id_end), Some(b"MSH" | b"FHS" | b"BHS")),
        }
    }

    /// The segment id, e.g. `PID` (the text before the first field separator).
    #[inline]
    pub fn id(&self) -> &'a str {
        self.ctx().id(self.text)
    }

    /// 0-based position of the segment in its message.
    #[inline]
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// Byte offset of the segment in the message text.
    #[inline]
    pub fn offset(&self) -> usize {
        self.start
    }

    /// The raw text of the segment, without terminator.
    #[inline]
    pub fn raw(&self) -> &'a str {
        self.text.get(self.start..self.end).unwrap_or_default()
    }

    /// The delimiters of the message.
    #[inline]
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    #[inline]
    fn ctx(&self) -> SegCtx {
        SegCtx {
            start: self.start,
            id_len: self.id_len,
            index: self.index,
        }
    }

    #[inline]
    fn lower(&self) -> [u8; 3] {
        let d = self.delimiters;
        [
            d.repetition,
            d.component,
            d.subcomponent.unwrap_or(d.component),
        ]
    }

    #[inline]
    fn field_view(
        &self,
        (start, end): (usize, usize),
        number: u32,
        literal: bool,
        flat: bool,
    ) -> Field<'a> {
        Field {
            text: self.text,
            start,
            end,
            number,
            seg: self.ctx(),
            delimiters: self.delimiters,
            literal,
            flat,
        }
    }

    /// Length of the segment text.
    #[inline]
    fn len(&self) -> usize {
        self.end - self.start
    }

    /// Split point of a header segment: end of MSH-2 (index in the segment of the separator
    /// before MSH-3, or the segment length).
    #[inline]
    fn msh2_end(&self) -> usize {
        let rest = self.raw().as_bytes().get(4..).unwrap_or_default();
        memchr(self.delimiters.field, rest).map_or(self.len().max(4), |i| 4 + i)
    }

    /// Where the fields after the id (or after MSH-2) start in the segment, if any, and the
    /// number of the first of them.
    #[inline]
    fn first_split(&self) -> (Option<usize>, u32) {
        let (before, first) = if self.header {
            (self.msh2_end(), 3)
        } else {
            (self.id_len as usize, 1)
        };
        ((before < self.len()).then_some(before + 1), first)
    }

    /// The fields numbered from `first` on.
    #[inline]
    fn split_fields(&self) -> (Pieces<'a>, u32) {
        let (from, first) = self.first_split();
        let pieces = match from {
            Some(from) => Pieces::new(
                self.text.as_bytes(),
                self.start + from,
                self.end,
                Some(self.delimiters.field),
                Some(self.lower()),
            )
            .numbered_after(first - 1),
            None => Pieces::empty(),
        };
        (pieces, first)
    }

    /// Field `n` (1-based). For `MSH` (and `FHS`/`BHS`), field 1 is the field separator itself
    /// and field 2 the raw encoding characters, never split.
    pub fn field(&self, n: usize) -> Option<Field<'a>> {
        if self.header && n <= 2 {
            return self.header_field(n);
        }
        let (mut pieces, first) = self.split_fields();
        let (start, end, number, flat) = pieces.nth(n.checked_sub(first as usize)?)?;
        Some(self.field_view((start, end), number, false, flat))
    }

    #[inline]
    fn header_field(&self, n: usize) -> Option<Field<'a>> {
        let (start, end) = match n {
            1 => (3, 4),
            2 => (4, self.msh2_end()),
            _ => return None,
        };
        // The range must lie in the segment, as a slice of it would.
        self.raw().get(start..end)?;
        let range = (self.start + start, self.start + end);
        Some(self.field_view(range, n as u32, true, true))
    }

    /// The fields, from field 1 on.
    #[inline]
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            spans: self.field_spans(),
        }
    }

    /// Highest field number present (0 for a segment with its id only).
    pub fn field_count(&self) -> usize {
        let (from, first) = self.first_split();
        let rest = match from {
            Some(from) => count_pieces(
                self.raw().get(from..).unwrap_or_default(),
                Some(self.delimiters.field),
            ),
            None => 0,
        };
        first as usize - 1 + rest
    }

    /// Where the segment is.
    pub fn location(&self) -> Location {
        Location {
            segment_index: self.index as usize + 1,
            segment_id: self.id().into(),
            byte_offset: self.start,
            ..Location::default()
        }
    }
}

/// Where a field is in the message text, without the rest of its view: what the validator
/// walks (a [`Field`] is several times larger, and each step moves one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldSpan {
    /// Byte range of the field in the message text.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// 1-based field number.
    pub(crate) number: u32,
    /// No repetition, component or subcomponent separator inside.
    pub(crate) flat: bool,
    /// MSH-1/MSH-2 (or FHS/BHS): never split, never decoded.
    pub(crate) literal: bool,
}

impl FieldSpan {
    /// The field's raw text, `text` being the message text.
    #[inline]
    pub(crate) fn raw(self, text: &str) -> &str {
        text.get(self.start..self.end).unwrap_or_default()
    }
}

impl<'a> Segment<'a> {
    /// The spans of the fields, from field 1 on; as [`Segment::fields`].
    #[inline]
    pub(crate) fn field_spans(&self) -> FieldSpans<'a> {
        let (inner, _) = self.split_fields();
        self.spans_after_header(inner)
    }

    /// [`Segment::field_spans`] through `index`, an index of the message text.
    #[inline]
    pub(crate) fn field_spans_in<'i>(
        &self,
        index: &'i DelimiterIndex<'a>,
    ) -> FieldSpans<'a, IndexedPieces<'i, 'a>> {
        debug_assert!(std::ptr::eq(index.text(), self.text));
        let (from, first) = self.first_split();
        let inner = match from {
            Some(from) => index
                .pieces(self.start + from, self.end, Some(Split::Fields))
                .numbered_after(first - 1),
            None => IndexedPieces::empty(),
        };
        self.spans_after_header(inner)
    }

    /// The header fields (MSH-1, MSH-2 of a header segment), then the fields `inner` yields.
    #[inline]
    fn spans_after_header<P>(&self, inner: P) -> FieldSpans<'a, P> {
        FieldSpans {
            segment: *self,
            pending_header: if self.header { 2 } else { 0 },
            inner,
        }
    }
}

/// Iterator of [`Segment::field_spans`]: the header fields, then the pieces of `P`.
#[derive(Debug, Clone)]
pub(crate) struct FieldSpans<'a, P = Pieces<'a>> {
    segment: Segment<'a>,
    pending_header: u8,
    inner: P,
}

impl<P: Iterator<Item = (usize, usize, u32, bool)>> Iterator for FieldSpans<'_, P> {
    type Item = FieldSpan;

    #[inline(always)]
    fn next(&mut self) -> Option<FieldSpan> {
        if self.pending_header > 0 {
            let n = 3 - self.pending_header as usize;
            self.pending_header -= 1;
            return self.segment.header_field(n).map(|f| FieldSpan {
                start: f.start,
                end: f.end,
                number: f.number,
                flat: f.flat,
                literal: f.literal,
            });
        }
        let (start, end, number, flat) = self.inner.next()?;
        Some(FieldSpan {
            start,
            end,
            number,
            flat,
            literal: false,
        })
    }
}

/// Iterator over the fields of a segment, from field 1 on.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    spans: FieldSpans<'a>,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Field<'a>> {
        let span = self.spans.next()?;
        let range = (span.start, span.end);
        Some(
            self.spans
                .segment
                .field_view(range, span.number, span.literal, span.flat),
        )
    }
}
