//! Values below the segment: primitives, composites, and the slots that hold them in a struct.

use std::fmt;

use crate::er7::{Delimiters, SplitStr, Writer};
use crate::rules::ElementRule;
use crate::typed::context::{translate, DecodeContext};
use crate::typed::view::{Repetitions, Value};
use crate::types::{Date, DateTime, Number, SequenceId, Text, Time, Varies};

/// Where a value sits, which decides the separator between its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A field (one repetition of it): children are components.
    Field,
    /// A component: children are subcomponents.
    Component,
    /// A subcomponent: no children.
    Subcomponent,
}

impl Level {
    /// The level of this level's children.
    pub fn child(self) -> Level {
        match self {
            Level::Field => Level::Component,
            Level::Component | Level::Subcomponent => Level::Subcomponent,
        }
    }

    /// The separator between this level's children, if it has any.
    pub fn child_separator(self, delimiters: &Delimiters) -> Option<u8> {
        match self {
            Level::Field => Some(delimiters.component),
            Level::Component => delimiters.subcomponent,
            Level::Subcomponent => None,
        }
    }

    /// Writes the separator between two children of a value at this level.
    pub fn write_child_separator(self, w: &mut Writer) {
        match self {
            Level::Field => w.component_separator(),
            Level::Component | Level::Subcomponent => w.subcomponent_separator(),
        }
    }
}

/// A value of the typed model: a primitive or a composite datatype.
///
/// Composites are written by `#[derive(Composite)]`; primitives are in [`crate::types`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an HL7 value type",
    label = "not a primitive of `hl7_runtime::types` or a `#[derive(Composite)]` type",
    note = "use `Text`, `Number`, `DateTime`, ... from `hl7_runtime::types`, or a struct with `#[derive(Composite)]`"
)]
pub trait Element: Default {
    /// Rules of the components (of a composite); empty for a primitive.
    const CHILDREN: &'static [ElementRule];

    /// Reads the value from its raw text at `level`.
    fn decode(raw: &str, level: Level, ctx: &DecodeContext) -> Self;

    /// Writes the value at `level`.
    fn encode(&self, w: &mut Writer, level: Level);

    /// True when nothing would be written.
    fn is_empty(&self) -> bool;

    /// The typed view of one value in a message's text: [`Value`] for a primitive, the
    /// generated `XxxView` for a composite.
    type View<'v>: Copy + fmt::Debug;

    /// Views `raw`, a value at `level` of a message written with `delimiters`.
    fn view(raw: &str, level: Level, delimiters: Delimiters) -> Self::View<'_>;
}

fn write_text(text: &Text, w: &mut Writer) {
    if w.delimiters() == Delimiters::DEFAULT {
        w.raw(text.as_raw());
    } else {
        let target = w.delimiters();
        w.raw(&translate(text.as_raw(), &Delimiters::DEFAULT, &target));
    }
}

impl Element for Text {
    const CHILDREN: &'static [ElementRule] = &[];

    fn decode(raw: &str, _level: Level, ctx: &DecodeContext) -> Self {
        ctx.text(raw)
    }

    fn encode(&self, w: &mut Writer, _level: Level) {
        write_text(self, w);
    }

    fn is_empty(&self) -> bool {
        Text::is_empty(self)
    }

    type View<'v> = Value<'v, Text>;

    fn view(raw: &str, _level: Level, delimiters: Delimiters) -> Value<'_, Text> {
        Value::new(raw, delimiters)
    }
}

macro_rules! text_element {
    ($($ty:ty),*) => {$(
        impl Element for $ty {
            const CHILDREN: &'static [ElementRule] = &[];

            fn decode(raw: &str, _level: Level, ctx: &DecodeContext) -> Self {
                Self(ctx.text(raw))
            }

            fn encode(&self, w: &mut Writer, _level: Level) {
                write_text(&self.0, w);
            }

            fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            type View<'v> = Value<'v, $ty>;

            fn view(raw: &str, _level: Level, delimiters: Delimiters) -> Value<'_, $ty> {
                Value::new(raw, delimiters)
            }
        }
    )*};
}

