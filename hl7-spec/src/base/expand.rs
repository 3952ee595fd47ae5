//! Expansion of base definitions into the resolved profile model ([`crate::model`]): every
//! field with its components and subcomponents, usage, cardinality, length, table and name as
//! the base states them, spans pointing into the spec files.

use super::model::{BaseVersion, ComponentDef, FieldDef, SegmentDef, StructureNode, ANY_SEGMENT};
use crate::error::{LoadError, SpecError};
use crate::model::{
    Cardinality, Doc, Element, Group, MessageProfile, MetaData, Node, Segment, Usage,
};
use crate::source::Span;

impl BaseVersion {
    /// Expands a base structure into the resolved profile model: usage and cardinality of every
    /// segment and group, every field with its components (from its data type) and
    /// subcomponents (the components of a composite component's data type; ER7 has no deeper
    /// level), lengths, tables and names. Spans point into the spec files.
    ///
    /// The message type and event come from the structure id (`ADT_A01` -> `ADT`, `A01`), or,
    /// for ids without an event (`ACK`), from the first event that uses the structure, else `ALL`.
    /// A choice group becomes a group whose alternatives are all optional (the profile model has
    /// no choice).
    pub fn to_profile(&self, structure_id: &str) -> Result<MessageProfile, LoadError> {
        let Some(structure) = self.structures.get(structure_id) else {
            let prefix = structure_id.get(..3).unwrap_or(structure_id);
            let similar: Vec<&str> = self
                .structures
                .keys()
                .filter(|id| id.starts_with(prefix))
                .map(String::as_str)
                .collect();
            let error = SpecError::at_span(
                Span::synthetic(),
                format!(
                    "no message structure `{structure_id}` in the HL7 {} base",
                    self.version
                ),
            );
            return Err(if similar.is_empty() {
                error.into()
            } else {
                error
                    .with_help(format!("structures of that type: {}", similar.join(", ")))
                    .into()
            });
        };
        let (msg_type, event_type) = self.type_and_event(structure_id);
        Ok(MessageProfile {
            hl7_version: self.version.clone(),
            profile_type: Some("HL7".to_owned()),
            meta: MetaData {
                name: Some(structure_id.to_owned()),
                ..MetaData::default()
            },
            msg_type,
            event_type,
            structure_id: structure_id.to_owned(),
            role: None,
            event_desc: structure.description.clone(),
            doc: Doc::default(),
            children: self.nodes(&structure.children, false),
            value_sets: Vec::new(),
            span: structure.span.clone(),
        })
    }

    /// One segment, expanded like a segment of [`BaseVersion::to_profile`] (optional, at most
    /// once, spans at the segment's definition). Used to fill segments a profile names but does
    /// not detail.
    pub fn segment_profile(&self, name: &str) -> Option<Segment> {
        let def = self.segments.get(name)?;
        Some(self.segment(def, Usage::O, Cardinality::OPTIONAL, def.span.clone()))
    }

    fn type_and_event(&self, structure_id: &str) -> (String, String) {
        if let Some((msg_type, event)) = structure_id.split_once('_') {
            return (msg_type.to_owned(), event.to_owned());
        }
        let first = self.events.iter().find(|(_, id)| *id == structure_id);
        match first {
            Some(((msg_type, event), _)) => (msg_type.clone(), event.clone()),
            None => (structure_id.to_owned(), "ALL".to_owned()),
        }
    }

    fn nodes(&self, nodes: &[StructureNode], in_choice: bool) -> Vec<Node> {
        nodes
            .iter()
            .map(|node| self.node(node, in_choice))
            .collect()
    }

    fn node(&self, node: &StructureNode, in_choice: bool) -> Node {
        let relax = |usage: &Usage, card: Cardinality| {
            if in_choice {
                (Usage::O, Cardinality { min: 0, ..card })
            } else {
                (usage.clone(), card)
            }
        };
        match node {
            StructureNode::Segment {
                name,
                usage,
                cardinality,
                span,
            } => {
                let (usage, cardinality) = relax(usage, *cardinality);
                Node::Segment(match self.segments.get(name) {
                    Some(def) => self.segment(def, usage, cardinality, span.clone()),
                    None => any_segment(name, usage, cardinality, span.clone()),
                })
            }
            StructureNode::Group {
                name,
                usage,
                cardinality,
                choice,
                children,
                span,
            } => {
                let (usage, cardinality) = relax(usage, *cardinality);
                Node::Group(Group {
                    name: name.clone(),
                    long_name: None,
                    usage,
                    cardinality,
                    doc: Doc::default(),
                    children: self.nodes(children, *choice),
                    span: span.clone(),
                })
            }
        }
    }

    fn segment(
        &self,
        def: &SegmentDef,
        usage: Usage,
        cardinality: Cardinality,
        span: Span,
    ) -> Segment {
        Segment {
            name: def.name.clone(),
            long_name: def.long_name.clone(),
            usage,
            cardinality,
            doc: Doc::default(),
            fields: def.fields.iter().map(|f| self.field(f)).collect(),
            span,
        }
    }

    fn field(&self, f: &FieldDef) -> Element {
        Element {
            position: f.position,
            name: f.name.clone(),
            usage: f.usage.clone(),
            cardinality: f.cardinality,
            datatype: f.datatype.clone(),
            length: f.length,
            table: f.table.clone(),
            constant: None,
            item_no: f.item_no.clone(),
            example_values: Vec::new(),
            doc: Doc::default(),
            children: self.components(&f.datatype, true),
            span: f.span.clone(),
        }
    }

    /// The components of a data type; with `deeper`, each with its own subcomponents.
    fn components(&self, datatype: &str, deeper: bool) -> Vec<Element> {
        let Some(def) = self.datatypes.get(datatype) else {
            return Vec::new();
        };
        def.components
            .iter()
            .map(|c| self.component(c, deeper))
            .collect()
    }

    fn component(&self, c: &ComponentDef, deeper: bool) -> Element {
        let cardinality = if c.usage.is_required() {
            Cardinality::ONE
        } else {
            Cardinality::OPTIONAL
        };
        Element {
            position: c.position,
            name: c.name.clone(),
            usage: c.usage.clone(),
            cardinality,
            datatype: c.datatype.clone(),
            length: c.length,
            table: c.table.clone(),
            constant: None,
            item_no: None,
            example_values: Vec::new(),
            doc: Doc::default(),
            children: if deeper {
                self.components(&c.datatype, false)
            } else {
                Vec::new()
            },
            span: c.span.clone(),
        }
    }
}

/// The `Hxx` placeholder: any segment, no fields known.
fn any_segment(name: &str, usage: Usage, cardinality: Cardinality, span: Span) -> Segment {
    debug_assert_eq!(name, ANY_SEGMENT);
    Segment {
        name: name.to_owned(),
        long_name: Some("Any HL7 segment".to_owned()),
        usage,
        cardinality,
        doc: Doc::default(),
        fields: Vec::new(),
        span,
    }
}
