//! The hub generated code names everything through.
//!
//! Generated code writes `::hl7_runtime::codegen::Text`, `::hl7_runtime::codegen::Option` and so
//! on, never a bare name: HL7 has types called `ST`, `ID` and `TS`, and users have their own
//! `Result`. Not meant for hand-written code; its contents follow the generator.

#[doc(hidden)]
pub use ::core::default::Default;
#[doc(hidden)]
pub use ::core::option::Option;
#[doc(hidden)]
pub use ::std::boxed::Box;
#[doc(hidden)]
pub use ::std::vec::Vec;

pub use crate::crosswalk::{
    Code as CrosswalkCode, Crosswalk, Policy as CrosswalkPolicy, Row as CrosswalkRow,
    TableRef as CrosswalkTable,
};
pub use crate::er7::{
    Delimiters, Message as Er7Message, ParseError, Segment as Er7Segment, Writer,
};
pub use crate::rules::table_index;
pub use crate::rules::{
    Condition, ElementRule, GroupRule, MessageRule, NodeKind, NodeRule, Place, Predicate,
    Primitive, SegmentRule, TableKind, TableRule, Usage,
};
pub use crate::typed::{
    decode_group_node, decode_segment_node, split, ChildWriter, DecodeContext, Element, GroupType,
    Level, MessageType, Node, NodeSlot, Parsed, ReadError, SegmentType, Slot,
};
pub use crate::typed::{CompositeView, GroupView, MessageView, SegmentView};
pub use crate::types::{Date, DateTime, Number, SequenceId, Text, Time, Varies};
pub use crate::validate::{Matched, MatchedGroup, Occurrences, Problem};
pub use crate::NonEmpty;
pub use hl7_macros::{Composite, Group, Message, Segment};
