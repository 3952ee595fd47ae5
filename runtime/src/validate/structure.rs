//! Placing a message's segments into its structure's groups.
//!
//! Each segment goes to the first place, looking forward from where the previous one went, first
//! inside the open groups (innermost first), then in their parents, where it may start a new
//! instance of a group. A segment that fits nowhere is reported and skipped, and the rest of the
//! message is still placed, so one stray Z-segment does not hide every later problem.

use crate::er7::{Location, Message, Segment};
use crate::rules::{NodeKind, NodeRule};
use crate::validate::problem::{Problem, ProblemKind, Severity};

/// Where each segment of a message went, for the whole message: every placement in one arena,
/// each group instance's children as consecutive runs of it (no allocation per group).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchedTree {
    /// Placements; the occurrences of one child of one group instance are consecutive.
    entries: Vec<Entry>,
    /// Per group instance and child, in rule order: its range of `entries`.
    runs: Vec<(u32, u32)>,
    /// Per group instance: its range of `runs`. The root is the last one.
    groups: Vec<(u32, u32)>,
}

/// One placement in the arena: a segment index, or a group instance's index in `groups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Segment(usize),
    Group(u32),
}

impl MatchedTree {
    /// The message's own group: its children are the top-level segments and groups.
    pub fn root(&self) -> MatchedGroup<'_> {
        match self.groups.len().checked_sub(1) {
            Some(root) => self.group(root),
            None => MatchedGroup {
                tree: self,
                runs: &[],
            },
        }
    }

    fn group(&self, index: usize) -> MatchedGroup<'_> {
        let runs = self
            .groups
            .get(index)
            .and_then(|&(start, end)| self.runs.get(start as usize..end as usize))
            .unwrap_or(&[]);
        MatchedGroup { tree: self, runs }
    }

    fn matched(&self, entry: Entry) -> Matched<'_> {
        match entry {
            Entry::Segment(index) => Matched::Segment(index),
            Entry::Group(group) => Matched::Group(self.group(group as usize)),
        }
    }
}

/// One instance of a group (or the message) in a [`MatchedTree`].
#[derive(Debug, Clone, Copy)]
pub struct MatchedGroup<'a> {
    tree: &'a MatchedTree,
    runs: &'a [(u32, u32)],
}

impl<'a> MatchedGroup<'a> {
    /// The occurrences of child `index` (in rule order); none past the last child.
    #[inline]
    pub fn child(self, index: usize) -> Occurrences<'a> {
        let entries = self
            .runs
            .get(index)
            .and_then(|&(start, end)| self.tree.entries.get(start as usize..end as usize))
            .unwrap_or(&[]);
        Occurrences {
            tree: self.tree,
            entries,
        }
    }

    /// The occurrences of every child, in rule order.
    pub fn children(self) -> impl Iterator<Item = Occurrences<'a>> + 'a {
        (0..self.runs.len()).map(move |i| self.child(i))
    }
}

/// The occurrences of one child of a group instance.
#[derive(Debug, Clone, Copy)]
pub struct Occurrences<'a> {
    tree: &'a MatchedTree,
    entries: &'a [Entry],
}

impl<'a> Occurrences<'a> {
    /// How many occurrences.
    pub fn len(self) -> usize {
        self.entries.len()
    }

    /// True when there is none.
    pub fn is_empty(self) -> bool {
        self.entries.is_empty()
    }

    /// The occurrence at `index`.
    pub fn get(self, index: usize) -> Option<Matched<'a>> {
        self.entries.get(index).map(|&e| self.tree.matched(e))
    }

    /// The first occurrence.
    pub fn first(self) -> Option<Matched<'a>> {
        self.get(0)
    }

    /// Every occurrence, in message order.
    pub fn iter(self) -> impl ExactSizeIterator<Item = Matched<'a>> + 'a {
        let tree = self.tree;
        self.entries.iter().map(move |&e| tree.matched(e))
    }
}

/// One occurrence of a child.
#[derive(Debug, Clone, Copy)]
pub enum Matched<'a> {
    /// A segment, by its 0-based index in the message.
    Segment(usize),
    /// A group instance.
    Group(MatchedGroup<'a>),
}

