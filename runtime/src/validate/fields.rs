//! Checks of one segment's fields, components and subcomponents against their rules.

use crate::er7::{escape, Delimiters, Location, Segment, SplitStr};
use crate::rules::{ElementRule, Primitive, SegmentRule, TableKind, TableRule, Usage};
use crate::typed::Level;
use crate::validate::condition::{effective_usage, Scope};
use crate::validate::format;
use crate::validate::problem::{Problem, ProblemKind, Severity};

/// Checks the fields of `segment` against `rule`.
///
/// One pass over the fields (rules are sorted by position); locations are built only when a
/// problem is reported, so a conformant segment allocates nothing.
pub(crate) fn check_segment(
    segment: &Segment<'_>,
    rule: &SegmentRule,
    message_text: &str,
    problems: &mut Vec<Problem>,
) {
    let delimiters = segment.delimiters();
    let header = matches!(segment.id(), "MSH" | "FHS" | "BHS");
    let mut checker = Checker {
        delimiters,
        text: message_text,
        segment,
        problems,
    };
    let mut fields = segment.field_spans();
    let mut pending = fields.next();
    for field_rule in rule.fields {
        let position = u32::from(field_rule.position);
        while pending.is_some_and(|f| f.number < position) {
            pending = fields.next();
        }
        let field = pending.filter(|f| f.number == position);
        let raw = field.map_or("", |f| f.raw(message_text));
        let position = position as usize;
        let location = Loc {
            field: Some(position),
            byte_offset: field.map_or(segment.offset(), |f| f.start),
            ..Loc::default()
        };
        let usage = if field_rule.predicate.is_some() {
            let sibling = |n: u16| segment.field(usize::from(n)).map_or("", |f| f.raw());
            let scope = Scope {
                sibling: &sibling,
                segment,
                delimiters,
            };
            effective_usage(field_rule, &scope)
        } else {
            Some(field_rule.usage)
        };
        if usage.is_some_and(Usage::is_excluded) {
            if !raw.is_empty() {
                checker.report(
                    Severity::Error,
                    &location,
                    ProblemKind::Excluded {
                        what: describe("field", segment.id(), field_rule),
                    },
                );
            }
            continue;
        }
        if raw.is_empty() {
            let required = match usage {
                Some(Usage::R) => field_rule.min > 0 || field_rule.predicate.is_some(),
                _ => false,
            };
            if required {
                checker.report(
                    Severity::Error,
                    &location,
                    ProblemKind::MissingRequired {
                        what: describe("field", segment.id(), field_rule),
                    },
                );
            }
            continue;
        }
        if header && position <= 2 {
            // MSH-1 and MSH-2 hold the delimiters themselves: never split them.
            checker.check_value(raw, field_rule, Level::Subcomponent, &location, true);
            continue;
        }
        let mut count = 0u32;
        // A flat field (no repetition, component or subcomponent separator) is one value and
        // is never split; otherwise one pass finds each repetition and whether it is flat.
        let flat = field.is_some_and(|f| f.flat);
        let separator = (!flat).then_some(delimiters.repetition);
        let sub = delimiters.subcomponent.unwrap_or(delimiters.component);
        let lower = [delimiters.component, sub, sub];
        for (rep, rep_flat) in SplitStr::new(message_text, raw, separator, Some(lower)) {
            count += 1;
            if rep.is_empty() {
                continue;
            }
            let location = Loc {
                repetition: Some(count as usize),
                byte_offset: checker.offset(rep),
                ..location
            };
            checker.check_value(rep, field_rule, Level::Field, &location, rep_flat);
        }
        if count > field_rule.max {
            checker.report(
                Severity::Error,
                &location,
                ProblemKind::TooMany {
                    what: describe("field", segment.id(), field_rule),
                    max: field_rule.max,
                    found: count,
                },
            );
        }
    }
    let last_rule = rule.fields.last().map_or(0, |f| usize::from(f.position));
    let extra = std::iter::once(pending)
        .flatten()
        .chain(fields)
        .find(|f| f.number as usize > last_rule && f.start < f.end);
    if let Some(extra) = extra {
        let location = Loc {
            field: Some(extra.number as usize),
            byte_offset: extra.start,
            ..Loc::default()
        };
        checker.report(
            Severity::Warning,
            &location,
            ProblemKind::UnexpectedElement {
                what: format!("field {}-{}", segment.id(), extra.number),
            },
        );
    }
}

fn describe(level: &str, segment: &str, rule: &ElementRule) -> String {
    if rule.name.is_empty() {
        format!("{level} {segment}-{}", rule.position)
    } else {
        format!("{level} {segment}-{} ({})", rule.position, rule.name)
    }
}

