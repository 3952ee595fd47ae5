//! Attribute values shared by the profile and site readers: usage codes, counts, cardinality,
//! length; and the error collector that lets a reader report many problems at once.

use crate::error::{LoadError, SpecError};
use crate::model::{Cardinality, Condition, Length, Usage};
use crate::source::SourceFile;

use super::xml::{XmlAttr, XmlElement};

/// Every usage code, in the order error messages list them.
pub(crate) const USAGE_CODES: &str = "R, RE, O, C, CE, X, B, W";

/// Collects located errors while a reader carries on, like rustc.
pub(crate) struct Diag<'a> {
    /// The file being read.
    pub(crate) file: &'a SourceFile,
    /// Errors so far, with the line and column each points at.
    errors: Vec<((u32, u32), LoadError)>,
}

impl<'a> Diag<'a> {
    /// A collector for `file`.
    pub(crate) fn new(file: &'a SourceFile) -> Diag<'a> {
        Diag {
            file,
            errors: Vec::new(),
        }
    }

    /// A located error at `offset` (not yet recorded).
    pub(crate) fn at(&self, offset: usize, message: impl Into<String>) -> SpecError {
        SpecError::at(self.file, offset, message)
    }

    /// Records an error.
    pub(crate) fn push(&mut self, error: SpecError) {
        let key = (error.span.line, error.span.col);
        self.errors.push((key, error.into()));
    }

    /// Records an error at `offset`.
    pub(crate) fn error(&mut self, offset: usize, message: impl Into<String>) {
        let error = self.at(offset, message);
        self.push(error);
    }

    /// `value` if no error was recorded, else all errors in the order of the file.
    pub(crate) fn finish<T>(mut self, value: T) -> Result<T, LoadError> {
        self.errors.sort_by_key(|(key, _)| *key);
        match LoadError::from_all(self.errors.into_iter().map(|(_, e)| e).collect()) {
            None => Ok(value),
            Some(errors) => Err(errors),
        }
    }

    /// The attribute `name` of `el`, or an error when it is missing.
    pub(crate) fn required<'e>(&mut self, el: &'e XmlElement, name: &str) -> Option<&'e XmlAttr> {
        let attr = el.attr(name);
        if attr.is_none() {
            let error = self
                .at(
                    el.offset,
                    format!("`{}` is missing the required attribute `{name}`", el.name),
                )
                .with_help(format!("add `{name}=\"...\"`"));
            self.push(error);
        }
        attr
    }

    /// Parses a usage code; C and CE get an empty condition.
    pub(crate) fn usage(&mut self, attr: &XmlAttr) -> Option<Usage> {
        let usage = parse_usage(&attr.value);
        if usage.is_none() {
            let mut error = self.at(
                attr.offset,
                format!(
                    "unknown usage `{}`; expected one of {USAGE_CODES}",
                    attr.value
                ),
            );
            let upper = attr.value.trim().to_ascii_uppercase();
            if upper != attr.value && parse_usage(&upper).is_some() {
                error = error.with_help(format!("usage codes are upper case: `{upper}`"));
            }
            self.push(error);
        }
        usage
    }

    /// Parses a non-negative count (`Min`, `Length`, ...).
    pub(crate) fn count(&mut self, attr: &XmlAttr) -> Option<u32> {
        match attr.value.trim().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let error = self
                    .at(
                        attr.offset,
                        format!("`{}` must be a number, found `{}`", attr.name, attr.value),
                    )
                    .with_help(format!(
                        "write a whole number such as `{}=\"1\"`",
                        attr.name
                    ));
                self.push(error);
                None
            }
        }
    }

    /// Parses a bound: a number or `*` (unbounded, `Some(None)`).
    pub(crate) fn bound(&mut self, attr: &XmlAttr) -> Option<Option<u32>> {
        if attr.value.trim() == "*" {
            return Some(None);
        }
        match attr.value.trim().parse::<u32>() {
            Ok(n) => Some(Some(n)),
            Err(_) => {
                let error = self
                    .at(
                        attr.offset,
                        format!(
                            "`{}` must be a number or `*`, found `{}`",
                            attr.name, attr.value
                        ),
                    )
                    .with_help(format!("write `{}=\"*\"` for unbounded", attr.name));
                self.push(error);
                None
            }
        }
    }

    /// Reads `Min`/`Max` of `el`; when absent, the values of `default` (both are required
    /// when there is no default); checks `Min <= Max` and that a required element may occur.
    pub(crate) fn cardinality(
        &mut self,
        el: &XmlElement,
        usage: Option<&Usage>,
        default: Option<Cardinality>,
    ) -> Option<Cardinality> {
        let (min_attr, max_attr) = match default {
            Some(_) => (el.attr("Min"), el.attr("Max")),
            None => (self.required(el, "Min"), self.required(el, "Max")),
        };
        let min = match (min_attr, default) {
            (Some(a), _) => self.count(a),
            (None, Some(d)) => Some(d.min),
            (None, None) => None,
        };
        let max = match (max_attr, default) {
            (Some(a), _) => self.bound(a),
            (None, Some(d)) => Some(d.max),
            (None, None) => None,
        };
        let (min, max) = (min?, max?);
        if let Some(max) = max {
            if min > max {
                let at = min_attr.map_or(el.offset, |a| a.offset);
                let error = self
                    .at(at, format!("`Min` ({min}) is greater than `Max` ({max})"))
                    .with_help("the minimum number of occurrences cannot exceed the maximum");
                self.push(error);
                return None;
            }
            if max == 0 && usage.is_some_and(Usage::is_required) {
                let at = max_attr.map_or(el.offset, |a| a.offset);
                let error = self
                    .at(
                        at,
                        "`Max=\"0\"` contradicts usage `R`: a required element must occur",
                    )
                    .with_help("use `Usage=\"X\"` to forbid the element");
                self.push(error);
                return None;
            }
        }
        Some(Cardinality { min, max })
    }

    /// Reads `Length`, or `MinLength`/`MaxLength` (NIST); `None` when none is stated.
    pub(crate) fn length(&mut self, el: &XmlElement) -> Option<Length> {
        let length = el.attr("Length");
        let min = el.attr("MinLength");
        let max = el.attr("MaxLength");
        if let (Some(_), Some(other)) = (length, max.or(min)) {
            let error = self
                .at(
                    other.offset,
                    format!("both `Length` and `{}` are given", other.name),
                )
                .with_help("use either `Length`, or `MinLength` and `MaxLength`");
            self.push(error);
            return None;
        }
        if let Some(length) = length {
            return Some(Length {
                min: 0,
                max: self.bound(length)?,
            });
        }
        if min.is_none() && max.is_none() {
            return None;
        }
        let min_value = match min {
            Some(a) => self.count(a)?,
            None => 0,
        };
        let max_value = match max {
            Some(a) => self.bound(a)?,
            None => None,
        };
        if let (Some(a), Some(max_value)) = (min, max_value) {
            if min_value > max_value {
                let error = self.at(
                    a.offset,
                    format!("`MinLength` ({min_value}) is greater than `MaxLength` ({max_value})"),
                );
                self.push(error);
                return None;
            }
        }
        Some(Length {
            min: min_value,
            max: max_value,
        })
    }
}

/// Parses a usage code exactly as written (`C`/`CE` with an empty condition).
pub(crate) fn parse_usage(code: &str) -> Option<Usage> {
    Some(match code {
        "R" => Usage::R,
        "RE" => Usage::RE,
        "O" => Usage::O,
        "C" => Usage::C(Condition::default()),
        "CE" => Usage::CE(Condition::default()),
        "X" => Usage::X,
        "B" => Usage::B,
        "W" => Usage::W,
        _ => return None,
    })
}

/// The cardinality a component or subcomponent has when the profile states none.
pub(crate) fn component_cardinality(usage: &Usage) -> Cardinality {
    if usage.is_required() {
        Cardinality::ONE
    } else {
        Cardinality::OPTIONAL
    }
}

/// True for a valid segment ID: three upper-case letters or digits.
pub(crate) fn is_segment_name(name: &str) -> bool {
    name.len() == 3
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}
