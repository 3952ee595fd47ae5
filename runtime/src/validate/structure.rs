//! Placing a message's segments into its structure's groups.
//!
//! Each segment goes to the first place, looking forward from where the previous one went, first
//! inside the open groups (innermost first), then in their parents, where it may start a new
//! instance of a group. A segment that fits nowhere is reported and skipped, and the rest of the
//! message is still placed, so one stray Z-segment does not hide every later problem.

use crate::er7::{Location, Message, Segment};
use crate::rules::{NodeKind, NodeRule};
use crate::validate::problem::{Problem, ProblemKind, Severity};

/// Where each segment of a message went: per child of a group, its occurrences.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchedGroup {
    /// One list per child rule, in rule order.
    pub children: Vec<Vec<Matched>>,
}

/// One occurrence of a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matched {
    /// A segment, by its 0-based index in the message.
    Segment(usize),
    /// A group instance.
    Group(MatchedGroup),
}

impl MatchedGroup {
    fn new(children: usize) -> MatchedGroup {
        MatchedGroup {
            children: vec![Vec::new(); children],
        }
    }
}

struct Frame {
    name: &'static str,
    rules: &'static [NodeRule],
    child: usize,
    count: u32,
    matched: MatchedGroup,
}

impl Frame {
    fn new(name: &'static str, rules: &'static [NodeRule]) -> Frame {
        Frame {
            name,
            rules,
            child: 0,
            count: 0,
            matched: MatchedGroup::new(rules.len()),
        }
    }

    /// The child index at which `id` can be placed in this frame, looking forward.
    fn place(&self, id: &str) -> Option<usize> {
        (self.child..self.rules.len()).find(|&j| {
            let used = if j == self.child { self.count } else { 0 };
            let node = &self.rules[j];
            used < node.max && !node.usage.is_excluded() && accepts(node, id)
        })
    }
}

/// True when `node` can begin with segment `id`.
fn accepts(node: &NodeRule, id: &str) -> bool {
    match node.kind {
        NodeKind::Segment(rule) => rule.id == id,
        NodeKind::Group(group) => starts_with(group.children, id),
    }
}

fn starts_with(children: &[NodeRule], id: &str) -> bool {
    for node in children {
        if !node.usage.is_excluded() && accepts(node, id) {
            return true;
        }
        if node.min > 0 {
            return false;
        }
    }
    false
}

fn knows(children: &[NodeRule], id: &str) -> bool {
    children.iter().any(|node| match node.kind {
        NodeKind::Segment(rule) => rule.id == id,
        NodeKind::Group(group) => knows(group.children, id),
    })
}

/// Places every segment of `message` into the structure `rules`; returns the tree and adds a
/// problem for each segment out of place and each required segment or group missing.
pub fn match_structure(
    message: &Message<'_>,
    rules: &'static [NodeRule],
    problems: &mut Vec<Problem>,
) -> MatchedGroup {
    let mut stack = vec![Frame::new("", rules)];
    for segment in message.segments() {
        let id = segment.id();
        let placed = (0..stack.len())
            .rev()
            .find_map(|d| stack[d].place(id).map(|j| (d, j)));
        let Some((depth, child)) = placed else {
            problems.push(Problem {
                severity: Severity::Error,
                kind: ProblemKind::UnexpectedSegment {
                    id: id.to_owned(),
                    known: knows(rules, id),
                },
                location: segment.location(),
            });
            continue;
        };
        // Built only when a problem is reported: a conformant message allocates no location.
        let at = || segment.location();
        while stack.len() > depth + 1 {
            close(&mut stack, &at, problems);
        }
        advance(&mut stack, child, &at, problems);
        descend(&mut stack, &segment);
    }
    // Whatever is still missing is missing at the end of the message.
    let end = Location {
        segment_index: message.segment_count() + 1,
        byte_offset: message.text().len(),
        ..Location::default()
    };
    let at = || end.clone();
    while stack.len() > 1 {
        close(&mut stack, &at, problems);
    }
    let mut root = stack
        .pop()
        .expect("the root frame is never closed in the loop");
    let end = root.rules.len();
    missing_between(&mut root, end, &at, problems);
    root.matched
}

/// Moves the top frame to child `j`, reporting required children passed over, and counts one
/// more occurrence there.
fn advance(stack: &mut [Frame], j: usize, at: &dyn Fn() -> Location, problems: &mut Vec<Problem>) {
    let frame = stack.last_mut().expect("stack is never empty");
    if j != frame.child {
        missing_between(frame, j, at, problems);
        frame.child = j;
        frame.count = 0;
    }
    frame.count += 1;
}

/// Places `segment` at the top frame's current child, opening nested groups as needed.
fn descend(stack: &mut Vec<Frame>, segment: &Segment<'_>) {
    loop {
        let frame = stack.last_mut().expect("stack is never empty");
        let node = frame.rules[frame.child];
        match node.kind {
            NodeKind::Segment(_) => {
                frame.matched.children[frame.child].push(Matched::Segment(segment.index()));
                return;
            }
            NodeKind::Group(group) => {
                let mut inner = Frame::new(group.name, group.children);
                let Some(j) = inner.place(segment.id()) else {
                    return;
                };
                // Children before `j` are optional: `starts_with` stops at the first required one.
                inner.child = j;
                inner.count = 1;
                stack.push(inner);
            }
        }
    }
}

/// Closes the top frame (a group instance) into its parent.
fn close(stack: &mut Vec<Frame>, at: &dyn Fn() -> Location, problems: &mut Vec<Problem>) {
    let mut frame = stack.pop().expect("close is called above the root");
    let end = frame.rules.len();
    missing_between(&mut frame, end, at, problems);
    let parent = stack.last_mut().expect("a closed group has a parent");
    parent.matched.children[parent.child].push(Matched::Group(frame.matched));
}

/// Reports required children of `frame` passed over before child `until`; `at` is where the
/// next segment (or the end of the message) is.
fn missing_between(
    frame: &mut Frame,
    until: usize,
    at: &dyn Fn() -> Location,
    problems: &mut Vec<Problem>,
) {
    if frame.child < frame.rules.len() && frame.count < frame.rules[frame.child].min {
        problems.push(missing(frame, &frame.rules[frame.child], at));
    }
    for node in frame.rules.iter().take(until).skip(frame.child + 1) {
        if node.min > 0 && !node.usage.is_excluded() {
            problems.push(missing(frame, node, at));
        }
    }
}

fn missing(frame: &Frame, node: &NodeRule, at: &dyn Fn() -> Location) -> Problem {
    let what = match node.kind {
        NodeKind::Segment(rule) if frame.name.is_empty() => format!("segment {}", rule.id),
        NodeKind::Segment(rule) => format!("segment {} (in group {})", rule.id, frame.name),
        NodeKind::Group(group) => format!("group {}", group.name),
    };
    let location = Location {
        segment_id: node.name().to_owned(),
        ..at()
    };
    Problem {
        severity: Severity::Error,
        kind: ProblemKind::MissingRequired { what },
        location,
    }
}