/// A location inside the segment being checked; made a [`Location`] only when reported.
#[derive(Debug, Clone, Copy, Default)]
struct Loc {
    field: Option<usize>,
    repetition: Option<usize>,
    component: Option<usize>,
    subcomponent: Option<usize>,
    byte_offset: usize,
}

struct Checker<'s, 'p> {
    delimiters: Delimiters,
    text: &'s str,
    segment: &'s Segment<'s>,
    problems: &'p mut Vec<Problem>,
}

impl Checker<'_, '_> {
    fn report(&mut self, severity: Severity, at: &Loc, kind: ProblemKind) {
        let location = Location {
            field: at.field,
            repetition: at.repetition,
            component: at.component,
            subcomponent: at.subcomponent,
            byte_offset: at.byte_offset,
            ..self.segment.location()
        };
        self.problems.push(Problem {
            severity,
            kind,
            location,
        });
    }

    /// Byte offset of `part` (a slice of the message text) in the message.
    fn offset(&self, part: &str) -> usize {
        (part.as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize)
    }

    /// Checks one valued repetition, component or subcomponent; `flat` when it holds no
    /// separator of a lower level (it is then not split).
    fn check_value(
        &mut self,
        raw: &str,
        rule: &ElementRule,
        level: Level,
        location: &Loc,
        flat: bool,
    ) {
        if raw.as_bytes() == b"\"\"" {
            return; // the HL7 null value is valid for any element
        }
        self.check_length(raw, rule, location);
        if let Some(constant) = rule.constant {
            let value = escape::decode(raw, &self.delimiters);
            if value != constant {
                self.report(
                    Severity::Error,
                    location,
                    ProblemKind::ConstantMismatch {
                        expected: constant.into(),
                        found: value.into(),
                    },
                );
            }
        }
        if rule.children.is_empty() || level == Level::Subcomponent {
            self.check_primitive(raw, rule, location);
            return;
        }
        let Some(separator) = level.child_separator(&self.delimiters) else {
            return;
        };
        // Components are split noting whether each holds subcomponents; subcomponents are
        // the lowest level.
        let lower = match (level, self.delimiters.subcomponent) {
            (Level::Field, Some(sub)) => Some([sub; 3]),
            _ => None,
        };
        let mut parts = SplitStr::new(self.text, raw, (!flat).then_some(separator), lower);
        // Conditional children look at their siblings: they are collected at the first one, so
        // a value with none (the common case) neither allocates nor looks for one.
        let all_parts = parts.clone();
        let mut siblings: Option<Vec<&str>> = None;
        for child in rule.children {
            let (part, part_flat) = parts.next().unwrap_or(("", true));
            let usage = match child.predicate {
                Some(_) => {
                    let siblings = siblings
                        .get_or_insert_with(|| all_parts.clone().map(|(part, _)| part).collect());
                    let sibling = |n: u16| {
                        siblings
                            .get(usize::from(n).wrapping_sub(1))
                            .copied()
                            .unwrap_or("")
                    };
                    let scope = Scope {
                        sibling: &sibling,
                        segment: self.segment,
                        delimiters: self.delimiters,
                    };
                    effective_usage(child, &scope)
                }
                None => Some(child.usage),
            };
            let excluded = usage.is_some_and(Usage::is_excluded);
            if part.is_empty() {
                // Nothing to check in an absent child, unless it is required.
                if !excluded && usage == Some(Usage::R) {
                    let location = child_location(location, level, child, None);
                    let what = format!("{} {}", kind_of(level), child_name(child));
                    self.report(
                        Severity::Error,
                        &location,
                        ProblemKind::MissingRequired { what },
                    );
                }
                continue;
            }
            let location = child_location(location, level, child, Some(self.offset(part)));
            if excluded {
                let what = format!("{} {}", kind_of(level), child_name(child));
                self.report(Severity::Error, &location, ProblemKind::Excluded { what });
                continue;
            }
            self.check_value(part, child, level.child(), &location, part_flat);
        }
        if let Some((extra, _)) = parts.find(|(p, _)| !p.is_empty()) {
            let location = Loc {
                byte_offset: self.offset(extra),
                ..*location
            };
            self.report(
                Severity::Warning,
                &location,
                ProblemKind::UnexpectedElement {
                    what: format!(
                        "a {} after the {} defined for {}",
                        kind_of(level),
                        rule.children.len(),
                        rule.datatype
                    ),
                },
            );
        }
        self.check_coded(raw, rule, separator, location);
    }

