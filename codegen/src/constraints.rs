//! What the profile model says of one element, in the terms the rules use; shared by the
//! generator and by run-time rules, so both describe a profile the same way.

use std::collections::BTreeMap;

use hl7_runtime::rules::{Primitive, TableKind};
use hl7_spec::base::{self, BaseVersion};
use hl7_spec::{Element, MessageProfile, Usage};

/// `max` of a cardinality as the rules write it.
pub(crate) fn max_value(max: Option<u32>) -> u32 {
    max.unwrap_or(u32::MAX)
}

/// The usage code of the rules; conditions are kept as text beside it.
pub(crate) fn usage_code(usage: &Usage) -> &'static str {
    usage.code()
}

/// The predicate text of a conditional usage.
pub(crate) fn condition_text(usage: &Usage) -> Option<String> {
    let condition = usage.condition()?;
    condition
        .text
        .clone()
        .or_else(|| condition.expr.as_ref().map(|e| format!("{e:?}")))
}

/// The base datatype of a flavour: `CE_IZ` -> `CE`, `HD_IZ_0361` -> `HD`.
pub(crate) fn base_datatype(datatype: &str) -> &str {
    datatype.split('_').next().unwrap_or(datatype)
}

/// The Rust type of a primitive element, as a path under `::hl7_runtime::codegen`.
pub(crate) fn primitive_type(datatype: &str) -> &'static str {
    match Primitive::for_datatype(datatype) {
        Primitive::Number => "Number",
        Primitive::SequenceId => "SequenceId",
        Primitive::Date => "Date",
        Primitive::Time => "Time",
        Primitive::DateTime => "DateTime",
        Primitive::Varies => "Varies",
        Primitive::Text | Primitive::Composite => "Text",
    }
}

/// True when a table bound to an element of this datatype is checked value by value: coded
/// primitives (ID, IS) and coded composites (CE, CWE, CNE: their identifier).
pub(crate) fn table_checked(element: &Element) -> bool {
    let base = base_datatype(&element.datatype).to_ascii_uppercase();
    if element.is_composite() {
        matches!(base.as_str(), "CE" | "CWE" | "CNE")
    } else {
        matches!(base.as_str(), "ID" | "IS")
    }
}

/// A table with known codes, ready to emit.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedTable {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: TableKind,
    /// Sorted by code, deduplicated.
    pub(crate) codes: Vec<(String, String)>,
}

/// Tables of a site: the profiles' own value sets first, then each profile's base version.
#[derive(Default)]
pub(crate) struct Tables {
    resolved: BTreeMap<String, Option<ResolvedTable>>,
}

impl Tables {
    /// Resolves `id` as seen from `profile`; `None` when no codes are known.
    pub(crate) fn resolve(&mut self, profile: &MessageProfile, id: &str) -> Option<&ResolvedTable> {
        if !self.resolved.contains_key(id) {
            let table = from_profile(profile, id).or_else(|| from_base(&profile.hl7_version, id));
            self.resolved.insert(id.to_owned(), table);
        }
        self.resolved.get(id).and_then(Option::as_ref)
    }

    /// Every resolved table, sorted by id.
    pub(crate) fn all(&self) -> impl Iterator<Item = &ResolvedTable> {
        self.resolved.values().flatten()
    }
}

fn from_profile(profile: &MessageProfile, id: &str) -> Option<ResolvedTable> {
    let set = profile.value_sets.iter().find(|v| v.id == id)?;
    let codes = set
        .values
        .iter()
        .map(|c| (c.code.clone(), c.description.clone().unwrap_or_default()))
        .collect();
    Some(ResolvedTable {
        id: id.to_owned(),
        name: set.name.clone().unwrap_or_default(),
        kind: TableKind::Site,
        codes: sorted(codes),
    })
}

