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
        let text = normalize(&el.text);
        let expr = text.as_deref().and_then(from_text);
        return (text, expr);
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

/// The expression of a one-clause English predicate, when it has one of the forms profiles use:
/// `If PID-3 is valued`, `if OBX-11 (Observation Result Status) is not D (deleted)`,
/// `Required if PV1-3.1 is not present`, `if MSH-9.1 is "ACK"`. Anything longer (`and`, `or`,
/// several sentences, other segments' relations) stays text only, and is reported as not checked.
pub(crate) fn from_text(text: &str) -> Option<ConditionExpr> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("if ")? + 3;
    let rest = text[start..].trim();
    if [" and ", " or ", ";"]
        .iter()
        .any(|w| lower[start..].contains(w))
    {
        return None;
    }
    let (path, rest) = take_path(rest)?;
    let mut rest = rest.trim_start();
    // An optional name in parentheses: `OBX-11 (Observation Result Status)`.
    if let Some(after) = rest.strip_prefix('(') {
        rest = after.split_once(')')?.1.trim_start();
    }
    let rest = rest.trim_end_matches(['.', ' ']);
    let rest_lower = rest.to_ascii_lowercase();
    let (negated, tail) = if let Some(t) = rest_lower.strip_prefix("is not ") {
        (true, &rest[rest.len() - t.len()..])
    } else if let Some(t) = rest_lower.strip_prefix("is ") {
        (false, &rest[rest.len() - t.len()..])
    } else {
        return None;
    };
    let tail_lower = tail.to_ascii_lowercase();
    let expr = match tail_lower.as_str() {
        "valued" | "present" | "populated" | "sent" => ConditionExpr::Valued(path),
        "empty" | "blank" | "absent" => ConditionExpr::Not(Box::new(ConditionExpr::Valued(path))),
        _ => {
            // A value: quoted, or one code-like word, optionally followed by its meaning in
            // parentheses: `D (deleted)`.
            let value = tail.split_once(" (").map_or(tail, |(v, _)| v).trim();
            let value = value.trim_matches(['"', '\'', '`']);
            let code_like = !value.is_empty()
                && value.len() <= 20
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'^');
            if !code_like {
                return None;
            }
            ConditionExpr::Equals {
                path,
                value: value.to_owned(),
            }
        }
    };
    Some(if negated {
        ConditionExpr::Not(Box::new(expr))
    } else {
        expr
    })
}

/// `PID-3`, `OBX-11`, `PV1-3.1`, `PID-3.4.1` at the start of `text`.
fn take_path(text: &str) -> Option<(String, &str)> {
    let bytes = text.as_bytes();
    let segment_ok = bytes.len() >= 5
        && bytes[0].is_ascii_uppercase()
        && bytes[1..3]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && bytes[3] == b'-';
    if !segment_ok {
        return None;
    }
    let mut end = 4;
    let mut last_digit = false;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || (bytes[end] == b'.' && last_digit)) {
        last_digit = bytes[end].is_ascii_digit();
        end += 1;
    }
    let path = text[..end].trim_end_matches('.');
    (path.len() > 4).then(|| (path.to_owned(), &text[path.len()..]))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<String> {
        from_text(text).map(|e| describe(&e))
    }

    #[test]
    fn english_predicates_of_one_clause() {
        assert_eq!(
            parse("If PID-3 is valued").as_deref(),
            Some("PID-3 is valued")
        );
        assert_eq!(
            parse("Required if PV1-3.1 is not present.").as_deref(),
            Some("PV1-3.1 is not valued")
        );
        assert_eq!(
            parse("If OBX-11 (Observation Result Status) is not D (deleted)").as_deref(),
            Some("not (OBX-11 = \"D\")")
        );
        assert_eq!(
            parse("if MSH-9.1 is \"ACK\"").as_deref(),
            Some("MSH-9.1 = \"ACK\"")
        );
        assert_eq!(
            parse("Either start or stop date or both must be present"),
            None
        );
        assert_eq!(parse("If PID-3 is valued and PID-4 is not"), None);
        assert_eq!(parse("Used to delineate the first component."), None);
        assert_eq!(parse("If the patient is deceased"), None);
    }
}
