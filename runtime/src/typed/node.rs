//! Segments, groups and messages of the typed model, and the slots that hold them.

use crate::er7::{Message, Segment, Writer};
use crate::rules::{GroupRule, MessageRule, NodeKind, NodeRule, SegmentRule};
use crate::typed::context::DecodeContext;
use crate::validate::{self, Matched, MatchedGroup, Occurrences, Value, ValueSink};

/// A typed segment, written by `#[derive(Segment)]`.
pub trait SegmentType: Default {
    /// The segment's rules (fields sorted by position, excluded ones included).
    const RULE: SegmentRule;

    /// Reads the segment from its generic view.
    fn decode(segment: &Segment<'_>, ctx: &DecodeContext) -> Self;

    /// Stores a value of the segment as the validator reached it (see [`Value`]).
    fn put(&mut self, value: Value<'_>, ctx: &DecodeContext);

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
}

impl<T: Node> Node for Box<T> {
    const NODE: NodeKind = T::NODE;

    fn decode_node(matched: Matched<'_>, message: &Message<'_>, ctx: &DecodeContext) -> Self {
        Box::new(T::decode_node(matched, message, ctx))
    }

    fn encode_node(&self, w: &mut Writer) {
        (**self).encode_node(w);
    }
}

/// Decodes a segment occurrence (used by `#[derive(Segment)]`): the validator checks its
/// fields and the segment is read from the values it reaches, in one pass.
pub fn decode_segment_node<T: SegmentType>(
    matched: Matched<'_>,
    message: &Message<'_>,
    ctx: &DecodeContext,
) -> T {
    let mut out = T::default();
    let index = match matched {
        Matched::Segment(index) => Some(index),
        Matched::Group(_) => None,
    };
    if let Some(segment) = index.and_then(|i| message.segment_at(i)) {
        let rule = T::RULE;
        let mut sink = Reader { out: &mut out, ctx };
        ctx.report(|problems| {
            validate::check_segment(message, &segment, &rule, problems, &mut sink);
        });
    }
    out
}

/// Reads a typed segment from the values the validator hands on.
struct Reader<'a, T> {
    out: &'a mut T,
    ctx: &'a DecodeContext,
}

impl<T: SegmentType> ValueSink for Reader<'_, T> {
    #[inline]
    fn value(&mut self, value: Value<'_>) {
        self.out.put(value, self.ctx);
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

/// Decodes child `node` of a group or message (used by `#[derive(Group)]` and
/// `#[derive(Message)]`): what the validator reports of its occurrences comes in the order it
/// reports it when validating alone, occurrences the slot does not hold included.
pub fn decode_child<S: NodeSlot>(
    node: &NodeRule,
    occurrences: Occurrences<'_>,
    message: &Message<'_>,
    ctx: &DecodeContext,
) -> S {
    ctx.report(|problems| validate::check_count(message, node, occurrences, problems));
    let slot = S::decode_slot(occurrences, message, ctx);
    if !S::REPEATS {
        for occurrence in occurrences.iter().skip(1) {
            ctx.report(|problems| validate::check_occurrence(message, node, occurrence, problems));
        }
    }
    slot
}

/// How a message or group holds a child: `T` (required), `Option<Box<T>>`, or `Vec<T>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a segment or group",
    label = "not a segment or group, nor `Option`, `Vec` or `NonEmpty` of one"
)]
pub trait NodeSlot {
    /// The segment or group inside.
    type Item: Node;

    /// Whether the slot holds every occurrence (else the first only).
    const REPEATS: bool;

    /// Reads the slot from the occurrences the validator placed.
    fn decode_slot(
        occurrences: Occurrences<'_>,
        message: &Message<'_>,
        ctx: &DecodeContext,
    ) -> Self;

    /// Writes every occurrence.
    fn encode_slot(&self, w: &mut Writer);
}

impl<T: Node> NodeSlot for T {
    type Item = T;
    const REPEATS: bool = false;

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
}

impl<T: Node> NodeSlot for Option<T> {
    type Item = T;
    const REPEATS: bool = false;

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
}

impl<T: Node> NodeSlot for Vec<T> {
    type Item = T;
    const REPEATS: bool = true;

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
}

impl<T: Node> NodeSlot for crate::NonEmpty<T> {
    type Item = T;
    const REPEATS: bool = true;

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
}
