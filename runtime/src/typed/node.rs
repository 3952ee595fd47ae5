//! Segments, groups and messages of the typed model, and the slots that hold them.

use std::fmt;

use crate::er7::{Message, Segment, Writer};
use crate::rules::{GroupRule, MessageRule, NodeKind, SegmentRule};
use crate::typed::context::DecodeContext;
use crate::typed::view::NodeList;
use crate::validate::{Matched, MatchedGroup, Occurrences};

/// A typed segment, written by `#[derive(Segment)]`.
pub trait SegmentType: Default {
    /// The segment's rules (fields sorted by position, excluded ones included).
    const RULE: SegmentRule;

    /// Reads the segment from its generic view.
    fn decode(segment: &Segment<'_>, ctx: &DecodeContext) -> Self;

    /// Writes the segment, its terminator included.
    fn encode(&self, w: &mut Writer);
}

/// A typed group, written by `#[derive(Group)]`.
pub trait GroupType: Default {
    /// The group's rules.
    const RULE: GroupRule;

    /// Reads the group from where the validator placed its segments.
    fn decode(matched: MatchedGroup<'_>, message: &Message<'_>, ctx: &DecodeContext) -> Self;

    /// Writes the group's segments.
    fn encode(&self, w: &mut Writer);
}

/// A typed message, written by `#[derive(Message)]`.
pub trait MessageType: Default {
    /// The message's rules: its profile.
    const RULE: MessageRule;

    /// Reads the message from where the validator placed its segments.
    fn decode(matched: MatchedGroup<'_>, message: &Message<'_>, ctx: &DecodeContext) -> Self;

    /// Writes the message's segments.
    fn encode(&self, w: &mut Writer);
}

/// A segment or group as a child of a message or group.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a segment or group",
    label = "needs `#[derive(Segment)]` or `#[derive(Group)]`"
)]
pub trait Node: Default {
    /// The segment's or group's rules.
    const NODE: NodeKind;

    /// Reads one occurrence.
    fn decode_node(matched: Matched<'_>, message: &Message<'_>, ctx: &DecodeContext) -> Self;

    /// Writes one occurrence.
    fn encode_node(&self, w: &mut Writer);

    /// The typed view of one occurrence: the generated `XxxView`.
    type View<'v>: Copy + fmt::Debug;

    /// Views one occurrence of the node, or an absent one (`None`).
    fn view_node<'v>(matched: Option<Matched<'v>>, message: &'v Message<'v>) -> Self::View<'v>;
}

impl<T: Node> Node for Box<T> {
    const NODE: NodeKind = T::NODE;

    fn decode_node(matched: Matched<'_>, message: &Message<'_>, ctx: &DecodeContext) -> Self {
        Box::new(T::decode_node(matched, message, ctx))
    }

    fn encode_node(&self, w: &mut Writer) {
        (**self).encode_node(w);
    }

    type View<'v> = T::View<'v>;

    fn view_node<'v>(matched: Option<Matched<'v>>, message: &'v Message<'v>) -> T::View<'v> {
        T::view_node(matched, message)
    }
}

/// Decodes a segment occurrence (used by `#[derive(Segment)]`).
pub fn decode_segment_node<T: SegmentType>(
    matched: Matched<'_>,
    message: &Message<'_>,
    ctx: &DecodeContext,
) -> T {
    match matched {
        Matched::Segment(index) => message
            .segment_at(index)
            .map(|s| T::decode(&s, ctx))
            .unwrap_or_default(),
        Matched::Group(_) => T::default(),
    }
}

/// Decodes a group occurrence (used by `#[derive(Group)]`).
pub fn decode_group_node<T: GroupType>(
    matched: Matched<'_>,
    message: &Message<'_>,
    ctx: &DecodeContext,
) -> T {
    match matched {
        Matched::Group(group) => T::decode(group, message, ctx),
        Matched::Segment(_) => T::default(),
    }
}