text_element!(Number, SequenceId, Date, Time, DateTime, Varies);

impl<T: Element> Element for Box<T> {
    const CHILDREN: &'static [ElementRule] = T::CHILDREN;

    fn decode(raw: &str, level: Level, ctx: &DecodeContext) -> Self {
        Box::new(T::decode(raw, level, ctx))
    }

    fn encode(&self, w: &mut Writer, level: Level) {
        (**self).encode(w, level);
    }

    fn is_empty(&self) -> bool {
        (**self).is_empty()
    }

    type View<'v> = T::View<'v>;

    fn view(raw: &str, level: Level, delimiters: Delimiters) -> T::View<'_> {
        T::view(raw, level, delimiters)
    }
}

/// How a struct holds an element: `T` (required), `Option<T>`, or `Vec<T>` (repeating).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold an HL7 field or component",
    label = "not an HL7 value, nor `Option`, `Vec` or `NonEmpty` of one",
    note = "a field is `T`, `Option<T>`, `Option<Box<T>>`, `Vec<T>` or `NonEmpty<T>`, where `T` is a primitive of `hl7_runtime::types` or a `#[derive(Composite)]` type"
)]
pub trait Slot {
    /// The element inside.
    type Item: Element;

    /// Reads the slot from the raw text of a field (all repetitions) or of a component.
    fn decode_slot(raw: &str, level: Level, ctx: &DecodeContext) -> Self;

    /// Writes the slot (repetitions separated) at `level`.
    fn encode_slot(&self, w: &mut Writer, level: Level);

    /// True when nothing would be written.
    fn is_empty_slot(&self) -> bool;

    /// The slot's typed view: `T`'s view (empty when the message leaves it out), an `Option`
    /// of it, or [`Repetitions`].
    type View<'v>;

    /// Views `raw`, a field (all its repetitions) or a component, at `level`.
    fn view_slot(raw: &str, level: Level, delimiters: Delimiters) -> Self::View<'_>;
}

fn first_repetition<'a>(raw: &'a str, level: Level, ctx: &DecodeContext) -> &'a str {
    first_repetition_of(raw, level, ctx.delimiters.repetition)
}

/// The first repetition of `raw` when it is a field; a component is one value.
#[inline]
pub(crate) fn first_repetition_of(raw: &str, level: Level, separator: u8) -> &str {
    match level {
        // Most fields hold one repetition of a few bytes: a byte loop beats a call.
        Level::Field => match raw.bytes().position(|b| b == separator) {
            Some(end) => raw.get(..end).unwrap_or(raw),
            None => raw,
        },
        Level::Component | Level::Subcomponent => raw,
    }
}

impl<T: Element> Slot for T {
    type Item = T;

    fn decode_slot(raw: &str, level: Level, ctx: &DecodeContext) -> Self {
        T::decode(first_repetition(raw, level, ctx), level, ctx)
    }

    fn encode_slot(&self, w: &mut Writer, level: Level) {
        self.encode(w, level);
    }

    fn is_empty_slot(&self) -> bool {
        self.is_empty()
    }

    type View<'v> = T::View<'v>;

    fn view_slot(raw: &str, level: Level, delimiters: Delimiters) -> T::View<'_> {
        T::view(
            first_repetition_of(raw, level, delimiters.repetition),
            level,
            delimiters,
        )
    }
}

impl<T: Element> Slot for Option<T> {
    type Item = T;

    fn decode_slot(raw: &str, level: Level, ctx: &DecodeContext) -> Self {
        let first = first_repetition(raw, level, ctx);
        (!first.is_empty()).then(|| T::decode(first, level, ctx))
    }

    fn encode_slot(&self, w: &mut Writer, level: Level) {
        if let Some(value) = self {
            value.encode(w, level);
        }
    }

    fn is_empty_slot(&self) -> bool {
        self.as_ref().is_none_or(T::is_empty)
    }

    type View<'v> = Option<T::View<'v>>;

