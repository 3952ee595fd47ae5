//! Helpers to compare profiles up to what a round trip may change (spans, structured predicates).

use crate::model::{Element, MessageProfile, Node, Usage};
use crate::source::Span;

/// Sets every span of `profile` to [`Span::synthetic`], so profiles read from different files
/// (or written and read back) compare equal when their content is.
pub fn clear_spans(profile: &mut MessageProfile) {
    profile.span = Span::synthetic();
    for set in &mut profile.value_sets {
        set.span = Span::synthetic();
    }
    for_each_node(&mut profile.children, &mut |node| match node {
        Node::Segment(s) => s.span = Span::synthetic(),
        Node::Group(g) => g.span = Span::synthetic(),
    });
    for_each_element(profile, &mut |el| el.span = Span::synthetic());
}

/// Drops the structured expression of every condition (what [`super::write_profile`] cannot
/// keep); the text and the true/false usages stay.
pub fn clear_condition_exprs(profile: &mut MessageProfile) {
    fn clear(usage: &mut Usage) {
        if let Usage::C(c) | Usage::CE(c) = usage {
            c.expr = None;
        }
    }
    for_each_node(&mut profile.children, &mut |node| match node {
        Node::Segment(s) => clear(&mut s.usage),
        Node::Group(g) => clear(&mut g.usage),
    });
    for_each_element(profile, &mut |el| clear(&mut el.usage));
}

/// Calls `f` on every segment and group, depth first.
pub fn for_each_node(nodes: &mut [Node], f: &mut dyn FnMut(&mut Node)) {
    for node in nodes {
        f(node);
        if let Node::Group(g) = node {
            for_each_node(&mut g.children, f);
        }
    }
}

/// Calls `f` on every field, component and subcomponent of `profile`, depth first.
pub fn for_each_element(profile: &mut MessageProfile, f: &mut dyn FnMut(&mut Element)) {
    fn elements(list: &mut [Element], f: &mut dyn FnMut(&mut Element)) {
        for el in list {
            f(el);
            elements(&mut el.children, f);
        }
    }
    for_each_node(&mut profile.children, &mut |node| {
        if let Node::Segment(s) = node {
            elements(&mut s.fields, f);
        }
    });
}
