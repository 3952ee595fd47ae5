//! Components of a base data type as model elements, for Z-segment fields and for fields whose
//! data type a rule changes (the same expansion as the base's own `to_profile`).

use crate::base::{BaseVersion, ComponentDef};
use crate::model::{Doc, Element};
use crate::profile::values::component_cardinality;

/// The components of `datatype`; with `deeper`, each with its own subcomponents. Empty for a
/// primitive or a data type the base does not know.
pub(crate) fn components(base: &BaseVersion, datatype: &str, deeper: bool) -> Vec<Element> {
    let Some(def) = base.datatypes.get(datatype) else {
        return Vec::new();
    };
    def.components
        .iter()
        .map(|c| component(base, c, deeper))
        .collect()
}

fn component(base: &BaseVersion, c: &ComponentDef, deeper: bool) -> Element {
    Element {
        position: c.position,
        name: c.name.clone(),
        usage: c.usage.clone(),
        cardinality: component_cardinality(&c.usage),
        datatype: c.datatype.clone(),
        length: c.length,
        table: c.table.clone(),
        constant: None,
        item_no: None,
        example_values: Vec::new(),
        doc: Doc::default(),
        children: if deeper {
            components(base, &c.datatype, false)
        } else {
            Vec::new()
        },
        span: c.span.clone(),
    }
}
