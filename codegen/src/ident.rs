//! Identifier rules: snake and camel case, keyword escaping, collisions. All naming lives here.

use std::collections::BTreeSet;

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
    "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
    "true", "try", "type", "unsafe", "use", "where", "while", "abstract", "become", "do", "final",
    "macro", "override", "priv", "typeof", "unsized", "virtual", "yield",
];

/// Words of a name: runs of ASCII letters and digits; camel humps split too.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            current.push(c);
        } else {
            prev_lower = false;
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `Patient Identifier List` -> `patient_identifier_list`; keywords get `r#`; a leading digit
/// gets `f_`; an empty name gets `fallback`.
pub(crate) fn snake(name: &str, fallback: &str) -> String {
    let joined = words(name)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    let joined = if joined.is_empty() {
        fallback.to_owned()
    } else {
        joined
    };
    escape(if joined.starts_with(|c: char| c.is_ascii_digit()) {
        format!("f_{joined}")
    } else {
        joined
    })
}

/// `ORU_R01` -> `OruR01`, `PATIENT_RESULT` -> `PatientResult`, `HD_IZ_0361` -> `HdIz0361`.
pub(crate) fn camel(name: &str, fallback: &str) -> String {
    let joined: String = words(name)
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    let joined = if joined.is_empty() {
        fallback.to_owned()
    } else {
        joined
    };
    if joined.starts_with(|c: char| c.is_ascii_digit()) {
        format!("T{joined}")
    } else if joined == "Self" {
        "Self_".to_owned()
    } else {
        joined
    }
}

fn escape(ident: String) -> String {
    match ident.as_str() {
        "self" | "super" | "crate" | "Self" => format!("{ident}_"),
        _ if KEYWORDS.contains(&ident.as_str()) => format!("r#{ident}"),
        _ => ident,
    }
}

/// Names of the Rust prelude (and of the `codegen` hub's own types) that a generated type must
/// not take: a user's `use site::oru_r01::*` would shadow them, and `Err(e)` would mean the ERR
/// segment.
const RESERVED_TYPES: &[&str] = &[
    "Box",
    "Clone",
    "Copy",
    "Default",
    "Drop",
    "Eq",
    "Err",
    "Extend",
    "Fn",
    "FnMut",
    "FnOnce",
    "From",
    "Into",
    "Iterator",
    "None",
    "Ok",
    "Option",
    "Ord",
    "PartialEq",
    "PartialOrd",
    "Result",
    "Send",
    "Sized",
    "Some",
    "String",
    "Sync",
    "ToOwned",
    "ToString",
    "Unpin",
    "Vec",
    "Text",
    "Number",
    "Date",
    "Time",
    "DateTime",
    "Varies",
    "NonEmpty",
    "SequenceId",
];

/// A type name for `name`, with `suffix` added when the plain name is reserved
/// (`Err` segment -> `ErrSegment`, `FN` composite -> `FnType`).
pub(crate) fn type_name(name: &str, fallback: &str, suffix: &str) -> String {
    let plain = camel(name, fallback);
    if RESERVED_TYPES.contains(&plain.as_str()) {
        format!("{plain}{suffix}")
    } else {
        plain
    }
}

/// Hands out names unique within one scope: the second `name` becomes `name_2` (or the
/// caller's own suffix).
#[derive(Default)]
pub(crate) struct Scope {
    taken: BTreeSet<String>,
}

impl Scope {
    /// `preferred` if free, else `preferred` + `suffix`, else numbered.
    pub(crate) fn claim(&mut self, preferred: &str, suffix: &str) -> String {
        if self.taken.insert(preferred.to_owned()) {
            return preferred.to_owned();
        }
        let base = preferred.trim_start_matches("r#");
        let with_suffix = format!("{base}{suffix}");
        if !suffix.is_empty() && self.taken.insert(with_suffix.clone()) {
            return with_suffix;
        }
        (2..)
            .map(|n| format!("{base}{n}"))
            .find(|n| self.taken.insert(n.clone()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            snake("Patient Identifier List", "x"),
            "patient_identifier_list"
        );
        assert_eq!(snake("Type", "x"), "r#type");
        assert_eq!(snake("2nd Line", "x"), "f_2nd_line");
        assert_eq!(snake("  ", "field_3"), "field_3");
        assert_eq!(snake("Set ID - PID", "x"), "set_id_pid");
        assert_eq!(camel("ORU_R01", "X"), "OruR01");
        assert_eq!(camel("HD_IZ_0361", "X"), "HdIz0361");
        assert_eq!(camel("0001", "X"), "T0001");
        assert_eq!(type_name("ERR", "X", "Segment"), "ErrSegment");
        assert_eq!(type_name("FN", "X", "Type"), "FnType");
        assert_eq!(type_name("PID", "X", "Segment"), "Pid");
        let mut scope = Scope::default();
        assert_eq!(scope.claim("nte", "_obx"), "nte");
        assert_eq!(scope.claim("nte", "_obx"), "nte_obx");
        assert_eq!(scope.claim("nte", "_obx"), "nte2");
    }
}