    fn view_slot(raw: &str, level: Level, delimiters: Delimiters) -> Option<T::View<'_>> {
        let first = first_repetition_of(raw, level, delimiters.repetition);
        (!first.is_empty()).then(|| T::view(first, level, delimiters))
    }
}

impl<T: Element> Slot for Vec<T> {
    type Item = T;

    fn decode_slot(raw: &str, level: Level, ctx: &DecodeContext) -> Self {
        if raw.is_empty() {
            return Vec::new();
        }
        match level {
            Level::Field => {
                // Exactly as many slots as repetitions: no spare capacity is kept.
                let separator = ctx.delimiters.repetition;
                let count = raw.bytes().filter(|&b| b == separator).count() + 1;
                let mut values = Vec::with_capacity(count);
                values.extend(
                    ctx.split(raw, separator)
                        .map(|rep| T::decode(rep, level, ctx)),
                );
                values
            }
            Level::Component | Level::Subcomponent => vec![T::decode(raw, level, ctx)],
        }
    }

    fn encode_slot(&self, w: &mut Writer, level: Level) {
        encode_repetitions(self, w, level);
    }

    fn is_empty_slot(&self) -> bool {
        self.iter().all(T::is_empty)
    }

    type View<'v> = Repetitions<'v, T>;

    fn view_slot(raw: &str, level: Level, delimiters: Delimiters) -> Repetitions<'_, T> {
        Repetitions::new(raw, level, delimiters)
    }
}

impl<T: Element> Slot for crate::NonEmpty<T> {
    type Item = T;

    fn decode_slot(raw: &str, level: Level, ctx: &DecodeContext) -> Self {
        crate::NonEmpty::from_vec(Vec::<T>::decode_slot(raw, level, ctx)).unwrap_or_default()
    }

    fn encode_slot(&self, w: &mut Writer, level: Level) {
        encode_repetitions(self, w, level);
    }

    fn is_empty_slot(&self) -> bool {
        self.iter().all(T::is_empty)
    }

    type View<'v> = Repetitions<'v, T>;

    fn view_slot(raw: &str, level: Level, delimiters: Delimiters) -> Repetitions<'_, T> {
        Vec::<T>::view_slot(raw, level, delimiters)
    }
}

/// Writes repetitions separated; empty trailing repetitions carry no meaning and are left out,
/// empty inner ones keep their place.
fn encode_repetitions<T: Element>(values: &[T], w: &mut Writer, level: Level) {
    let used = values
        .iter()
        .rposition(|v| !v.is_empty())
        .map_or(0, |i| i + 1);
    for (i, value) in values[..used].iter().enumerate() {
        if i > 0 {
            w.repetition_separator();
        }
        value.encode(w, level);
    }
}

/// Splits `raw` at every `separator` byte (ASCII, so the split is on char boundaries).
pub fn split(raw: &str, separator: u8) -> impl Iterator<Item = &str> + '_ {
    SplitStr::new(raw, raw, Some(separator), None).map(|(piece, _)| piece)
}

/// Writes the children of a composite in position order, with separators only where a later
/// child is valued: trailing empty components are not written.
pub struct ChildWriter<'w> {
    w: &'w mut Writer,
    level: Level,
    cursor: u16,
}

impl<'w> ChildWriter<'w> {
    /// Starts writing the children of a value at `level`.
    pub fn new(w: &'w mut Writer, level: Level) -> ChildWriter<'w> {
        ChildWriter {
            w,
            level,
            cursor: 1,
        }
    }

    /// Writes the child at `position` (1-based, increasing) if it is valued.
    pub fn child<S: Slot>(&mut self, position: u16, slot: &S) {
        if slot.is_empty_slot() {
            return;
        }
        if self.level == Level::Subcomponent {
            // No deeper level exists: only the first child can be written.
            if position == 1 {
                slot.encode_slot(self.w, self.level);
            }
            return;
        }
        while self.cursor < position {
            self.level.write_child_separator(self.w);
            self.cursor += 1;
        }
        slot.encode_slot(self.w, self.level.child());
    }
}
