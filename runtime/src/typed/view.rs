//! Typed views: a message's profile shape laid over its text, decoded only where it is read.
//!
//! `#[derive(Message)]` on `OruR01` also writes `OruR01View<'m>`, and likewise for every group,
//! segment and composite. A view parse is the generic parse and the one validator, nothing more:
//! no struct is filled and no value is copied, so it costs a fraction of the owned parse in time
//! and memory. Its accessors have the profile's shape (a required element is not an `Option`, a
//! repeating one is [`Repetitions`]) and find their value in the text when called; `decode()`
//! on any view gives the owned type when a value must outlive the text or be changed.
//!
//! What each member's accessor returns is its type's `Element::View`, `Slot::View`,
//! `Node::View` or `NodeSlot::View`: the types here.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::er7::{self, escape, Delimiters, ParseError, Segment, SplitStr};
use crate::typed::{DecodeContext, Element, Level, MessageType, Node, NodeSlot, Parsed, Slot};
use crate::validate::{self, MatchedGroup, MatchedTree, Occurrences};

/// A primitive value in the message text.
pub struct Value<'v, T> {
    raw: &'v str,
    delimiters: Delimiters,
    kind: PhantomData<fn() -> T>,
}

impl<'v, T: Element> Value<'v, T> {
    pub(crate) fn new(raw: &'v str, delimiters: Delimiters) -> Value<'v, T> {
        Value {
            raw,
            delimiters,
            kind: PhantomData,
        }
    }

    /// The value as written, escaped for the message's delimiters.
    pub fn raw(&self) -> &'v str {
        self.raw
    }

    /// True when the message leaves it empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The value with its escape sequences decoded.
    pub fn text(&self) -> Cow<'v, str> {
        escape::decode(self.raw, &self.delimiters)
    }

    /// The value as the owned model's type (`DateTime`, `Number`, ...).
    pub fn decode(&self) -> T {
        T::decode(
            self.raw,
            Level::Subcomponent,
            &DecodeContext::new(self.delimiters),
        )
    }
}

impl<T> Clone for Value<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Value<'_, T> {}

impl<T> fmt::Debug for Value<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.raw, f)
    }
}

/// The decoded text, as [`Value::text`] gives it.
impl<T> fmt::Display for Value<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape::decode(self.raw, &self.delimiters))
    }
}

/// Compares the value as written ([`Value::raw`]): codes and identifiers, which hold no escapes.
impl<T> PartialEq<&str> for Value<'_, T> {
    fn eq(&self, other: &&str) -> bool {
        self.raw == *other
    }
}

/// A composite value in the message text; what a generated composite view wraps.
#[derive(Clone, Copy)]
pub struct CompositeView<'v> {
    raw: &'v str,
    level: Level,
    delimiters: Delimiters,
}

impl<'v> CompositeView<'v> {
    /// Views `raw`, a composite at `level`.
    pub fn new(raw: &'v str, level: Level, delimiters: Delimiters) -> CompositeView<'v> {
        CompositeView {
            raw,
            level,
            delimiters,
        }
    }

    /// The whole value as written, escaped for the message's delimiters.
    pub fn raw(&self) -> &'v str {
        self.raw
    }

    /// True when the message leaves it empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Child `position` (1-based) viewed as `S`, read as the owned model reads it.
    pub fn child<S: Slot>(&self, position: u16) -> S::View<'v> {
        let index = usize::from(position).saturating_sub(1);
        let part = match self.level.child_separator(&self.delimiters) {
            Some(separator) => {
                let pieces = SplitStr::new(self.raw, self.raw, Some(separator), None);
                pieces.map(|(piece, _)| piece).nth(index).unwrap_or("")
            }
            // A composite where no lower level exists: its first child is all of it.
            None if index == 0 => self.raw,
            None => "",
        };
        S::view_slot(part, self.level.child(), self.delimiters)
    }

    /// The value as the owned model's composite `T`.
    pub fn decode<T: Element>(&self) -> T {
        T::decode(self.raw, self.level, &DecodeContext::new(self.delimiters))
    }
}

impl fmt::Debug for CompositeView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.raw, f)
    }
}

/// The repetitions of a field, viewed; a repeating component is one repetition.
pub struct Repetitions<'v, T> {
    raw: &'v str,
    level: Level,
    delimiters: Delimiters,
    kind: PhantomData<fn() -> T>,
}

