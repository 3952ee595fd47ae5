//! Predicates of conditional usage: HL7/Messaging Workbench text, or NIST's structured form.
//!
//! NIST writes
//! ```xml
//! <Predicate>
//!   <EnglishDescription>If the HD.2 (Universal ID) is not valued</EnglishDescription>
//!   <Condition><NOT><Valued location="./2"/></NOT></Condition>
//! </Predicate>
//! ```
//! The English text is always kept; the `Condition` becomes a [`ConditionExpr`] when it uses only
//! `NOT`, `AND`, `OR`, `Valued` and case-sensitive `PlainText` (equals). Other forms (`Custom`,
//! `Regex`, `List`, ...) leave the expression empty and the text alone carries the meaning.

use crate::model::ConditionExpr;

use super::xml::{normalize, XmlElement};

/// The text and, when it has a clear form, the expression of a `Predicate` element.
pub(crate) fn read_predicate(el: &XmlElement) -> (Option<String>, Option<ConditionExpr>) {
    if el.children.is_empty() {
        return (normalize(&el.text), None);
    }
    let text = el
        .children
        .iter()
        .find(|c| c.name == "EnglishDescription")
        .and_then(|c| normalize(&c.text))
        .or_else(|| normalize(&el.text));
    let expr = el
        .children
        .iter()
        .find(|c| c.name == "Condition")
        .and_then(|c| match c.children.as_slice() {
            [only] => expression(only),
            _ => None,
        });
    (text, expr)
}

fn expression(el: &XmlElement) -> Option<ConditionExpr> {
    let attr = |name: &str| el.attr(name).map(|a| a.value.trim().to_owned());
    match el.name.as_str() {
        "NOT" => match el.children.as_slice() {
            [only] => Some(ConditionExpr::Not(Box::new(expression(only)?))),
            _ => None,
        },
        "AND" | "OR" if !el.children.is_empty() => {
            let parts = el
                .children
                .iter()
                .map(expression)
                .collect::<Option<Vec<_>>>()?;
            Some(if el.name == "AND" {
                ConditionExpr::And(parts)
            } else {
                ConditionExpr::Or(parts)
            })
        }
        "Valued" => Some(ConditionExpr::Valued(attr("location")?)),
        "PlainText" => {
            let ignore_case = el
                .attr("IgnoreCase")
                .is_some_and(|a| a.value.trim() == "true");
            if ignore_case {
                return None;
            }
            let value = el.attr("value")?.value.clone();
            Some(ConditionExpr::Equals {
                path: attr("location")?,
                value,
            })
        }
        _ => None,
    }
}

/// A readable rendering of an expression, for a predicate that has no text of its own.
pub(crate) fn describe(expr: &ConditionExpr) -> String {
    match expr {
        ConditionExpr::Valued(path) => format!("{path} is valued"),
        ConditionExpr::Equals { path, value } => format!("{path} = \"{value}\""),
        ConditionExpr::Not(inner) => match inner.as_ref() {
            ConditionExpr::Valued(path) => format!("{path} is not valued"),
            other => format!("not ({})", describe(other)),
        },
        ConditionExpr::And(parts) => join(parts, " and "),
        ConditionExpr::Or(parts) => join(parts, " or "),
    }
}

fn join(parts: &[ConditionExpr], sep: &str) -> String {
    parts
        .iter()
        .map(|p| match p {
            ConditionExpr::And(_) | ConditionExpr::Or(_) => format!("({})", describe(p)),
            _ => describe(p),
        })
        .collect::<Vec<_>>()
        .join(sep)
}
