//! The values the validator isolates, handed on to whoever builds something from them.
//!
//! Checking a segment splits it down to every valued field, repetition, component and
//! subcomponent. A typed parse reads its struct from those same pieces as the validator reaches
//! them, instead of splitting the segment a second time.

/// What the receiver of a [`Value`] is to do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// `raw` is the whole value at this place: read all of it.
    Whole,
    /// The validator goes on into the parts of `raw` (or `raw` is an empty repetition): the
    /// value exists, its parts follow as their own values.
    Open,
}

/// One value of a segment as the validator reached it.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    /// 1-based field number.
    pub field: u16,
    /// 1-based repetition; 0 when `raw` is the whole field, every repetition.
    pub repetition: u32,
    /// Component, then subcomponent, below the repetition: as deep as the value sits.
    pub path: &'a [u16],
    /// The value's raw (escaped) text, a slice of the message.
    pub raw: &'a str,
    /// Read it, or only note that it exists.
    pub put: Put,
}

/// Receives the values of one segment, in message order.
pub trait ValueSink {
    /// Takes one value.
    fn value(&mut self, value: Value<'_>);
}

/// Validation alone: the values go nowhere.
pub(crate) struct Discard;

impl ValueSink for Discard {
    #[inline(always)]
    fn value(&mut self, _: Value<'_>) {}
}
