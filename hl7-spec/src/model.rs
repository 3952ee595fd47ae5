//! The resolved model of one message profile.
//!
//! Every reader ends here: a standard `HL7v2xConformanceProfile` file, a concise site profile
//! resolved against its base version, or a base structure taken as it is. The generator and the
//! run-time validator consume only this model, so the source format never leaks further.

use std::fmt;

use crate::source::Span;

/// A message profile: one message structure as one site sends or receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageProfile {
    /// HL7 version the profile constrains, e.g. `2.5.1`.
    pub hl7_version: String,
    /// `ProfileType`: `HL7`, `Constrainable` or `Implementation`.
    pub profile_type: Option<String>,
    /// Profile metadata (name, organisation, version, status).
    pub meta: MetaData,
    /// MSH-9.1, e.g. `ORU`.
    pub msg_type: String,
    /// MSH-9.2, e.g. `R01` (`ALL` in some ACK profiles).
    pub event_type: String,
    /// MSH-9.3, the message structure, e.g. `ORU_R01`; may differ from type_event
    /// (`ADT^A31` uses `ADT_A05`).
    pub structure_id: String,
    /// `Sender` or `Receiver`, when stated.
    pub role: Option<String>,
    /// `EventDesc` of the static definition.
    pub event_desc: Option<String>,
    /// Profile-level notes.
    pub doc: Doc,
    /// Segments and groups of the message, in order.
    pub children: Vec<Node>,
    /// Value sets the profile defines itself (site tables); base tables come from the base version.
    pub value_sets: Vec<ValueSet>,
    /// Where the static definition starts.
    pub span: Span,
}

/// A value set (a table of codes) defined by a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSet {
    /// Id elements bind to with `Table`, e.g. `0001` or `ACME_SEX`.
    pub id: String,
    /// Descriptive name.
    pub name: Option<String>,
    /// The allowed codes.
    pub values: Vec<Code>,
    /// Where the value set is declared.
    pub span: Span,
}

/// One code of a value set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The code as sent, e.g. `F`.
    pub code: String,
    /// What it means, e.g. `Female`.
    pub description: Option<String>,
}

/// Profile metadata (`MetaData` element).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaData {
    /// `Name`.
    pub name: Option<String>,
    /// `OrgName`.
    pub org_name: Option<String>,
    /// `Version`.
    pub version: Option<String>,
    /// `Status`.
    pub status: Option<String>,
    /// `Topics`.
    pub topics: Option<String>,
}

/// A child of a message or group: a segment or a segment group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A segment reference with its constraints.
    Segment(Segment),
    /// A named group of segments and groups.
    Group(Group),
}

impl Node {
    /// Name of the segment (`PID`) or group (`PATIENT_RESULT`).
    pub fn name(&self) -> &str {
        match self {
            Node::Segment(s) => &s.name,
            Node::Group(g) => &g.name,
        }
    }

    /// Usage of the segment or group.
    pub fn usage(&self) -> &Usage {
        match self {
            Node::Segment(s) => &s.usage,
            Node::Group(g) => &g.usage,
        }
    }

    /// Cardinality of the segment or group.
    pub fn cardinality(&self) -> Cardinality {
        match self {
            Node::Segment(s) => s.cardinality,
            Node::Group(g) => g.cardinality,
        }
    }

    /// Where the element is declared.
    pub fn span(&self) -> &Span {
        match self {
            Node::Segment(s) => &s.span,
            Node::Group(g) => &g.span,
        }
    }
}

/// A segment group (`SegGroup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Group name, e.g. `PATIENT_RESULT`.
    pub name: String,
    /// Descriptive name, when the profile gives one.
    pub long_name: Option<String>,
    /// Usage of the group.
    pub usage: Usage,
    /// How often the group may occur.
    pub cardinality: Cardinality,
    /// Notes.
    pub doc: Doc,
    /// Segments and groups inside, in order.
    pub children: Vec<Node>,
    /// Where the group is declared.
    pub span: Span,
}

/// A segment as the profile constrains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Segment ID, e.g. `PID` or `ZBE`.
    pub name: String,
    /// Descriptive name, e.g. `Patient Identification`.
    pub long_name: Option<String>,
    /// Usage of the segment.
    pub usage: Usage,
    /// How often the segment may occur.
    pub cardinality: Cardinality,
    /// Notes.
    pub doc: Doc,
    /// Fields in sequence order; `position` is the field number.
    pub fields: Vec<Element>,
    /// Where the segment is declared.
    pub span: Span,
}