impl<'v, T: Element> Repetitions<'v, T> {
    pub(crate) fn new(raw: &'v str, level: Level, delimiters: Delimiters) -> Repetitions<'v, T> {
        Repetitions {
            raw,
            level,
            delimiters,
            kind: PhantomData,
        }
    }

    /// Each repetition, empty ones included (they keep their place).
    pub fn iter(&self) -> RepetitionIter<'v, T> {
        let separator = match self.level {
            Level::Field => Some(self.delimiters.repetition),
            Level::Component | Level::Subcomponent => None,
        };
        RepetitionIter {
            pieces: (!self.raw.is_empty())
                .then(|| SplitStr::new(self.raw, self.raw, separator, None)),
            level: self.level,
            delimiters: self.delimiters,
            kind: PhantomData,
        }
    }

    /// How many repetitions the message holds.
    pub fn len(&self) -> usize {
        match (self.raw.is_empty(), self.level) {
            (true, _) => 0,
            (false, Level::Field) => {
                let separator = self.delimiters.repetition;
                self.raw.bytes().filter(|&b| b == separator).count() + 1
            }
            (false, _) => 1,
        }
    }

    /// True when the message holds none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Repetition `index` (0-based).
    pub fn get(&self, index: usize) -> Option<T::View<'v>> {
        self.iter().nth(index)
    }

    /// The first repetition.
    pub fn first(&self) -> Option<T::View<'v>> {
        self.get(0)
    }

    /// Every repetition as the owned model's type.
    pub fn decode(&self) -> Vec<T> {
        let ctx = DecodeContext::new(self.delimiters);
        Vec::<T>::decode_slot(self.raw, self.level, &ctx)
    }
}

impl<T> Clone for Repetitions<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Repetitions<'_, T> {}

impl<T> fmt::Debug for Repetitions<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.raw, f)
    }
}

impl<'v, T: Element> IntoIterator for Repetitions<'v, T> {
    type Item = T::View<'v>;
    type IntoIter = RepetitionIter<'v, T>;

    fn into_iter(self) -> RepetitionIter<'v, T> {
        self.iter()
    }
}

/// The iterator of [`Repetitions::iter`].
pub struct RepetitionIter<'v, T> {
    pieces: Option<SplitStr<'v>>,
    level: Level,
    delimiters: Delimiters,
    kind: PhantomData<fn() -> T>,
}

impl<'v, T: Element> Iterator for RepetitionIter<'v, T> {
    type Item = T::View<'v>;

    fn next(&mut self) -> Option<T::View<'v>> {
        let (piece, _) = self.pieces.as_mut()?.next()?;
        Some(T::view(piece, self.level, self.delimiters))
    }
}

/// A segment in the message, or none (a required one the message leaves out); what a
/// generated segment view wraps.
#[derive(Clone, Copy, Debug)]
pub struct SegmentView<'v> {
    segment: Option<Segment<'v>>,
    delimiters: Delimiters,
}

impl<'v> SegmentView<'v> {
    /// Views `segment`.
    pub fn new(segment: Option<Segment<'v>>, delimiters: Delimiters) -> SegmentView<'v> {
        SegmentView {
            segment,
            delimiters,
        }
    }

    /// The generic view of the segment, for paths the profile does not name.
    pub fn segment(&self) -> Option<Segment<'v>> {
        self.segment
    }

    /// Field `position` viewed as `S`, read as the owned model reads it.
    pub fn field<S: Slot>(&self, position: u16) -> S::View<'v> {
        let n = usize::from(position);
        let field = self.segment.as_ref().and_then(|s| s.field(n));
        // MSH-1 and MSH-2 hold the delimiters: read them whole, never split.
        let level = match field {
            Some(f) if f.literal => Level::Subcomponent,
            _ => Level::Field,
        };
        S::view_slot(field.map_or("", |f| f.raw()), level, self.delimiters)
    }

    /// The segment as the owned model's type `T` (its default when absent).
    pub fn decode<T: crate::typed::SegmentType>(&self) -> T {
        self.segment
            .as_ref()
            .map(|s| T::decode(s, &DecodeContext::new(self.delimiters)))
            .unwrap_or_default()
    }
}

/// A group instance in the message, or none; what a generated group view wraps.
#[derive(Clone, Copy, Debug)]
pub struct GroupView<'v> {
    message: &'v er7::Message<'v>,
    group: Option<MatchedGroup<'v>>,
}

impl<'v> GroupView<'v> {
    /// Views the group instance `group` of `message`.
    pub fn new(message: &'v er7::Message<'v>, group: Option<MatchedGroup<'v>>) -> GroupView<'v> {
        GroupView { message, group }
    }

    /// Child `index` (in rule order) viewed as `S`.
    pub fn child<S: NodeSlot>(&self, index: usize) -> S::View<'v> {
        S::view_slot(self.group.map(|g| g.child(index)), self.message)
    }

