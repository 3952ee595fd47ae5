//! The side-by-side walk of two profiles: the message, its segments and groups, their fields,
//! components and subcomponents.

use crate::model::{Cardinality, Element, MessageProfile, Node, Usage};
use crate::source::Span;

use super::names::{
    describe_message, element_label, keys, node_label, node_path, predicate, short, usage_text,
};
use super::tables::{list, missing, normalize, Side};
use super::{Finding, FindingKind, Severity};

/// Compares the two profiles; the findings in message order.
pub(super) fn compare(sender: &MessageProfile, receiver: &MessageProfile) -> Vec<Finding> {
    let mut walk = Walk {
        s: Side::new(sender),
        r: Side::new(receiver),
        out: Vec::new(),
    };
    if walk.message() {
        walk.nodes("", &sender.children, &receiver.children);
    }
    walk.out
}

/// Where an element sits, which decides its name and the checks that apply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Field,
    Component,
    Subcomponent,
}

impl Level {
    fn noun(self) -> &'static str {
        match self {
            Level::Field => "field",
            Level::Component => "component",
            Level::Subcomponent => "subcomponent",
        }
    }

    fn child(self) -> Level {
        match self {
            Level::Field => Level::Component,
            Level::Component | Level::Subcomponent => Level::Subcomponent,
        }
    }
}

/// One pair of things compared: their path, a label for sentences, and their spans.
struct Pair<'p> {
    path: &'p str,
    label: String,
    sender: Option<Span>,
    receiver: Option<Span>,
}

struct Walk<'a> {
    s: Side<'a>,
    r: Side<'a>,
    out: Vec<Finding>,
}

