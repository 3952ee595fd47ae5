//! Checks of one segment's fields, components and subcomponents against their rules.

use crate::er7::{escape, DelimiterIndex, Delimiters, Location, Segment, Split};
use crate::rules::{ElementRule, Primitive, SegmentRule, TableKind, TableRule, Usage};
use crate::typed::Level;
use crate::validate::condition::{effective_usage, Scope};
use crate::validate::format;
use crate::validate::problem::{Problem, ProblemKind, Severity};

/// Checks the fields of `segment` against `rule`.
///
/// One pass over the fields (rules are sorted by position); locations are built only when a
/// problem is reported, so a conformant segment allocates nothing.
pub(crate) fn check_segment<'t>(
    segment: &Segment<'t>,
    rule: &SegmentRule,
    index: &DelimiterIndex<'t>,
    problems: &mut Vec<Problem>,
) {
    let delimiters = segment.delimiters();
    let header = matches!(segment.id(), "MSH" | "FHS" | "BHS");
    let message_text = index.text();
    let mut checker = Checker {
        delimiters,
        index,
        segment,
        problems,
    };
    let mut fields = segment.field_spans_in(index);
    let mut pending = fields.next();
    // Conditions look at sibling fields by number, through the generic view.
    let usage_here = |field_rule: &ElementRule| {
        let sibling = |n: u16| segment.field(usize::from(n)).map_or("", |f| f.raw());
        let scope = Scope {
            sibling: &sibling,
            segment,
            delimiters,
        };
        effective_usage(field_rule, &scope)
    };
    for field_rule in rule.fields {
        let position = u32::from(field_rule.position);
        while pending.is_some_and(|f| f.number < position) {
            pending = fields.next();
        }
        let field = match pending {
            Some(f) if f.number == position && f.start < f.end => f,
            _ => {
                // Most of a segment's fields are absent: only a required one has a problem.
                let required = match field_rule.predicate {
                    None => field_rule.usage == Usage::R && field_rule.min > 0,
                    Some(_) => usage_here(field_rule) == Some(Usage::R),
                };
                if required {
                    let location = Loc {
                        field: position,
                        byte_offset: pending
                            .filter(|f| f.number == position)
                            .map_or(segment.offset(), |f| f.start),
                        ..Loc::default()
                    };
                    checker.report_field(&location, field_rule, |what| {
                        ProblemKind::MissingRequired { what }
                    });
                }
                continue;
            }
        };
        let raw = field.raw(message_text);
        let location = Loc {
            field: position,
            byte_offset: field.start,
            ..Loc::default()
        };
        let usage = match field_rule.predicate {
            None => Some(field_rule.usage),
            Some(_) => usage_here(field_rule),
        };
        if usage.is_some_and(Usage::is_excluded) {
            checker.report_field(&location, field_rule, |what| ProblemKind::Excluded { what });
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
        let split = (!field.flat).then_some(Split::Repetitions);
        for (rep, rep_flat) in index.split(raw, split) {
            count += 1;
            if rep.is_empty() {
                continue;
            }
            let location = Loc {
                repetition: count,
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
            field: extra.number,
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

/// A location inside the segment being checked, 0 for a level not reached (positions count
/// from 1); made a [`Location`] only when reported.
#[derive(Debug, Clone, Copy, Default)]
struct Loc {
    field: u32,
    repetition: u32,
    component: u32,
    subcomponent: u32,
    byte_offset: usize,
}

struct Checker<'s, 'p> {
    delimiters: Delimiters,
    /// The message text's delimiter index; its text is the message's.
    index: &'p DelimiterIndex<'s>,
    segment: &'p Segment<'s>,
    problems: &'p mut Vec<Problem>,
}

impl<'s> Checker<'s, '_> {
    fn report(&mut self, severity: Severity, at: &Loc, kind: ProblemKind) {
        let level = |n: u32| (n > 0).then_some(n as usize);
        let location = Location {
            field: level(at.field),
            repetition: level(at.repetition),
            component: level(at.component),
            subcomponent: level(at.subcomponent),
            byte_offset: at.byte_offset,
            ..self.segment.location()
        };
        self.problems.push(Problem {
            severity,
            kind,
            location,
        });
    }

    /// An error about a field, described by its rule.
    fn report_field(&mut self, at: &Loc, rule: &ElementRule, kind: fn(String) -> ProblemKind) {
        let what = describe("field", self.segment.id(), rule);
        self.report(Severity::Error, at, kind(what));
    }

    /// Byte offset of `part` (a slice of the message text) in the message.
    fn offset(&self, part: &str) -> usize {
        (part.as_ptr() as usize).saturating_sub(self.index.text().as_ptr() as usize)
    }

    /// Checks one valued repetition, component or subcomponent; `flat` when it holds no
    /// separator of a lower level (it is then not split).
    ///
    /// Inlined, so that the many leaves (most valued elements) cost no call; only a composite
    /// goes on to [`Checker::check_children`].
    #[inline(always)]
    fn check_value(
        &mut self,
        raw: &'s str,
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
        self.check_children(raw, rule, level, location, flat);
    }

    /// The components (or subcomponents) of a valued composite, then its coded value.
    #[inline(never)]
    fn check_children(
        &mut self,
        raw: &'s str,
        rule: &ElementRule,
        level: Level,
        location: &Loc,
        flat: bool,
    ) {
        if level.child_separator(&self.delimiters).is_none() {
            return; // no subcomponent separator: a component is not split
        }
        // Components are split noting whether each holds subcomponents; subcomponents are
        // the lowest level.
        let split = match level {
            Level::Field => Split::Components,
            Level::Component | Level::Subcomponent => Split::Subcomponents,
        };
        let index = self.index;
        let mut parts = index.split(raw, (!flat).then_some(split));
        // Conditional children look at their siblings: they are collected at the first one, so
        // a value with none (the common case) neither allocates nor looks for one.
        let all_parts = parts.clone();
        let mut siblings: Option<Vec<&str>> = None;
        let (segment, delimiters) = (self.segment, self.delimiters);
        let mut usage_of = |child: &ElementRule| match child.predicate {
            None => Some(child.usage),
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
                    segment,
                    delimiters,
                };
                effective_usage(child, &scope)
            }
        };
        let mut children = rule.children.iter();
        let mut extra = None;
        for (part, part_flat) in parts.by_ref() {
            let Some(child) = children.next() else {
                extra = Some(part);
                break;
            };
            if part.is_empty() {
                // Nothing to check in an absent child, unless it is required.
                if (child.usage == Usage::R || child.predicate.is_some())
                    && usage_of(child) == Some(Usage::R)
                {
                    self.missing_child(location, level, child);
                }
                continue;
            }
            let usage = usage_of(child);
            let location = child_location(location, level, child, Some(self.offset(part)));
            if usage.is_some_and(Usage::is_excluded) {
                let what = format!("{} {}", kind_of(level), child_name(child));
                self.report(Severity::Error, &location, ProblemKind::Excluded { what });
                continue;
            }
            self.check_value(part, child, level.child(), &location, part_flat);
        }
        // The children after the last part are absent; most are optional.
        for child in children {
            if (child.usage == Usage::R || child.predicate.is_some())
                && usage_of(child) == Some(Usage::R)
            {
                self.missing_child(location, level, child);
            }
        }
        // Parts after the last child: the first valued one is reported.
        let extra = match extra {
            Some("") => parts.map(|(part, _)| part).find(|part| !part.is_empty()),
            other => other,
        };
        if let Some(extra) = extra {
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
        self.check_coded(raw, rule, split, location);
    }

    fn missing_child(&mut self, location: &Loc, level: Level, child: &ElementRule) {
        let location = child_location(location, level, child, None);
        let what = format!("{} {}", kind_of(level), child_name(child));
        self.report(
            Severity::Error,
            &location,
            ProblemKind::MissingRequired { what },
        );
    }

    #[inline(always)]
    fn check_length(&mut self, raw: &str, rule: &ElementRule, location: &Loc) {
        let (min, max) = (rule.min_length, rule.max_length);
        // Bytes bound characters from above: count characters only when it can matter.
        let fits_max = max.is_none_or(|max| raw.len() <= max as usize);
        if fits_max && min == 0 {
            return;
        }
        self.check_length_in_characters(raw, rule, location);
    }

    #[inline(never)]
    fn check_length_in_characters(&mut self, raw: &str, rule: &ElementRule, location: &Loc) {
        let (min, max) = (rule.min_length, rule.max_length);
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

    /// A leaf's format and table; most leaves are free text bound to no table.
    #[inline(always)]
    fn check_primitive(&mut self, raw: &str, rule: &ElementRule, location: &Loc) {
        let free_text = matches!(
            rule.primitive,
            Primitive::Text | Primitive::Varies | Primitive::Composite
        );
        if !free_text || rule.table.is_some() {
            self.check_format_and_table(raw, rule, location);
        }
    }

    #[inline(never)]
    fn check_format_and_table(&mut self, raw: &str, rule: &ElementRule, location: &Loc) {
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
    fn check_coded(&mut self, raw: &'s str, rule: &ElementRule, split: Split, location: &Loc) {
        let Some(table) = rule.table else { return };
        let flavour = rule.datatype.bytes().position(|b| b == b'_');
        let base = rule.datatype.get(..flavour.unwrap_or(rule.datatype.len()));
        if !matches!(base, Some("CE" | "CWE" | "CNE")) {
            return;
        }
        let mut parts = self.index.split(raw, Some(split)).map(|(p, _)| p);
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
                component: 1,
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
    if is_coding_systems(table) {
        return Severity::Warning;
    }
    match table.kind {
        TableKind::Hl7 | TableKind::Site => Severity::Error,
        TableKind::User => Severity::Warning,
    }
}

/// Table 0396, however many zeros its id is written with.
fn is_coding_systems(table: &TableRule) -> bool {
    let digits = table.id.bytes().skip_while(|&b| b == b'0');
    digits.eq(*b"396")
}

/// Codes of table 0396 that stand for a whole family: an HL7 table or a local system.
fn open_coding_system(table: &TableRule, code: &str) -> bool {
    is_coding_systems(table)
        && (code
            .strip_prefix("HL7")
            .is_some_and(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()))
            || code.starts_with("99"))
}

/// The location of a child of the value at `location` (at `level`), at `offset` when valued.
fn child_location(location: &Loc, level: Level, child: &ElementRule, offset: Option<usize>) -> Loc {
    let mut location = *location;
    match level {
        Level::Field => location.component = u32::from(child.position),
        _ => location.subcomponent = u32::from(child.position),
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