fn from_base(version: &str, id: &str) -> Option<ResolvedTable> {
    let base: &BaseVersion = base::load(version).ok()?;
    let table = base.table(id)?;
    if table.values.is_empty() {
        return None;
    }
    let codes = table
        .values
        .iter()
        .map(|v| (v.code.clone(), v.description.clone().unwrap_or_default()))
        .collect();
    Some(ResolvedTable {
        id: id.to_owned(),
        name: table.name.clone().unwrap_or_default(),
        kind: match table.kind {
            base::TableKind::Hl7 => TableKind::Hl7,
            _ => TableKind::User,
        },
        codes: sorted(codes),
    })
}

fn sorted(mut codes: Vec<(String, String)>) -> Vec<(String, String)> {
    codes.sort();
    codes.dedup_by(|a, b| a.0 == b.0);
    codes
}

/// An evaluable predicate, as the rules take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pred {
    pub(crate) condition: Cond,
    pub(crate) when_true: &'static str,
    pub(crate) when_false: &'static str,
}

/// A condition on elements of the same segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    Valued(PlaceRef),
    Equals(PlaceRef, String),
    Not(Box<Cond>),
    All(Vec<Cond>),
    Any(Vec<Cond>),
}

/// `./2` (a sibling) or `PID-3.1` (a segment's element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlaceRef {
    Sibling(u16),
    Field {
        segment: String,
        field: u16,
        component: u16,
        subcomponent: u16,
    },
}

/// The evaluable predicate of a `C`/`CE` usage, when its condition has a clear form; the HL7
/// defaults apply where the profile states no true/false usage (`C`: R or X; `CE`: RE or X).
pub(crate) fn predicate_of(usage: &hl7_spec::Usage) -> Option<Pred> {
    let condition = usage.condition()?;
    let cond = cond_of(condition.expr.as_ref()?)?;
    let default_true = if matches!(usage, hl7_spec::Usage::CE(_)) {
        "RE"
    } else {
        "R"
    };
    let code = |given: &Option<String>, default: &'static str| -> Option<&'static str> {
        match given.as_deref() {
            None => Some(default),
            Some(code) => ["R", "RE", "O", "X", "B", "W"]
                .into_iter()
                .find(|c| *c == code.trim()),
        }
    };
    Some(Pred {
        condition: cond,
        when_true: code(&condition.true_usage, default_true)?,
        when_false: code(&condition.false_usage, "X")?,
    })
}

fn cond_of(expr: &hl7_spec::ConditionExpr) -> Option<Cond> {
    use hl7_spec::ConditionExpr as E;
    Some(match expr {
        E::Valued(path) => Cond::Valued(place_of(path)?),
        E::Equals { path, value } => Cond::Equals(place_of(path)?, value.clone()),
        E::Not(inner) => Cond::Not(Box::new(cond_of(inner)?)),
        E::And(all) => Cond::All(all.iter().map(cond_of).collect::<Option<_>>()?),
        E::Or(any) => Cond::Any(any.iter().map(cond_of).collect::<Option<_>>()?),
    })
}

/// `./2`, `2`, `2[1]` (a sibling), or `PID-3`, `PID-3.1`, `PID-3.1.2`.
fn place_of(path: &str) -> Option<PlaceRef> {
    let path = path.trim();
    let sibling = path.strip_prefix("./").unwrap_or(path);
    let sibling = sibling.strip_suffix("[1]").unwrap_or(sibling);
    if let Ok(n) = sibling.parse::<u16>() {
        return (n > 0).then_some(PlaceRef::Sibling(n));
    }
    let (segment, rest) = path.split_once('-')?;
    if segment.len() != 3
        || !segment
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return None;
    }
    let numbers: Vec<u16> = rest
        .split('.')
        .map(|n| n.parse().ok().filter(|&n| n > 0))
        .collect::<Option<_>>()?;
    let get = |i: usize| numbers.get(i).copied().unwrap_or(0);
    (1..=3).contains(&numbers.len()).then(|| PlaceRef::Field {
        segment: segment.to_owned(),
        field: get(0),
        component: get(1),
        subcomponent: get(2),
    })
}
