//! Run-time rules from a profile loaded at run time: the same rules generated code carries,
//! so `hl7 validate` and a typed parse report the same problems.

use hl7_runtime::rules::{
    fill_table_index, leak, leak_slice, leak_str, table_index_len, Condition, ElementRule,
    GroupRule, MessageRule, NodeKind, NodeRule, Place, Predicate, Primitive, SegmentRule,
    TableRule, Usage,
};
use hl7_spec::{Element, MessageProfile, Node};

use crate::constraints::{self, Cond, PlaceRef, Pred, Tables};

/// Builds the validator's rules for `profile`. The rules are leaked: build them once per profile.
pub fn rules_for(profile: &MessageProfile) -> &'static MessageRule {
    let mut tables = Tables::default();
    let children = nodes(profile, &profile.children, &mut tables);
    leak(MessageRule {
        profile: leak_str(profile.meta.name.clone().unwrap_or_default()),
        version: leak_str(profile.hl7_version.clone()),
        msg_type: leak_str(profile.msg_type.clone()),
        event: leak_str(profile.event_type.clone()),
        structure: leak_str(profile.structure_id.clone()),
        children,
    })
}

fn usage(usage: &hl7_spec::Usage) -> Usage {
    Usage::from_code(constraints::usage_code(usage)).unwrap_or(Usage::O)
}

fn nodes(profile: &MessageProfile, nodes: &[Node], tables: &mut Tables) -> &'static [NodeRule] {
    let rules = nodes
        .iter()
        .filter(|n| !n.usage().is_excluded())
        .map(|node| {
            let kind = match node {
                Node::Segment(segment) => NodeKind::Segment(leak(SegmentRule {
                    id: leak_str(segment.name.clone()),
                    name: leak_str(segment.long_name.clone().unwrap_or_default()),
                    fields: elements(profile, &segment.fields, tables),
                })),
                Node::Group(group) => NodeKind::Group(leak(GroupRule {
                    name: leak_str(group.name.clone()),
                    children: self::nodes(profile, &group.children, tables),
                })),
            };
            let cardinality = node.cardinality();
            NodeRule {
                kind,
                usage: usage(node.usage()),
                min: cardinality.min,
                max: constraints::max_value(cardinality.max),
            }
        })
        .collect();
    leak_slice(rules)
}

fn elements(
    profile: &MessageProfile,
    elements: &[Element],
    tables: &mut Tables,
) -> &'static [ElementRule] {
    let rules = elements
        .iter()
        .map(|e| {
            let table = e
                .table
                .as_ref()
                .filter(|_| constraints::table_checked(e))
                .and_then(|id| {
                    let t = tables.resolve(profile, id)?;
                    let codes: &'static [(&'static str, &'static str)] = leak_slice(
                        t.codes
                            .iter()
                            .map(|(c, d)| (leak_str(c.clone()), leak_str(d.clone())))
                            .collect(),
                    );
                    let mut index = vec![0; table_index_len(codes.len())];
                    fill_table_index(codes, &mut index);
                    Some(leak(TableRule {
                        id: leak_str(t.id.clone()),
                        name: leak_str(t.name.clone()),
                        kind: t.kind,
                        codes,
                        index: leak_slice(index),
                    }))
                });
            let children = self::elements(profile, &e.children, tables);
            ElementRule {
                position: e.position,
                name: leak_str(e.name.clone()),
                usage: usage(&e.usage),
                min: e.cardinality.min,
                max: constraints::max_value(e.cardinality.max),
                datatype: leak_str(e.datatype.clone()),
                primitive: if children.is_empty() {
                    Primitive::for_datatype(&e.datatype)
                } else {
                    Primitive::Composite
                },
                min_length: e.length.map_or(0, |l| l.min),
                max_length: e.length.and_then(|l| l.max),
                table,
                table_id: e.table.clone().map(leak_str),
                constant: e.constant.clone().map(leak_str),
                condition: constraints::condition_text(&e.usage).map(leak_str),
                predicate: constraints::predicate_of(&e.usage).map(|p| leak(predicate(&p))),
                children,
            }
        })
        .collect();
    leak_slice(rules)
}

fn predicate(p: &Pred) -> Predicate {
    let usage = |code: &str| Usage::from_code(code).unwrap_or(Usage::O);
    Predicate {
        condition: condition(&p.condition),
        when_true: usage(p.when_true),
        when_false: usage(p.when_false),
    }
}

fn condition(c: &Cond) -> Condition {
    let place = |p: &PlaceRef| match p {
        PlaceRef::Sibling(n) => Place::Sibling(*n),
        PlaceRef::Field {
            segment,
            field,
            component,
            subcomponent,
        } => Place::Field {
            segment: leak_str(segment.clone()),
            field: *field,
            component: *component,
            subcomponent: *subcomponent,
        },
    };
    match c {
        Cond::Valued(p) => Condition::Valued(place(p)),
        Cond::Equals(p, v) => Condition::Equals(place(p), leak_str(v.clone())),
        Cond::Not(inner) => Condition::Not(leak(condition(inner))),
        Cond::All(all) => Condition::All(leak_slice(all.iter().map(condition).collect())),
        Cond::Any(any) => Condition::Any(leak_slice(any.iter().map(condition).collect())),
    }
}