/// A field, component or subcomponent.
///
/// Fields carry a cardinality; components and subcomponents have `0..1` or `1..1` by usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// 1-based position: field number, component number or subcomponent number.
    pub position: u16,
    /// Descriptive name, e.g. `Patient Identifier List`.
    pub name: String,
    /// Usage.
    pub usage: Usage,
    /// How often the element may repeat (fields only; components are `0..1` or `1..1`).
    pub cardinality: Cardinality,
    /// Datatype as the profile states it, e.g. `CX`, `HD_IZ_0361` or `varies`.
    pub datatype: String,
    /// Allowed length, when stated.
    pub length: Option<Length>,
    /// Bound table or value set, kept as an opaque id (`0001`, `HL70396`, `CVX`).
    pub table: Option<String>,
    /// A value the element must have (`ConstantValue`).
    pub constant: Option<String>,
    /// HL7 data element number (`ItemNo`), when stated.
    pub item_no: Option<String>,
    /// Example values (`DataValues ExValue`).
    pub example_values: Vec<String>,
    /// Notes.
    pub doc: Doc,
    /// Components (of a field) or subcomponents (of a component); empty for a primitive.
    pub children: Vec<Element>,
    /// Where the element is declared.
    pub span: Span,
}

impl Element {
    /// True when the element has components (or subcomponents) of its own.
    pub fn is_composite(&self) -> bool {
        !self.children.is_empty()
    }
}

/// Documentation carried by profile elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Doc {
    /// `Description`.
    pub description: Option<String>,
    /// `ImpNote`: implementation note.
    pub imp_note: Option<String>,
    /// `Reference` into the standard, e.g. `2.15.9.1`.
    pub reference: Option<String>,
}

/// How an element is used (HL7 v2 conformance usage codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Usage {
    /// Required.
    R,
    /// Required, but may be empty.
    RE,
    /// Optional.
    O,
    /// Conditional: required when the predicate holds, else excluded (v2.5 meaning) or as stated.
    C(Condition),
    /// Conditional, but may be empty.
    CE(Condition),
    /// Not supported: must not be sent.
    X,
    /// Retained for backward compatibility.
    B,
    /// Withdrawn (seen in NIST profiles).
    W,
}

impl Usage {
    /// The code as written in profiles.
    pub fn code(&self) -> &'static str {
        match self {
            Usage::R => "R",
            Usage::RE => "RE",
            Usage::O => "O",
            Usage::C(_) => "C",
            Usage::CE(_) => "CE",
            Usage::X => "X",
            Usage::B => "B",
            Usage::W => "W",
        }
    }

    /// True when the element must be valued (`R`).
    pub fn is_required(&self) -> bool {
        matches!(self, Usage::R)
    }

    /// True when the element must not be sent (`X`, and withdrawn `W`).
    pub fn is_excluded(&self) -> bool {
        matches!(self, Usage::X | Usage::W)
    }

    /// The condition of a `C`/`CE` usage.
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            Usage::C(c) | Usage::CE(c) => Some(c),
            _ => None,
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The predicate of a conditional usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    /// The predicate as text (`Predicate` element, or NIST's `EnglishDescription`).
    pub text: Option<String>,
    /// Usage when the predicate holds (NIST `PredicateTrueUsage`), if stated.
    pub true_usage: Option<String>,
    /// Usage when the predicate does not hold (NIST `PredicateFalseUsage`), if stated.
    pub false_usage: Option<String>,
    /// The structured condition, when the profile gives one in a machine-readable form.
    pub expr: Option<ConditionExpr>,
}

/// A machine-readable predicate (NIST's structured `Condition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionExpr {
    /// The element at the path (relative to the parent, e.g. `./2`, or absolute `PID-3`) is valued.
    Valued(String),
    /// The element at the path has the given value.
    Equals {
        /// Location path.
        path: String,
        /// Expected value.
        value: String,
    },
    /// Negation.
    Not(Box<ConditionExpr>),
    /// All of them.
    And(Vec<ConditionExpr>),
    /// Any of them.
    Or(Vec<ConditionExpr>),
}

/// Minimum and maximum occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cardinality {
    /// Minimum occurrences.
    pub min: u32,
    /// Maximum occurrences; `None` is unbounded (`*`).
    pub max: Option<u32>,
}

impl Cardinality {
    /// `1..1`.
    pub const ONE: Cardinality = Cardinality {
        min: 1,
        max: Some(1),
    };
    /// `0..1`.
    pub const OPTIONAL: Cardinality = Cardinality {
        min: 0,
        max: Some(1),
    };

    /// True when more than one occurrence is allowed.
    pub fn repeats(&self) -> bool {
        self.max != Some(1) && self.max != Some(0)
    }
}

impl fmt::Display for Cardinality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(max) => write!(f, "[{}..{max}]", self.min),
            None => write!(f, "[{}..*]", self.min),
        }
    }
}

/// Allowed length of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Length {
    /// Minimum length (`MinLength`), 0 when not stated.
    pub min: u32,
    /// Maximum length (`Length` or `MaxLength`); `None` when unbounded (`*`).
    pub max: Option<u32>,
}

impl fmt::Display for Length {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (0, Some(max)) => write!(f, "{max}"),
            (min, Some(max)) => write!(f, "{min}..{max}"),
            (min, None) => write!(f, "{min}..*"),
        }
    }
}
