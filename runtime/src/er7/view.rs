//! Field, repetition, component and subcomponent views, split lazily with `memchr`.

use std::borrow::Cow;

use super::delimiters::Delimiters;
use super::escape;
use super::location::Location;

/// The segment a view belongs to, for locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegCtx<'a> {
    /// Segment id.
    pub(crate) id: &'a str,
    /// 0-based index of the segment in its message.
    pub(crate) index: u32,
}

/// Splits `rest` at `sep` (no splitting when `sep` is `None`), numbering pieces from 1.
#[derive(Debug, Clone)]
pub(crate) struct Pieces<'a> {
    rest: &'a str,
    offset: usize,
    sep: Option<u8>,
    /// Separators of lower levels: a piece holding none of them is flat.
    lower: [u8; 3],
    number: u32,
    done: bool,
}

impl<'a> Pieces<'a> {
    #[inline]
    pub(crate) fn new(raw: &'a str, offset: usize, sep: Option<u8>, lower: [u8; 3]) -> Self {
        Pieces {
            rest: raw,
            offset,
            sep,
            lower,
            number: 0,
            done: false,
        }
    }

    #[inline]
    pub(crate) fn empty() -> Self {
        Pieces {
            rest: "",
            offset: 0,
            sep: None,
            lower: [0; 3],
            number: 0,
            done: true,
        }
    }

    /// Starts numbering after `number` (the next piece gets `number + 1`).
    #[inline]
    pub(crate) fn numbered_after(mut self, number: u32) -> Self {
        self.number = number;
        self
    }
}

impl<'a> Iterator for Pieces<'a> {
    /// (raw, offset, number, flat: no separator of a lower level inside).
    type Item = (&'a str, usize, u32, bool);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.number += 1;
        let Some(sep) = self.sep else {
            self.done = true;
            return Some((self.rest, self.offset, self.number, true));
        };
        let [l0, l1, l2] = self.lower;
        let bytes = self.rest.as_bytes();
        let mut lower = false;
        // One pass finds the separator and notes whether lower levels need splitting at all;
        // flat pieces are never scanned again.
        for (i, &b) in bytes.iter().enumerate() {
            if b == sep {
                let (piece, rest) = (&self.rest[..i], &self.rest[i + 1..]);
                let offset = self.offset;
                self.rest = rest;
                self.offset += i + 1;
                return Some((piece, offset, self.number, !lower));
            }
            lower |= (b == l0) | (b == l1) | (b == l2);
        }
        self.done = true;
        Some((self.rest, self.offset, self.number, !lower))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (1, Some(self.rest.len() + 1))
        }
    }
}

/// Number of pieces of `raw` split at `sep` (1 for an empty `raw`).
#[inline]
pub(crate) fn count_pieces(raw: &str, sep: Option<u8>) -> usize {
    match sep {
        Some(sep) => memchr::memchr_iter(sep, raw.as_bytes()).count() + 1,
        None => 1,
    }
}

macro_rules! common_methods {
    () => {
        /// The raw (still escaped) text.
        #[inline]
        pub fn raw(&self) -> &'a str {
            self.raw
        }

        /// Byte offset in the message text.
        #[inline]
        pub fn offset(&self) -> usize {
            self.offset
        }

        /// 1-based number at this level.
        #[inline]
        pub fn number(&self) -> usize {
            self.number as usize
        }

        /// Whether the raw text is empty.
        #[inline]
        pub fn is_empty(&self) -> bool {
            self.raw.is_empty()
        }

        /// The text with its escape sequences decoded ([`escape::decode`]); delimiters of lower
        /// levels stay as they are. MSH-1 and MSH-2 are returned as they are.
        #[inline]
        pub fn decoded(&self) -> Cow<'a, str> {
            if self.literal {
                Cow::Borrowed(self.raw)
            } else {
                escape::decode(self.raw, &self.delimiters)
            }
        }

        /// The delimiters of the message.
        #[inline]
        pub fn delimiters(&self) -> Delimiters {
            self.delimiters
        }
    };
}

/// A field of a segment (all its repetitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    pub(crate) raw: &'a str,
    pub(crate) offset: usize,
    pub(crate) number: u32,
    pub(crate) seg: SegCtx<'a>,
    pub(crate) delimiters: Delimiters,
    /// MSH-1/MSH-2: never split, never decoded.
    pub(crate) literal: bool,
    /// No repetition, component or subcomponent separator inside.
    pub(crate) flat: bool,
}

impl<'a> Field<'a> {
    common_methods!();

    /// Whether the field is the HL7 null `""` (delete the value in the receiver).
    #[inline]
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    fn sep(&self) -> Option<u8> {
        (!self.literal && !self.flat).then_some(self.delimiters.repetition)
    }

    /// The repetitions (at least one, possibly empty).
    #[inline]
    pub fn repetitions(&self) -> Repetitions<'a> {
        let d = self.delimiters;
        let sub = d.subcomponent.unwrap_or(d.component);
        Repetitions {
            inner: Pieces::new(self.raw, self.offset, self.sep(), [d.component, sub, sub]),
            parent: *self,
        }
    }

    /// Repetition `n` (1-based).
    pub fn repetition(&self, n: usize) -> Option<Repetition<'a>> {
        self.repetitions().nth(n.checked_sub(1)?)
    }

    /// Number of repetitions (1 when there is no repetition separator).
    pub fn repetition_count(&self) -> usize {
        count_pieces(self.raw, self.sep())
    }

    /// Where the field is.
    pub fn location(&self) -> Location {
        Location {
            segment_index: self.seg.index as usize + 1,
            segment_id: self.seg.id.to_owned(),
            field: Some(self.number()),
            byte_offset: self.offset,
            ..Location::default()
        }
    }
}