/// How a message or group holds a child: `T` (required), `Option<Box<T>>`, or `Vec<T>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a segment or group",
    label = "not a segment or group, nor `Option`, `Vec` or `NonEmpty` of one"
)]
pub trait NodeSlot {
    /// The segment or group inside.
    type Item: Node;

    /// Reads the slot from the occurrences the validator placed.
    fn decode_slot(
        occurrences: Occurrences<'_>,
        message: &Message<'_>,
        ctx: &DecodeContext,
    ) -> Self;

    /// Writes every occurrence.
    fn encode_slot(&self, w: &mut Writer);

    /// The slot's typed view: the node's view (an empty one when the message leaves it out),
    /// an `Option` of it, or [`NodeList`]s.
    type View<'v>;

    /// Views the child's occurrences (`None` in an absent group).
    fn view_slot<'v>(
        occurrences: Option<Occurrences<'v>>,
        message: &'v Message<'v>,
    ) -> Self::View<'v>;
}

impl<T: Node> NodeSlot for T {
    type Item = T;

    fn decode_slot(
        occurrences: Occurrences<'_>,
        message: &Message<'_>,
        ctx: &DecodeContext,
    ) -> Self {
        occurrences
            .first()
            .map(|m| T::decode_node(m, message, ctx))
            .unwrap_or_default()
    }

    fn encode_slot(&self, w: &mut Writer) {
        self.encode_node(w);
    }

    type View<'v> = T::View<'v>;

    fn view_slot<'v>(
        occurrences: Option<Occurrences<'v>>,
        message: &'v Message<'v>,
    ) -> T::View<'v> {
        T::view_node(occurrences.and_then(Occurrences::first), message)
    }
}

impl<T: Node> NodeSlot for Option<T> {
    type Item = T;

    fn decode_slot(
        occurrences: Occurrences<'_>,
        message: &Message<'_>,
        ctx: &DecodeContext,
    ) -> Self {
        occurrences.first().map(|m| T::decode_node(m, message, ctx))
    }

    fn encode_slot(&self, w: &mut Writer) {
        if let Some(node) = self {
            node.encode_node(w);
        }
    }

    type View<'v> = Option<T::View<'v>>;

    fn view_slot<'v>(
        occurrences: Option<Occurrences<'v>>,
        message: &'v Message<'v>,
    ) -> Option<T::View<'v>> {
        let first = occurrences.and_then(Occurrences::first)?;
        Some(T::view_node(Some(first), message))
    }
}

impl<T: Node> NodeSlot for Vec<T> {
    type Item = T;

    fn decode_slot(
        occurrences: Occurrences<'_>,
        message: &Message<'_>,
        ctx: &DecodeContext,
    ) -> Self {
        occurrences
            .iter()
            .map(|m| T::decode_node(m, message, ctx))
            .collect()
    }

    fn encode_slot(&self, w: &mut Writer) {
        for node in self {
            node.encode_node(w);
        }
    }

    type View<'v> = NodeList<'v, T>;

    fn view_slot<'v>(
        occurrences: Option<Occurrences<'v>>,
        message: &'v Message<'v>,
    ) -> NodeList<'v, T> {
        NodeList::new(occurrences, message)
    }
}

impl<T: Node> NodeSlot for crate::NonEmpty<T> {
    type Item = T;

    fn decode_slot(
        occurrences: Occurrences<'_>,
        message: &Message<'_>,
        ctx: &DecodeContext,
    ) -> Self {
        crate::NonEmpty::from_vec(Vec::<T>::decode_slot(occurrences, message, ctx))
            .unwrap_or_default()
    }

    fn encode_slot(&self, w: &mut Writer) {
        for node in self {
            node.encode_node(w);
        }
    }

    type View<'v> = NodeList<'v, T>;

    fn view_slot<'v>(
        occurrences: Option<Occurrences<'v>>,
        message: &'v Message<'v>,
    ) -> NodeList<'v, T> {
        Vec::<T>::view_slot(occurrences, message)
    }
}
