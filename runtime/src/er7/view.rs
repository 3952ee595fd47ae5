//! Field, repetition, component and subcomponent views, split lazily (see `scan`).
//!
//! A view is the whole text plus a byte range, so the splitter can read whole words past the
//! end of a short piece instead of falling back to a byte loop.

use std::borrow::Cow;
use std::fmt;

use super::delimiters::Delimiters;
use super::escape;
use super::location::Location;
use super::scan::Pieces;

/// The segment a view belongs to, for locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegCtx {
    /// Byte offset of the segment in the text.
    pub(crate) start: usize,
    /// Length of the segment id.
    pub(crate) id_len: u32,
    /// 0-based index of the segment in its message.
    pub(crate) index: u32,
}

impl SegCtx {
    /// The segment id, read from `text`.
    #[inline]
    pub(crate) fn id<'a>(&self, text: &'a str) -> &'a str {
        text.get(self.start..self.start + self.id_len as usize)
            .unwrap_or_default()
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
            self.text.get(self.start..self.end).unwrap_or_default()
        }

        /// Byte offset in the message text.
        #[inline]
        pub fn offset(&self) -> usize {
            self.start
        }

        /// 1-based number at this level.
        #[inline]
        pub fn number(&self) -> usize {
            self.number as usize
        }

        /// Whether the raw text is empty.
        #[inline]
        pub fn is_empty(&self) -> bool {
            self.start >= self.end
        }

        /// The text with its escape sequences decoded ([`escape::decode`]); delimiters of lower
        /// levels stay as they are. MSH-1 and MSH-2 are returned as they are.
        #[inline]
        pub fn decoded(&self) -> Cow<'a, str> {
            if self.literal {
                Cow::Borrowed(self.raw())
            } else {
                escape::decode(self.raw(), &self.delimiters)
            }
        }

        /// The delimiters of the message.
        #[inline]
        pub fn delimiters(&self) -> Delimiters {
            self.delimiters
        }
    };
}

/// `Debug` as the derive wrote it when views held `raw: &str` and `offset`, and equality of
/// what a view shows (its raw text, not the text around it).
macro_rules! view_traits {
    ($name:ident { $($mid:ident),* ; $($tail:ident),* }) => {
        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("raw", &self.raw())
                    .field("offset", &self.start)
                    .field("number", &self.number)
                    $(.field(stringify!($mid), &self.$mid))*
                    .field("seg", &SegDebug(self.seg, self.text))
                    .field("delimiters", &self.delimiters)
                    .field("literal", &self.literal)
                    $(.field(stringify!($tail), &self.$tail))*
                    .finish()
            }
        }

        impl PartialEq for $name<'_> {
            fn eq(&self, other: &Self) -> bool {
                self.raw() == other.raw()
                    && self.start == other.start
                    && self.number == other.number
                    $(&& self.$mid == other.$mid)*
                    && self.seg.index == other.seg.index
                    && self.seg.id(self.text) == other.seg.id(other.text)
                    && self.delimiters == other.delimiters
                    && self.literal == other.literal
                    $(&& self.$tail == other.$tail)*
            }
        }

        impl Eq for $name<'_> {}
    };
}

/// Shows a [`SegCtx`] with its id.
struct SegDebug<'a>(SegCtx, &'a str);

impl fmt::Debug for SegDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegCtx")
            .field("id", &self.0.id(self.1))
            .field("index", &self.0.index)
            .finish()
    }
}

/// A field of a segment (all its repetitions).
#[derive(Clone, Copy)]
pub struct Field<'a> {
    /// The whole text; the field is `text[start..end]`.
    pub(crate) text: &'a str,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) number: u32,
    pub(crate) seg: SegCtx,
    pub(crate) delimiters: Delimiters,
    /// MSH-1/MSH-2: never split, never decoded.
    pub(crate) literal: bool,
    /// No repetition, component or subcomponent separator inside.
    pub(crate) flat: bool,
}

view_traits!(Field { ; flat });

impl<'a> Field<'a> {
    common_methods!();

    /// Whether the field is the HL7 null `""` (delete the value in the receiver).
    #[inline]
    pub fn is_null(&self) -> bool {
        self.raw() == "\"\""
    }

    #[inline]
    fn sep(&self) -> Option<u8> {
        (!self.literal && !self.flat).then_some(self.delimiters.repetition)
    }