    fn check_length(&mut self, raw: &str, rule: &ElementRule, location: &Loc) {
        let (min, max) = (rule.min_length, rule.max_length);
        // Bytes bound characters from above: count characters only when it can matter.
        let fits_max = max.is_none_or(|max| raw.len() <= max as usize);
        if fits_max && raw.len() >= min as usize && min == 0 {
            return;
        }
        let found = escape::decode(raw, &self.delimiters).chars().count() as u32;
        if let Some(max) = max.filter(|&max| found > max) {
            self.report(
                Severity::Error,
                location,
                ProblemKind::TooLong { max, found },
            );
        }
        if found < min {
            self.report(
                Severity::Error,
                location,
                ProblemKind::TooShort { min, found },
            );
        }
    }

    fn check_primitive(&mut self, raw: &str, rule: &ElementRule, location: &Loc) {
        let ok = match rule.primitive {
            Primitive::Number => format::is_number(raw),
            Primitive::SequenceId => format::is_sequence_id(raw),
            Primitive::Date => format::is_date(raw),
            Primitive::Time => format::is_time(raw),
            Primitive::DateTime => format::is_datetime(raw),
            Primitive::Text | Primitive::Varies | Primitive::Composite => true,
        };
        if !ok {
            self.report(
                Severity::Error,
                location,
                ProblemKind::Malformed {
                    datatype: rule.datatype.into(),
                    value: raw.into(),
                },
            );
        }
        if let Some(table) = rule.table {
            let code = escape::decode(raw, &self.delimiters);
            if !table.contains(&code) && !open_coding_system(table, &code) {
                self.report(
                    table_severity(table),
                    location,
                    ProblemKind::NotInTable {
                        table: table.id.into(),
                        value: code.into(),
                    },
                );
            }
        }
    }

    /// A coded composite (CE, CWE, CNE) bound to a table: its identifier must be in the table
    /// unless the coding system names another one.
    fn check_coded(&mut self, raw: &str, rule: &ElementRule, separator: u8, location: &Loc) {
        let Some(table) = rule.table else { return };
        let base = rule.datatype.split('_').next().unwrap_or(rule.datatype);
        if !matches!(base, "CE" | "CWE" | "CNE") {
            return;
        }
        let mut parts = SplitStr::new(self.text, raw, Some(separator), None).map(|(p, _)| p);
        let code = parts.next().unwrap_or("");
        let system = parts.nth(1).unwrap_or("");
        let own_system = system.is_empty()
            || system
                .strip_prefix("HL7")
                .is_some_and(|id| id.trim_start_matches('0') == table.id.trim_start_matches('0'));
        if code.is_empty() || !own_system {
            return;
        }
        let code = escape::decode(code, &self.delimiters);
        if !table.contains(&code) && !open_coding_system(table, &code) {
            let location = Loc {
                component: Some(1),
                ..*location
            };
            self.report(
                table_severity(table),
                &location,
                ProblemKind::NotInTable {
                    table: table.id.into(),
                    value: code.into(),
                },
            );
        }
    }
}

/// How serious a code outside its table is. Table 0396 (coding systems) is open by design:
/// `HL7nnnn` names an HL7 table and `99zzz` a local system, and other systems appear in later
/// versions, so a miss there is only worth a warning.
fn table_severity(table: &TableRule) -> Severity {
    if table.id.trim_start_matches('0') == "396" {
        return Severity::Warning;
    }
    match table.kind {
        TableKind::Hl7 | TableKind::Site => Severity::Error,
        TableKind::User => Severity::Warning,
    }
}

/// Codes of table 0396 that stand for a whole family: an HL7 table or a local system.
fn open_coding_system(table: &TableRule, code: &str) -> bool {
    table.id.trim_start_matches('0') == "396"
        && (code
            .strip_prefix("HL7")
            .is_some_and(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()))
            || code.starts_with("99"))
}

/// The location of a child of the value at `location` (at `level`), at `offset` when valued.
fn child_location(location: &Loc, level: Level, child: &ElementRule, offset: Option<usize>) -> Loc {
    let mut location = *location;
    match level {
        Level::Field => location.component = Some(usize::from(child.position)),
        _ => location.subcomponent = Some(usize::from(child.position)),
    }
    if let Some(offset) = offset {
        location.byte_offset = offset;
    }
    location
}

fn kind_of(level: Level) -> &'static str {
    match level {
        Level::Field => "component",
        Level::Component | Level::Subcomponent => "subcomponent",
    }
}

fn child_name(rule: &ElementRule) -> String {
    if rule.name.is_empty() {
        format!("{}", rule.position)
    } else {
        format!("{} ({})", rule.position, rule.name)
    }
}
