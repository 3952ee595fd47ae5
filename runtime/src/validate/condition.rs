//! Evaluating the predicates of conditional (`C`/`CE`) elements.

use crate::er7::{Delimiters, Segment};
use crate::rules::{Condition, ElementRule, Place, Usage};

/// What a condition can see: the element's siblings (by position) and its segment.
pub(crate) struct Scope<'s, 'a> {
    /// Raw text of sibling `n` (1-based), empty when absent.
    pub(crate) sibling: &'s dyn Fn(u16) -> &'a str,
    pub(crate) segment: &'s Segment<'a>,
    pub(crate) delimiters: Delimiters,
}

/// The usage that applies to `rule` here: its own, or its predicate's answer. `None` when the
/// condition cannot be evaluated here (it looks at another segment): then nothing is checked.
pub(crate) fn effective_usage(rule: &ElementRule, scope: &Scope<'_, '_>) -> Option<Usage> {
    if !matches!(rule.usage, Usage::C | Usage::CE) {
        return Some(rule.usage);
    }
    let predicate = rule.predicate?;
    let holds = evaluate(&predicate.condition, scope)?;
    Some(if holds {
        predicate.when_true
    } else {
        predicate.when_false
    })
}

fn evaluate(condition: &Condition, scope: &Scope<'_, '_>) -> Option<bool> {
    Some(match condition {
        Condition::Valued(place) => !value(place, scope)?.is_empty(),
        Condition::Equals(place, expected) => {
            crate::er7::escape::decode(value(place, scope)?, &scope.delimiters) == *expected
        }
        Condition::Not(inner) => !evaluate(inner, scope)?,
        Condition::All(all) => {
            let mut result = true;
            for c in *all {
                result &= evaluate(c, scope)?;
            }
            result
        }
        Condition::Any(any) => {
            let mut result = false;
            for c in *any {
                result |= evaluate(c, scope)?;
            }
            result
        }
    })
}

fn value<'a>(place: &Place, scope: &Scope<'_, 'a>) -> Option<&'a str> {
    match *place {
        Place::Sibling(n) => Some((scope.sibling)(n)),
        Place::Field {
            segment,
            field,
            component,
            subcomponent,
        } => {
            if segment != scope.segment.id() {
                return None;
            }
            let Some(field) = scope.segment.field(usize::from(field)) else {
                return Some("");
            };
            let raw = field.raw();
            if component == 0 {
                return Some(raw);
            }
            let d = &scope.delimiters;
            let first = raw.split(d.repetition as char).next().unwrap_or("");
            let comp = first
                .split(d.component as char)
                .nth(usize::from(component) - 1)
                .unwrap_or("");
            if subcomponent == 0 {
                return Some(comp);
            }
            let sub = d.subcomponent.map_or("", |s| {
                comp.split(s as char)
                    .nth(usize::from(subcomponent) - 1)
                    .unwrap_or("")
            });
            Some(sub)
        }
    }
}