impl Walk<'_> {
    fn push(&mut self, severity: Severity, kind: FindingKind, pair: &Pair<'_>, message: String) {
        self.out.push(Finding {
            severity,
            kind,
            path: pair.path.to_owned(),
            sender: pair.sender.clone(),
            receiver: pair.receiver.clone(),
            message,
        });
    }

    /// Message type, event, structure, version, roles and bases; false when the profiles
    /// describe different messages and nothing else is comparable.
    fn message(&mut self) -> bool {
        let (s, r) = (self.s.profile, self.r.profile);
        let pair = Pair {
            path: "",
            label: String::new(),
            sender: Some(s.span.clone()),
            receiver: Some(r.span.clone()),
        };
        if s.msg_type != r.msg_type || s.structure_id != r.structure_id {
            let message = format!(
                "not the same message: the sender's profile is {}, the receiver's {}",
                describe_message(s),
                describe_message(r)
            );
            self.push(Severity::Error, FindingKind::MessageDiffers, &pair, message);
            return false;
        }
        let any = |event: &str| event.is_empty() || event.eq_ignore_ascii_case("ALL");
        if s.event_type != r.event_type && !any(&s.event_type) && !any(&r.event_type) {
            let message = format!(
                "the sender's profile is for {}^{}, the receiver's for {}^{} (both {}): the \
                 receiver rejects the sender's MSH-9",
                s.msg_type, s.event_type, r.msg_type, r.event_type, s.structure_id
            );
            self.push(Severity::Error, FindingKind::MessageDiffers, &pair, message);
        }
        if s.hl7_version != r.hl7_version {
            let message = format!(
                "the sender's profile is HL7 {}, the receiver's {}: the sender's MSH-12 says {}, \
                 check that the receiver accepts it; elements are compared by position and \
                 tables against each version's base",
                s.hl7_version, r.hl7_version, s.hl7_version
            );
            self.push(
                Severity::Warning,
                FindingKind::VersionDiffers,
                &pair,
                message,
            );
        }
        for (side, profile, wrong) in [("sender", s, "receiver"), ("receiver", r, "sender")] {
            if profile
                .role
                .as_deref()
                .is_some_and(|role| role.eq_ignore_ascii_case(wrong))
            {
                let message = format!(
                    "the {side}'s profile states Role=\"{}\": it was written for the {wrong}'s \
                     side of an interface",
                    profile.role.as_deref().unwrap_or_default()
                );
                self.push(Severity::Info, FindingKind::RoleMismatch, &pair, message);
            }
        }
        for (side, base) in [("sender", self.s), ("receiver", self.r)] {
            if base.base.is_none() {
                let message = format!(
                    "HL7 {} (the {side}'s version) is not bundled: base tables of the {side} \
                     are not compared, only its own value sets",
                    base.profile.hl7_version
                );
                self.push(Severity::Info, FindingKind::NoBase, &pair, message);
            }
        }
        true
    }

    /// Matches segments and groups by kind, name and rank among same-named siblings.
    fn nodes(&mut self, parent: &str, sender: &[Node], receiver: &[Node]) {
        let s_keys = keys(sender);
        let r_keys = keys(receiver);
        let mut matched = vec![false; receiver.len()];
        for (node, key) in sender.iter().zip(&s_keys) {
            let path = node_path(parent, key, &s_keys, &r_keys);
            match r_keys.iter().position(|k| k == key) {
                Some(j) => {
                    matched[j] = true;
                    self.node(&path, node, &receiver[j]);
                }
                None => self.sender_only_node(&path, node),
            }
        }
        for ((node, key), seen) in receiver.iter().zip(&r_keys).zip(matched) {
            if !seen {
                let path = node_path(parent, key, &s_keys, &r_keys);
                self.receiver_only_node(&path, node);
            }
        }
    }

    fn node(&mut self, path: &str, s: &Node, r: &Node) {
        let pair = Pair {
            path,
            label: node_label(path, s, r),
            sender: Some(s.span().clone()),
            receiver: Some(r.span().clone()),
        };
        if !self.usage(&pair, s.usage(), r.usage()) {
            return;
        }
        self.cardinality(
            &pair,
            s.usage(),
            s.cardinality(),
            r.usage(),
            r.cardinality(),
        );
        match (s, r) {
            (Node::Segment(s), Node::Segment(r)) => {
                self.elements(path, '-', Level::Field, &s.fields, &r.fields);
            }
            (Node::Group(s), Node::Group(r)) => self.nodes(path, &s.children, &r.children),
            _ => {}
        }
    }

    fn sender_only_node(&mut self, path: &str, s: &Node) {
        if s.usage().is_excluded() {
            return;
        }
        let pair = Pair {
            path,
            label: node_label(path, s, s),
            sender: Some(s.span().clone()),
            receiver: None,
        };
        let what = match s {
            Node::Segment(_) => "it",
            Node::Group(_) => "its segments",
        };
        let message = format!(
            "{} may be sent ({} at the sender), but the receiver's profile does not have it: a \
             receiver that validates rejects {what} as unexpected",
            pair.label,
            usage_text(s.usage())
        );
        self.push(
            Severity::Error,
            FindingKind::MissingAtReceiver,
            &pair,
            message,
        );
    }

    fn receiver_only_node(&mut self, path: &str, r: &Node) {
        let pair = Pair {
            path,
            label: node_label(path, r, r),
            sender: None,
            receiver: Some(r.span().clone()),
        };
        if r.usage().is_required() {
            let message = format!(
                "{} is required by the receiver, but the sender's profile does not have it",
                pair.label
            );
            self.push(
                Severity::Error,
                FindingKind::MissingAtSender,
                &pair,
                message,
            );
        } else if !r.usage().is_excluded() {
            let message = format!(
                "{} is in the receiver's profile only ({}): the sender never sends it",
                pair.label,
                usage_text(r.usage())
            );
            self.push(Severity::Info, FindingKind::MissingAtSender, &pair, message);
        }
    }

    /// Fields of a segment (`sep` `-`), components of a field or subcomponents of a component
    /// (`sep` `.`), matched by position.
    fn elements(
        &mut self,
        prefix: &str,
        sep: char,
        level: Level,
        sender: &[Element],
        receiver: &[Element],
    ) {
        let r_last = receiver.iter().map(|e| e.position).max().unwrap_or(0);
        let s_last = sender.iter().map(|e| e.position).max().unwrap_or(0);
        let mut beyond = Vec::new();
        for s in sender {
            match receiver.iter().find(|r| r.position == s.position) {
                Some(r) => {
                    let path = format!("{prefix}{sep}{}", s.position);
                    self.element(&path, level, s, r);
                }
                None if !s.usage.is_excluded() => beyond.push(s),
                None => {}
            }
        }
        if let Some(first) = beyond.first() {
            let path = format!("{prefix}{sep}{}", first.position);
            let pair = Pair {
                path: &path,
                label: element_label(&path, first, first),
                sender: Some(first.span.clone()),
                receiver: None,
            };
            let last_text = format!("{}{sep}{r_last}", short(prefix));
            let message = if beyond.len() == 1 {
                format!(
                    "{} may be sent, but the receiver's profile ends at {last_text}: the receiver \
                     ignores it (with a warning)",
                    pair.label
                )
            } else {
                let last = beyond.last().map_or(0, |e| e.position);
                format!(
                    "{} {}s after {last_text} may be sent ({} to {}{sep}{last}), but the \
                     receiver's profile ends at {last_text}: the receiver ignores them (with a \
                     warning)",
                    beyond.len(),
                    level.noun(),
                    short(&path),
                    short(prefix),
                )
            };
            self.push(
                Severity::Warning,
                FindingKind::MissingAtReceiver,
                &pair,
                message,
            );
        }
        for r in receiver {
            if r.usage.is_required() && !sender.iter().any(|s| s.position == r.position) {
                let path = format!("{prefix}{sep}{}", r.position);
                let pair = Pair {
                    path: &path,
                    label: element_label(&path, r, r),
                    sender: None,
                    receiver: Some(r.span.clone()),
                };
                let message = format!(
                    "{} is required by the receiver, but the sender's profile ends at {}{sep}{s_last}: \
                     the sender never sends it",
                    pair.label,
                    short(prefix)
                );
                self.push(
                    Severity::Error,
                    FindingKind::MissingAtSender,
                    &pair,
                    message,
                );
            }
        }
    }

    fn element(&mut self, path: &str, level: Level, s: &Element, r: &Element) {
        let pair = Pair {
            path,
            label: element_label(path, s, r),
            sender: Some(s.span.clone()),
            receiver: Some(r.span.clone()),
        };
        if !self.usage(&pair, &s.usage, &r.usage) {
            return;
        }
        if level == Level::Field {
            self.cardinality(&pair, &s.usage, s.cardinality, &r.usage, r.cardinality);
        }
        self.length(&pair, s, r);
        let same_type = s.datatype.eq_ignore_ascii_case(&r.datatype);
        let varies = |t: &str| t.is_empty() || t.eq_ignore_ascii_case("varies");
        if !same_type && !varies(&s.datatype) && !varies(&r.datatype) {
            let message = format!(
                "{} is {} at the sender, {} at the receiver",
                pair.label, s.datatype, r.datatype
            );
            self.push(
                Severity::Warning,
                FindingKind::DatatypeDiffers,
                &pair,
                message,
            );
        }
        self.table(&pair, s, r);
        self.constant(&pair, s, r);
        if s.is_composite() && r.is_composite() {
            self.elements(path, '.', level.child(), &s.children, &r.children);
        }
    }

    /// Usage; false when either side excludes the element, so nothing inside is compared.
    fn usage(&mut self, pair: &Pair<'_>, s: &Usage, r: &Usage) -> bool {
        let label = &pair.label;
        if r.is_excluded() {
            if !s.is_excluded() {
                let message = format!(
                    "{label} may be sent ({} at the sender), but the receiver excludes it ({r})",
                    usage_text(s)
                );
                self.push(
                    Severity::Error,
                    FindingKind::ExcludedAtReceiver,
                    pair,
                    message,
                );
            }
            return false;
        }
        if s.is_excluded() {
            if r.is_required() {
                let message = format!(
                    "{label} is required by the receiver, but the sender never sends it ({s})"
                );
                self.push(
                    Severity::Error,
                    FindingKind::RequiredAtReceiver,
                    pair,
                    message,
                );
            } else if let Some(condition) = r.condition() {
                let message = format!(
                    "{label} is conditional at the receiver ({r}{}), but the sender never sends \
                     it ({s})",
                    predicate(condition.text.as_deref())
                );
                self.push(
                    Severity::Warning,
                    FindingKind::ConditionalAtReceiver,
                    pair,
                    message,
                );
            }
            return false;
        }
        if r.is_required() && !s.is_required() {
            let message = format!(
                "{label} is required by the receiver, {} at the sender",
                usage_text(s)
            );
            self.push(
                Severity::Error,
                FindingKind::RequiredAtReceiver,
                pair,
                message,
            );
        } else if let Some(condition) = r.condition() {
            let same = s.condition().is_some_and(|c| c.text == condition.text);
            if !s.is_required() && !same {
                let message = format!(
                    "{label} is conditional at the receiver ({r}{}), {} at the sender: the \
                     receiver rejects messages without it when its predicate holds",
                    predicate(condition.text.as_deref()),
                    usage_text(s)
                );
                self.push(
                    Severity::Warning,
                    FindingKind::ConditionalAtReceiver,
                    pair,
                    message,
                );
            }
        }
        true
    }

    fn cardinality(
        &mut self,
        pair: &Pair<'_>,
        s_usage: &Usage,
        s: Cardinality,
        r_usage: &Usage,
        r: Cardinality,
    ) {
        let label = &pair.label;
        if let Some(r_max) = r.max {
            let more = match s.max {
                None => Some("without limit".to_owned()),
                Some(s_max) if s_max > r_max => Some(format!("up to {s_max} times")),
                Some(_) => None,
            };
            if let Some(more) = more {
                let message = format!(
                    "{label} may occur {more} at the sender {s}, the receiver takes at most \
                     {r_max} {r}: the receiver rejects the extra occurrences"
                );
                self.push(
                    Severity::Error,
                    FindingKind::TooManyRepetitions,
                    pair,
                    message,
                );
            }
        }
        // `R` over `O` is a usage finding already; this is about minimums above one.
        let s_min = if s_usage.is_required() {
            s.min.max(1)
        } else {
            s.min
        };
        if r_usage.is_required() && r.min > s_min.max(1) {
            let message = format!(
                "{label} must occur at least {} times at the receiver {r}, the sender guarantees \
                 {s_min} {s}",
                r.min
            );
            self.push(
                Severity::Error,
                FindingKind::TooFewRepetitions,
                pair,
                message,
            );
        }
    }

    fn length(&mut self, pair: &Pair<'_>, s: &Element, r: &Element) {
        let Some(r_len) = r.length else {
            return;
        };
        let label = &pair.label;
        if let Some(r_max) = r_len.max {
            match s.length.map(|l| l.max) {
                None => {
                    let message = format!(
                        "{label} has no maximum length at the sender, the receiver allows {r_max}"
                    );
                    self.push(Severity::Warning, FindingKind::LengthShrinks, pair, message);
                }
                Some(None) => {
                    let message = format!(
                        "{label} may have any length at the sender, the receiver allows {r_max}"
                    );
                    self.push(Severity::Warning, FindingKind::LengthShrinks, pair, message);
                }
                Some(Some(s_max)) if s_max > r_max => {
                    let message = format!(
                        "{label} may be {s_max} characters long at the sender, the receiver \
                         allows {r_max}"
                    );
                    self.push(Severity::Error, FindingKind::LengthShrinks, pair, message);
                }
                Some(Some(_)) => {}
            }
        }
        let s_min = s.length.map_or(0, |l| l.min);
        if r_len.min > s_min.max(1) {
            let message = format!(
                "{label} must be at least {} characters long at the receiver, the sender \
                 guarantees {}",
                r_len.min,
                s_min.max(1)
            );
            self.push(Severity::Error, FindingKind::MinLengthGrows, pair, message);
        }
    }

    fn table(&mut self, pair: &Pair<'_>, s: &Element, r: &Element) {
        let Some(r_table) = r.table.as_deref() else {
            return;
        };
        let label = &pair.label;
        let r_codes = self.r.codes(r_table);
        let Some(s_table) = s.table.as_deref() else {
            let known = r_codes.map_or(String::new(), |c| format!(" ({} codes)", c.len()));
            let message = format!(
                "{label} is bound to table {r_table}{known} at the receiver, to no table at the \
                 sender: values are not checked before they are sent"
            );
            self.push(Severity::Warning, FindingKind::TableDiffers, pair, message);
            return;
        };
        let s_codes = self.s.codes(s_table);
        let lacking = match (&s_codes, &r_codes) {
            (Some(sent), Some(accepted)) => Some(missing(sent, accepted)),
            _ => None,
        };
        let codes = |lacking: &[&str]| {
            let n = lacking.len();
            let word = if n == 1 { "code" } else { "codes" };
            format!("{n} {word} the receiver's table lacks: {}", list(lacking))
        };
        if normalize(s_table) != normalize(r_table) {
            let (severity, tail) = match &lacking {
                Some(l) if l.is_empty() => (
                    Severity::Info,
                    format!("; every code of {s_table} is in {r_table}"),
                ),
                Some(l) => (
                    Severity::Warning,
                    format!("; the sender may send {}", codes(l)),
                ),
                None => (
                    Severity::Warning,
                    " (codes not compared: not known on both sides)".to_owned(),
                ),
            };
            let message = format!(
                "{label} is bound to table {s_table} at the sender, {r_table} at the receiver{tail}"
            );
            self.push(severity, FindingKind::TableDiffers, pair, message);
        } else if let Some(l) = lacking.filter(|l| !l.is_empty()) {
            let whose = |side: &Side<'_>, id: &str| {
                if side.defines(id) {
                    "its own value set".to_owned()
                } else {
                    format!("HL7 {}", side.profile.hl7_version)
                }
            };
            let message = format!(
                "{label} is bound to table {r_table} on both sides ({} at the sender, {} at the \
                 receiver), but the sender may send {}",
                whose(&self.s, s_table),
                whose(&self.r, r_table),
                codes(&l)
            );
            self.push(Severity::Warning, FindingKind::CodesMissing, pair, message);
        }
    }

    fn constant(&mut self, pair: &Pair<'_>, s: &Element, r: &Element) {
        let label = &pair.label;
        match (s.constant.as_deref(), r.constant.as_deref()) {
            (Some(sent), Some(wanted)) if sent.trim() != wanted.trim() => {
                let message = format!(
                    "{label} is the constant `{sent}` at the sender, `{wanted}` at the receiver: \
                     the receiver rejects the sender's value"
                );
                self.push(Severity::Error, FindingKind::ConstantDiffers, pair, message);
            }
            (None, Some(wanted)) => {
                let message = format!(
                    "{label} must be `{wanted}` at the receiver; the sender does not fix its value"
                );
                self.push(
                    Severity::Warning,
                    FindingKind::ConstantDiffers,
                    pair,
                    message,
                );
            }
            _ => {}
        }
    }
}