/// The arena being built, and the placements of the open frames (innermost last).
struct Builder {
    tree: MatchedTree,
    /// Per open frame, from its `base`: (child index, placement), in child order.
    open: Vec<(u32, Entry)>,
}

impl Builder {
    /// Moves the placements of the frame starting at `base` into the arena as a group instance.
    fn finish(&mut self, base: usize, children: usize) -> u32 {
        let run_start = self.tree.runs.len() as u32;
        let mut k = base;
        for child in 0..children as u32 {
            let start = self.tree.entries.len() as u32;
            while let Some(&(c, entry)) = self.open.get(k) {
                debug_assert!(c >= child, "placements are in child order");
                if c != child {
                    break;
                }
                self.tree.entries.push(entry);
                k += 1;
            }
            self.tree.runs.push((start, self.tree.entries.len() as u32));
        }
        self.open.truncate(base);
        let group = self.tree.groups.len() as u32;
        self.tree
            .groups
            .push((run_start, self.tree.runs.len() as u32));
        group
    }
}

struct Frame {
    name: &'static str,
    rules: &'static [NodeRule],
    child: usize,
    count: u32,
    /// Where this frame's placements start in `Builder::open`.
    base: usize,
}

impl Frame {
    fn new(name: &'static str, rules: &'static [NodeRule], base: usize) -> Frame {
        Frame {
            name,
            rules,
            child: 0,
            count: 0,
            base,
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
) -> MatchedTree {
    let segments = message.segment_count();
    let mut b = Builder {
        tree: MatchedTree {
            entries: Vec::with_capacity(segments + segments / 2),
            runs: Vec::new(),
            groups: Vec::new(),
        },
        open: Vec::with_capacity(segments),
    };
    let mut stack = vec![Frame::new("", rules, 0)];
    for segment in message.segments() {
        let id = segment.id();
        let placed = (0..stack.len())
            .rev()
            .find_map(|d| stack[d].place(id).map(|j| (d, j)));
        let Some((depth, child)) = placed else {
            problems.push(Problem {
                severity: Severity::Error,
                kind: ProblemKind::UnexpectedSegment {
                    id: id.into(),
                    known: knows(rules, id),
                },
                location: segment.location(),
            });
            continue;
        };
        // Built only when a problem is reported: a conformant message allocates no location.
        let at = || segment.location();
        while stack.len() > depth + 1 {
            close(&mut stack, &mut b, &at, problems);
        }
        advance(&mut stack, child, &at, problems);
        descend(&mut stack, &mut b, &segment);
    }
    // Whatever is still missing is missing at the end of the message.
    let end = Location {
        segment_index: message.segment_count() + 1,
        byte_offset: message.text().len(),
        ..Location::default()
    };
    let at = || end.clone();
    while stack.len() > 1 {
        close(&mut stack, &mut b, &at, problems);
    }
    let mut root = stack
        .pop()
        .expect("the root frame is never closed in the loop");
    let end = root.rules.len();
    missing_between(&mut root, end, &at, problems);
    b.finish(root.base, end);
    b.tree
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
fn descend(stack: &mut Vec<Frame>, b: &mut Builder, segment: &Segment<'_>) {
    loop {
        let frame = stack.last_mut().expect("stack is never empty");
        let node = frame.rules[frame.child];
        match node.kind {
            NodeKind::Segment(_) => {
                b.open
                    .push((frame.child as u32, Entry::Segment(segment.index())));
                return;
            }
            NodeKind::Group(group) => {
                let mut inner = Frame::new(group.name, group.children, b.open.len());
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
fn close(
    stack: &mut Vec<Frame>,
    b: &mut Builder,
    at: &dyn Fn() -> Location,
    problems: &mut Vec<Problem>,
) {
    let mut frame = stack.pop().expect("close is called above the root");
    let end = frame.rules.len();
    missing_between(&mut frame, end, at, problems);
    let group = b.finish(frame.base, end);
    let parent = stack.last_mut().expect("a closed group has a parent");
    b.open.push((parent.child as u32, Entry::Group(group)));
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
        segment_id: node.name().into(),
        ..at()
    };
    Problem {
        severity: Severity::Error,
        kind: ProblemKind::MissingRequired { what },
        location,
    }
}