/// Iterator over the repetitions of a field.
#[derive(Debug, Clone)]
pub struct Repetitions<'a> {
    inner: Pieces<'a>,
    parent: Field<'a>,
}

impl<'a> Iterator for Repetitions<'a> {
    type Item = Repetition<'a>;

    #[inline]
    fn next(&mut self) -> Option<Repetition<'a>> {
        let (raw, offset, number, flat) = self.inner.next()?;
        Some(Repetition {
            raw,
            offset,
            number,
            field: self.parent.number,
            seg: self.parent.seg,
            delimiters: self.parent.delimiters,
            literal: self.parent.literal,
            flat,
        })
    }
}

/// One repetition of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repetition<'a> {
    raw: &'a str,
    offset: usize,
    number: u32,
    field: u32,
    seg: SegCtx<'a>,
    delimiters: Delimiters,
    literal: bool,
    flat: bool,
}

impl<'a> Repetition<'a> {
    common_methods!();

    fn sep(&self) -> Option<u8> {
        (!self.literal && !self.flat).then_some(self.delimiters.component)
    }

    /// The components (at least one, possibly empty).
    #[inline]
    pub fn components(&self) -> Components<'a> {
        let d = self.delimiters;
        let sub = d.subcomponent.unwrap_or(d.component);
        Components {
            inner: Pieces::new(self.raw, self.offset, self.sep(), [sub; 3]),
            parent: *self,
        }
    }

    /// Component `n` (1-based).
    pub fn component(&self, n: usize) -> Option<Component<'a>> {
        self.components().nth(n.checked_sub(1)?)
    }

    /// Number of components (1 when there is no component separator).
    pub fn component_count(&self) -> usize {
        count_pieces(self.raw, self.sep())
    }

    /// Where the repetition is.
    pub fn location(&self) -> Location {
        Location {
            segment_index: self.seg.index as usize + 1,
            segment_id: self.seg.id.to_owned(),
            field: Some(self.field as usize),
            repetition: Some(self.number()),
            byte_offset: self.offset,
            ..Location::default()
        }
    }
}

/// Iterator over the components of a repetition.
#[derive(Debug, Clone)]
pub struct Components<'a> {
    inner: Pieces<'a>,
    parent: Repetition<'a>,
}

impl<'a> Iterator for Components<'a> {
    type Item = Component<'a>;

    #[inline]
    fn next(&mut self) -> Option<Component<'a>> {
        let (raw, offset, number, flat) = self.inner.next()?;
        Some(Component {
            raw,
            offset,
            number,
            rep: self.parent.number,
            field: self.parent.field,
            seg: self.parent.seg,
            delimiters: self.parent.delimiters,
            literal: self.parent.literal,
            flat,
        })
    }
}

/// One component of a repetition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component<'a> {
    raw: &'a str,
    offset: usize,
    number: u32,
    rep: u32,
    field: u32,
    seg: SegCtx<'a>,
    delimiters: Delimiters,
    literal: bool,
    flat: bool,
}

impl<'a> Component<'a> {
    common_methods!();

    fn sep(&self) -> Option<u8> {
        if self.literal || self.flat {
            None
        } else {
            self.delimiters.subcomponent
        }
    }

    /// The subcomponents (at least one, possibly empty).
    #[inline]
    pub fn subcomponents(&self) -> Subcomponents<'a> {
        let sep = self.sep().unwrap_or(0);
        Subcomponents {
            inner: Pieces::new(self.raw, self.offset, self.sep(), [sep; 3]),
            parent: *self,
        }
    }

    /// Subcomponent `n` (1-based).
    pub fn subcomponent(&self, n: usize) -> Option<Subcomponent<'a>> {
        self.subcomponents().nth(n.checked_sub(1)?)
    }

    /// Number of subcomponents (1 when there is no subcomponent separator).
    pub fn subcomponent_count(&self) -> usize {
        count_pieces(self.raw, self.sep())
    }

    /// Where the component is.
    pub fn location(&self) -> Location {
        Location {
            segment_index: self.seg.index as usize + 1,
            segment_id: self.seg.id.to_owned(),
            field: Some(self.field as usize),
            repetition: Some(self.rep as usize),
            component: Some(self.number()),
            byte_offset: self.offset,
            ..Location::default()
        }
    }
}

/// Iterator over the subcomponents of a component.
#[derive(Debug, Clone)]
pub struct Subcomponents<'a> {
    inner: Pieces<'a>,
    parent: Component<'a>,
}

impl<'a> Iterator for Subcomponents<'a> {
    type Item = Subcomponent<'a>;

    #[inline]
    fn next(&mut self) -> Option<Subcomponent<'a>> {
        let (raw, offset, number, _) = self.inner.next()?;
        Some(Subcomponent {
            raw,
            offset,
            number,
            comp: self.parent.number,
            rep: self.parent.rep,
            field: self.parent.field,
            seg: self.parent.seg,
            delimiters: self.parent.delimiters,
            literal: self.parent.literal,
        })
    }
}

/// One subcomponent of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subcomponent<'a> {
    raw: &'a str,
    offset: usize,
    number: u32,
    comp: u32,
    rep: u32,
    field: u32,
    seg: SegCtx<'a>,
    delimiters: Delimiters,
    literal: bool,
}

impl<'a> Subcomponent<'a> {
    common_methods!();

    /// Where the subcomponent is.
    pub fn location(&self) -> Location {
        Location {
            segment_index: self.seg.index as usize + 1,
            segment_id: self.seg.id.to_owned(),
            field: Some(self.field as usize),
            repetition: Some(self.rep as usize),
            component: Some(self.comp as usize),
            subcomponent: Some(self.number()),
            byte_offset: self.offset,
        }
    }
}
