//! The base definitions of one HL7 version, as the bundled spec files state them.

use std::collections::BTreeMap;

use crate::model::{Cardinality, Length, Usage};
use crate::source::Span;

/// Everything one HL7 version defines: data types, segments, message structures, trigger events
/// and tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseVersion {
    /// The HL7 version, e.g. `2.5.1`.
    pub version: String,
    /// Data types by name (`CX`, `ST`, `varies`).
    pub datatypes: BTreeMap<String, DataTypeDef>,
    /// Segments by name (`PID`).
    pub segments: BTreeMap<String, SegmentDef>,
    /// Message structures by id (`ADT_A01`).
    pub structures: BTreeMap<String, StructureDef>,
    /// Trigger events: (message type, event) -> structure id, e.g. (`ADT`, `A04`) -> `ADT_A01`.
    pub events: BTreeMap<(String, String), String>,
    /// Tables by four-digit id (`0001`).
    pub tables: BTreeMap<String, TableDef>,
}

/// A data type: primitive (no components) or composite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTypeDef {
    /// Name, e.g. `CX`.
    pub name: String,
    /// Descriptive name, e.g. `Extended Composite ID with Check Digit`.
    pub long_name: Option<String>,
    /// Components in order; empty for a primitive.
    pub components: Vec<ComponentDef>,
    /// Where the data type is defined.
    pub span: Span,
}

impl DataTypeDef {
    /// True when the data type has no components.
    pub fn is_primitive(&self) -> bool {
        self.components.is_empty()
    }
}

/// A component of a composite data type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentDef {
    /// 1-based component number.
    pub position: u16,
    /// Descriptive name, e.g. `ID Number`.
    pub name: String,
    /// Data type of the component.
    pub datatype: String,
    /// Usage (the sources give `R` or `O`, some versions also `C` and `B`).
    pub usage: Usage,
    /// Maximum length, when the source states it.
    pub length: Option<Length>,
    /// Bound table id, e.g. `0203`.
    pub table: Option<String>,
    /// Where the component is defined.
    pub span: Span,
}

/// A segment and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDef {
    /// Segment id, e.g. `PID`.
    pub name: String,
    /// Descriptive name, e.g. `Patient Identification`.
    pub long_name: Option<String>,
    /// Fields in sequence order.
    pub fields: Vec<FieldDef>,
    /// Where the segment is defined.
    pub span: Span,
}

/// A field of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    /// 1-based field number.
    pub position: u16,
    /// Descriptive name, e.g. `Patient Identifier List`.
    pub name: String,
    /// Data type, e.g. `CX` or `varies`.
    pub datatype: String,
    /// Usage (`R`, `O`, and in some versions `C` and `B`).
    pub usage: Usage,
    /// How often the field may repeat.
    pub cardinality: Cardinality,
    /// Maximum length, when the source states it.
    pub length: Option<Length>,
    /// Bound table id, e.g. `0001`.
    pub table: Option<String>,
    /// HL7 data element number, when the source states it.
    pub item_no: Option<String>,
    /// Where the field is defined.
    pub span: Span,
}

/// A message structure, e.g. `ORU_R01`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureDef {
    /// Structure id, e.g. `ADT_A01`.
    pub id: String,
    /// Description, e.g. `Unsolicited transmission of an observation message`.
    pub description: Option<String>,
    /// Segments and groups in order.
    pub children: Vec<StructureNode>,
    /// Where the structure is defined.
    pub span: Span,
}

/// A segment reference or a segment group inside a structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StructureNode {
    /// A segment; `name` is a segment id, or [`ANY_SEGMENT`] for "any HL7 segment".
    Segment {
        /// Segment id.
        name: String,
        /// `R` when the minimum is 1, else `O`.
        usage: Usage,
        /// How often the segment may occur.
        cardinality: Cardinality,
        /// Where the reference is.
        span: Span,
    },
    /// A named group of segments and groups.
    Group {
        /// Group name without the structure prefix, e.g. `PATIENT_RESULT`.
        name: String,
        /// `R` when the minimum is 1, else `O`.
        usage: Usage,
        /// How often the group may occur.
        cardinality: Cardinality,
        /// True when exactly one of the children occurs (a choice, e.g. 2.5.1 ORM_O01's
        /// `OBRRQDRQ1RXOODSODT_SUPPGRP`), rather than all of them in order.
        choice: bool,
        /// Segments and groups inside, in order.
        children: Vec<StructureNode>,
        /// Where the group is defined.
        span: Span,
    },
}

/// The segment name that stands for "any HL7 segment" in a structure (the standard's `Hxx`, as in
/// the MF group of MFN_M01); it has no segment definition.
pub const ANY_SEGMENT: &str = "Hxx";

impl StructureNode {
    /// Name of the segment or group.
    pub fn name(&self) -> &str {
        match self {
            StructureNode::Segment { name, .. } | StructureNode::Group { name, .. } => name,
        }
    }

    /// Cardinality of the segment or group.
    pub fn cardinality(&self) -> Cardinality {
        match self {
            StructureNode::Segment { cardinality, .. }
            | StructureNode::Group { cardinality, .. } => *cardinality,
        }
    }
}

/// An HL7 table and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// Four-digit id, e.g. `0001`.
    pub id: String,
    /// Name, e.g. `Administrative Sex`.
    pub name: Option<String>,
    /// HL7-defined, user-defined, or not stated.
    pub kind: TableKind,
    /// Which source the values come from (`hl7apy+hl7-dictionary`, `hl7-dictionary`), if any.
    pub source: Option<String>,
    /// The values, in the source's order; empty when no source has them.
    pub values: Vec<TableValue>,
    /// Where the table is defined.
    pub span: Span,
}

impl TableDef {
    /// The value with this code.
    pub fn value(&self, code: &str) -> Option<&TableValue> {
        self.values.iter().find(|v| v.code == code)
    }
}

/// Who defines a table's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// HL7-defined (bound by `ID` fields); `Type="HL7"`.
    Hl7,
    /// User-defined (bound by `IS` fields; sites add codes); `Type="User"`.
    User,
    /// Not stated in the file.
    Unspecified,
}

/// One coded value of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableValue {
    /// The code, e.g. `F`.
    pub code: String,
    /// What it means, e.g. `Female`.
    pub description: Option<String>,
}
