//! The segment view and its field iterator.

use memchr::memchr;

use super::delimiters::Delimiters;
use super::location::Location;
use super::view::{count_pieces, Field, Pieces, SegCtx};

/// One segment of a message: a zero-copy view of its raw text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    raw: &'a str,
    offset: usize,
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

impl<'a> Segment<'a> {
    /// A view of `raw`, found at byte `offset` of the text, segment `index` (0-based).
    pub(crate) fn new(raw: &'a str, offset: usize, index: usize, delimiters: Delimiters) -> Self {
        let id_end = memchr(delimiters.field, raw.as_bytes()).unwrap_or(raw.len());
        Segment {
            raw,
            offset,
            index: u32::try_from(index).unwrap_or(u32::MAX),
            delimiters,
            id_len: u32::try_from(id_end).unwrap_or(0),
            header: is_header_id(&raw[..id_end]),
        }
    }

    /// The segment id, e.g. `PID` (the text before the first field separator).
    #[inline]
    pub fn id(&self) -> &'a str {
        self.raw.get(..self.id_len as usize).unwrap_or_default()
    }

    /// 0-based position of the segment in its message.
    #[inline]
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// Byte offset of the segment in the message text.
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The raw text of the segment, without terminator.
    #[inline]
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The delimiters of the message.
    #[inline]
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    fn ctx(&self) -> SegCtx<'a> {
        SegCtx {
            id: self.id(),
            index: self.index,
        }
    }

    fn lower(&self) -> [u8; 3] {
        let d = self.delimiters;
        [
            d.repetition,
            d.component,
            d.subcomponent.unwrap_or(d.component),
        ]
    }

    fn field_view(
        &self,
        raw: &'a str,
        offset: usize,
        number: u32,
        literal: bool,
        flat: bool,
    ) -> Field<'a> {
        Field {
            raw,
            offset,
            number,
            seg: self.ctx(),
            delimiters: self.delimiters,
            literal,
            flat,
        }
    }

    /// Split point of a header segment: end of MSH-2 (index of the separator before MSH-3, or
    /// the segment length).
    fn msh2_end(&self) -> usize {
        let rest = self.raw.as_bytes().get(4..).unwrap_or_default();
        memchr(self.delimiters.field, rest).map_or(self.raw.len().max(4), |i| 4 + i)
    }

    /// The fields numbered from `first` on, and where they start.
    fn split_fields(&self) -> (Pieces<'a>, u32) {
        if self.header {
            let end = self.msh2_end();
            if end < self.raw.len() {
                let p = Pieces::new(
                    &self.raw[end + 1..],
                    self.offset + end + 1,
                    Some(self.delimiters.field),
                    self.lower(),
                );
                return (p.numbered_after(2), 3);
            }
            return (Pieces::empty(), 3);
        }
        let id_len = self.id().len();
        if id_len < self.raw.len() {
            let p = Pieces::new(
                &self.raw[id_len + 1..],
                self.offset + id_len + 1,
                Some(self.delimiters.field),
                self.lower(),
            );
            (p, 1)
        } else {
            (Pieces::empty(), 1)
        }
    }

    /// Field `n` (1-based). For `MSH` (and `FHS`/`BHS`), field 1 is the field separator itself
    /// and field 2 the raw encoding characters, never split.
    pub fn field(&self, n: usize) -> Option<Field<'a>> {
        if self.header && n <= 2 {
            return self.header_field(n);
        }
        let (mut pieces, first) = self.split_fields();
        let (raw, offset, number, flat) = pieces.nth(n.checked_sub(first as usize)?)?;
        Some(self.field_view(raw, offset, number, false, flat))
    }

    fn header_field(&self, n: usize) -> Option<Field<'a>> {
        match n {
            1 => Some(self.field_view(self.raw.get(3..4)?, self.offset + 3, 1, true, true)),
            2 => {
                let end = self.msh2_end();
                Some(self.field_view(self.raw.get(4..end)?, self.offset + 4, 2, true, true))
            }
            _ => None,
        }
    }

    /// The fields, from field 1 on.
    pub fn fields(&self) -> Fields<'a> {
        let (inner, _) = self.split_fields();
        Fields {
            segment: *self,
            pending_header: if self.header { 2 } else { 0 },
            inner,
        }
    }

    /// Highest field number present (0 for a segment with its id only).
    pub fn field_count(&self) -> usize {
        let (pieces, first) = self.split_fields();
        let rest = if pieces.clone().next().is_some() {
            let id_len = if self.header {
                self.msh2_end()
            } else {
                self.id().len()
            };
            count_pieces(&self.raw[id_len + 1..], Some(self.delimiters.field))
        } else {
            0
        };
        first as usize - 1 + rest
    }

    /// Where the segment is.
    pub fn location(&self) -> Location {
        Location {
            segment_index: self.index as usize + 1,
            segment_id: self.id().to_owned(),
            byte_offset: self.offset,
            ..Location::default()
        }
    }
}

/// Iterator over the fields of a segment, from field 1 on.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    segment: Segment<'a>,
    pending_header: u8,
    inner: Pieces<'a>,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    #[inline]
    fn next(&mut self) -> Option<Field<'a>> {
        if self.pending_header > 0 {
            let n = 3 - self.pending_header as usize;
            self.pending_header -= 1;
            return self.segment.header_field(n);
        }
        let (raw, offset, number, flat) = self.inner.next()?;
        Some(self.segment.field_view(raw, offset, number, false, flat))
    }
}