    /// The group as the owned model's type `T` (its default when absent).
    pub fn decode<T: crate::typed::GroupType>(&self) -> T {
        let ctx = DecodeContext::new(self.message.delimiters());
        self.group
            .map(|g| T::decode(g, self.message, &ctx))
            .unwrap_or_default()
    }
}

/// The occurrences of a repeating segment or group, viewed.
pub struct NodeList<'v, T> {
    occurrences: Option<Occurrences<'v>>,
    message: &'v er7::Message<'v>,
    kind: PhantomData<fn() -> T>,
}

impl<'v, T: Node> NodeList<'v, T> {
    pub(crate) fn new(occurrences: Option<Occurrences<'v>>, message: &'v er7::Message<'v>) -> Self {
        NodeList {
            occurrences,
            message,
            kind: PhantomData,
        }
    }

    /// How many occurrences.
    pub fn len(&self) -> usize {
        self.occurrences.map_or(0, Occurrences::len)
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// NodeList `index` (0-based).
    pub fn get(&self, index: usize) -> Option<T::View<'v>> {
        let matched = self.occurrences?.get(index)?;
        Some(T::view_node(Some(matched), self.message))
    }

    /// The first occurrence.
    pub fn first(&self) -> Option<T::View<'v>> {
        self.get(0)
    }

    /// Every occurrence, in message order.
    pub fn iter(&self) -> NodeIter<'v, T> {
        NodeIter {
            occurrence: *self,
            next: 0,
        }
    }
}

impl<'v, T: Node> IntoIterator for NodeList<'v, T> {
    type Item = T::View<'v>;
    type IntoIter = NodeIter<'v, T>;

    fn into_iter(self) -> NodeIter<'v, T> {
        self.iter()
    }
}

/// The iterator of [`NodeList::iter`].
pub struct NodeIter<'v, T> {
    occurrence: NodeList<'v, T>,
    next: usize,
}

impl<'v, T: Node> Iterator for NodeIter<'v, T> {
    type Item = T::View<'v>;

    fn next(&mut self) -> Option<T::View<'v>> {
        let view = self.occurrence.get(self.next)?;
        self.next += 1;
        Some(view)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.occurrence.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl<T: Node> ExactSizeIterator for NodeIter<'_, T> {}

impl<T> Clone for NodeList<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for NodeList<'_, T> {}

impl<T> fmt::Debug for NodeList<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.occurrences.map_or(0, Occurrences::len);
        write!(f, "NodeList({count})")
    }
}

/// A message viewed through its profile: the generic view and where the validator placed each
/// segment; what a generated message view wraps.
#[derive(Debug, Clone)]
pub struct MessageView<'m> {
    message: er7::Message<'m>,
    matched: MatchedTree,
}

impl<'m> MessageView<'m> {
    /// The generic view, for paths the profile does not name.
    pub fn message(&self) -> &er7::Message<'m> {
        &self.message
    }

    /// Top-level child `index` (in rule order) viewed as `S`.
    pub fn child<S: NodeSlot>(&self, index: usize) -> S::View<'_> {
        S::view_slot(Some(self.matched.root().child(index)), &self.message)
    }

    /// The message as the owned model's type `M`.
    pub fn decode<M: MessageType>(&self) -> M {
        // One copy of the text that every value of the message shares, as a typed parse makes:
        // cheaper than a copy per value. Its segments are where the view's are.
        let buffer = Arc::new(self.message.text().to_owned());
        let ctx = DecodeContext::shared(self.message.delimiters(), Arc::clone(&buffer));
        match er7::Message::parse(&buffer) {
            Ok(copy) => M::decode(self.matched.root(), &copy, &ctx),
            Err(_) => M::decode(self.matched.root(), &self.message, &ctx),
        }
    }
}

/// Views `text` as `M`, keeping going past profile problems and returning them with the view.
///
/// `text` is the message already decoded ([`er7::decode_bytes`] reads bytes in any MSH-18
/// character set).
pub fn view_lenient<M: MessageType>(text: &str) -> Result<Parsed<MessageView<'_>>, ParseError> {
    let message = er7::Message::parse(text)?;
    let report = validate::validate(&message, &M::RULE);
    Ok(Parsed {
        message: MessageView {
            message,
            matched: report.matched,
        },
        problems: report.problems,
    })
}
