//! What a path resolves to: a view at any level.

use std::borrow::Cow;

use super::escape;
use super::location::Location;
use super::segment::Segment;
use super::view::{Component, Field, Repetition, Subcomponent};

/// What a [`Path`](super::path::Path) resolves to: a view at any level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A whole segment.
    Segment(Segment<'a>),
    /// A field (all repetitions).
    Field(Field<'a>),
    /// One repetition of a field.
    Repetition(Repetition<'a>),
    /// A component.
    Component(Component<'a>),
    /// A subcomponent.
    Subcomponent(Subcomponent<'a>),
}

impl<'a> Item<'a> {
    /// The raw (still escaped) text.
    pub fn raw(&self) -> &'a str {
        match self {
            Item::Segment(v) => v.raw(),
            Item::Field(v) => v.raw(),
            Item::Repetition(v) => v.raw(),
            Item::Component(v) => v.raw(),
            Item::Subcomponent(v) => v.raw(),
        }
    }

    /// Byte offset in the message text.
    pub fn offset(&self) -> usize {
        match self {
            Item::Segment(v) => v.offset(),
            Item::Field(v) => v.offset(),
            Item::Repetition(v) => v.offset(),
            Item::Component(v) => v.offset(),
            Item::Subcomponent(v) => v.offset(),
        }
    }

    /// The text with its escape sequences decoded (delimiters of lower levels stay).
    pub fn decoded(&self) -> Cow<'a, str> {
        match self {
            Item::Segment(v) => escape::decode(v.raw(), &v.delimiters()),
            Item::Field(v) => v.decoded(),
            Item::Repetition(v) => v.decoded(),
            Item::Component(v) => v.decoded(),
            Item::Subcomponent(v) => v.decoded(),
        }
    }

    /// Where the item is.
    pub fn location(&self) -> Location {
        match self {
            Item::Segment(v) => v.location(),
            Item::Field(v) => v.location(),
            Item::Repetition(v) => v.location(),
            Item::Component(v) => v.location(),
            Item::Subcomponent(v) => v.location(),
        }
    }

    /// Whether the raw text is empty.
    pub fn is_empty(&self) -> bool {
        self.raw().is_empty()
    }
}