    /// The repetitions (at least one, possibly empty).
    #[inline]
    pub fn repetitions(&self) -> Repetitions<'a> {
        let d = self.delimiters;
        let sub = d.subcomponent.unwrap_or(d.component);
        Repetitions {
            inner: Pieces::new(
                self.text.as_bytes(),
                self.start,
                self.end,
                self.sep(),
                Some([d.component, sub, sub]),
            ),
            parent: *self,
        }
    }

    /// Repetition `n` (1-based).
    pub fn repetition(&self, n: usize) -> Option<Repetition<'a>> {
        self.repetitions().nth(n.checked_sub(1)?)
    }

    /// Number of repetitions (1 when there is no repetition separator).
    pub fn repetition_count(&self) -> usize {
        count_pieces(self.raw(), self.sep())
    }

    /// Where the field is.
    pub fn location(&self) -> Location {
        Location {
            segment_index: self.seg.index as usize + 1,
            segment_id: self.seg.id(self.text).into(),
            field: Some(self.number()),
            byte_offset: self.start,
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
        let (start, end, number, flat) = self.inner.next()?;
        Some(Repetition {
            text: self.parent.text,
            start,
            end,
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
#[derive(Clone, Copy)]
pub struct Repetition<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    number: u32,
    field: u32,
    seg: SegCtx,
    delimiters: Delimiters,
    literal: bool,
    flat: bool,
}

view_traits!(Repetition { field; flat });

impl<'a> Repetition<'a> {
    common_methods!();

    #[inline]
    fn sep(&self) -> Option<u8> {
        (!self.literal && !self.flat).then_some(self.delimiters.component)
    }

    /// The components (at least one, possibly empty).
    #[inline]
    pub fn components(&self) -> Components<'a> {
        let d = self.delimiters;
        let sub = d.subcomponent.unwrap_or(d.component);
        Components {
            inner: Pieces::new(
                self.text.as_bytes(),
                self.start,
                self.end,
                self.sep(),
                Some([sub; 3]),
            ),
            parent: *self,
        }
    }

    /// Component `n` (1-based).
    pub fn component(&self, n: usize) -> Option<Component<'a>> {
        self.components().nth(n.checked_sub(1)?)
    }

    /// Number of components (1 when there is no component separator).
    pub fn component_count(&self) -> usize {
        count_pieces(self.raw(), self.sep())
    }

    /// Where the repetition is.
    pub fn location(&self) -> Location {
        Location {
            segment_index: self.seg.index as usize + 1,
            segment_id: self.seg.id(self.text).into(),
            field: Some(self.field as usize),
            repetition: Some(self.number()),
            byte_offset: self.start,
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
        let (start, end, number, flat) = self.inner.next()?;
        Some(Component {
            text: self.parent.text,
            start,
            end,
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
#[derive(Clone, Copy)]
pub struct Component<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    number: u32,
    rep: u32,
    field: u32,
    seg: SegCtx,
    delimiters: Delimiters,
    literal: bool,
    flat: bool,
}

view_traits!(Component { rep, field; flat });

impl<'a> Component<'a> {
    common_methods!();

    #[inline]
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
        Subcomponents {
            inner: Pieces::new(self.text.as_bytes(), self.start, self.end, self.sep(), None),
            parent: *self,
        }
    }

    /// Subcomponent `n` (1-based).
    pub fn subcomponent(&self, n: usize) -> Option<Subcomponent<'a>> {
        self.subcomponents().nth(n.checked_sub(1)?)
    }

    /// Number of subcomponents (1 when there is no subcomponent separator).
    pub fn subcomponent_count(&self) -> usize {
        count_pieces(self.raw(), self.sep())
    }

    /// Where the component is.
    pub fn location(&self) -> Location {
        Location {
            segment_index: self.seg.index as usize + 1,
            segment_id: self.seg.id(self.text).into(),
            field: Some(self.field as usize),
            repetition: Some(self.rep as usize),
            component: Some(self.number()),
            byte_offset: self.start,
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
        let (start, end, number, _) = self.inner.next()?;
        Some(Subcomponent {
            text: self.parent.text,
            start,
            end,
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
#[derive(Clone, Copy)]
pub struct Subcomponent<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    number: u32,
    comp: u32,
    rep: u32,
    field: u32,
    seg: SegCtx,
    delimiters: Delimiters,
    literal: bool,
}

view_traits!(Subcomponent { comp, rep, field; });

impl<'a> Subcomponent<'a> {
    common_methods!();

    /// Where the subcomponent is.
    pub fn location(&self) -> Location {
        Location {
            segment_index: self.seg.index as usize + 1,
            segment_id: self.seg.id(self.text).into(),
            field: Some(self.field as usize),
            repetition: Some(self.rep as usize),
            component: Some(self.comp as usize),
            subcomponent: Some(self.number()),
            byte_offset: self.start,
        }
    }
}
