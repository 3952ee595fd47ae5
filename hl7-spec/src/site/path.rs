//! Paths of site-profile rules: `PATIENT_RESULT/PATIENT/PID`, a bare `PID`, `ROL[2]`, and field
//! paths `PID-3`, `PID-3.4`, `PID-3.4.1`; and their lookup in a message structure.
//!
//! A node path matches every segment or group whose full path ends with the given steps, so a
//! bare `PID` finds `PATIENT_RESULT/PATIENT/PID` when it is the only PID. A path that matches
//! from the root wins over deeper matches. `[n]` picks the n-th of same-named siblings.

use crate::model::Node;

/// One step of a node path: a segment or group name, optionally `[n]` (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) name: String,
    pub(crate) index: Option<usize>,
}

/// Parses `A/B/SEG` or `SEG[2]`.
pub(crate) fn parse_node_path(text: &str) -> Result<Vec<Step>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the path is empty".to_owned());
    }
    text.split('/').map(parse_step).collect()
}

fn parse_step(step: &str) -> Result<Step, String> {
    let (name, index) = match step.split_once('[') {
        Some((name, rest)) => {
            let number = rest
                .strip_suffix(']')
                .ok_or_else(|| format!("`{step}`: `[` without `]`"))?;
            let n = number
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{step}`: the index must be a number from 1"))?;
            (name, Some(n))
        }
        None => (step, None),
    };
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(format!("`{step}` is not a segment or group name"));
    }
    Ok(Step {
        name: name.to_owned(),
        index,
    })
}

/// Parses `SEGPATH-field[.component[.subcomponent]]` into the node path and the positions.
pub(crate) fn parse_field_path(text: &str) -> Result<(Vec<Step>, Vec<u16>), String> {
    let text = text.trim();
    let Some((node, numbers)) = text.rsplit_once('-') else {
        return Err(format!(
            "`{text}` is not a field path like `PID-3` or `PID-3.4.1`"
        ));
    };
    let steps = parse_node_path(node)?;
    let positions = numbers
        .split('.')
        .map(|n| n.parse::<u16>().ok().filter(|n| *n > 0))
        .collect::<Option<Vec<u16>>>()
        .ok_or_else(|| {
            format!(
                "`{numbers}` is not `field`, `field.component` or `field.component.subcomponent`"
            )
        })?;
    if positions.len() > 3 {
        return Err(format!("`{numbers}` is deeper than subcomponents"));
    }
    Ok((steps, positions))
}

/// A segment or group of a structure, addressed by indices into the children lists.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Index into the message's children, then into each group's children.
    pub(crate) address: Vec<usize>,
    /// Name, occurrence among same-named siblings (1-based) and whether the name repeats there.
    steps: Vec<(String, usize, bool)>,
    /// True for a group.
    pub(crate) is_group: bool,
}

impl Entry {
    /// The full path, with `[n]` where a name repeats among siblings.
    pub(crate) fn display(&self) -> String {
        self.steps
            .iter()
            .map(|(name, n, repeated)| {
                if *repeated {
                    format!("{name}[{n}]")
                } else {
                    name.clone()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The segment or group name.
    pub(crate) fn name(&self) -> &str {
        self.steps.last().map_or("", |(name, _, _)| name)
    }

    fn matches(&self, steps: &[Step]) -> bool {
        steps.len() <= self.steps.len()
            && self.steps[self.steps.len() - steps.len()..]
                .iter()
                .zip(steps)
                .all(|((name, n, _), step)| {
                    *name == step.name && step.index.is_none_or(|i| i == *n)
                })
    }
}

/// Every segment and group of `nodes`, depth first.
pub(crate) fn entries(nodes: &[Node]) -> Vec<Entry> {
    let mut out = Vec::new();
    collect(nodes, &mut Vec::new(), &mut Vec::new(), &mut out);
    out
}

fn collect(
    nodes: &[Node],
    address: &mut Vec<usize>,
    steps: &mut Vec<(String, usize, bool)>,
    out: &mut Vec<Entry>,
) {
    for (i, node) in nodes.iter().enumerate() {
        let occurrence = nodes[..i]
            .iter()
            .filter(|n| n.name() == node.name())
            .count()
            + 1;
        let repeated = nodes.iter().filter(|n| n.name() == node.name()).count() > 1;
        address.push(i);
        steps.push((node.name().to_owned(), occurrence, repeated));
        out.push(Entry {
            address: address.clone(),
            steps: steps.clone(),
            is_group: matches!(node, Node::Group(_)),
        });
        if let Node::Group(g) = node {
            collect(&g.children, address, steps, out);
        }
        address.pop();
        steps.pop();
    }
}

/// Why a path found no single node.
pub(crate) enum Miss {
    /// Nothing matches; the full paths of nodes with the same last name, if any.
    NotFound(Vec<String>),
    /// Several match: their full paths.
    Ambiguous(Vec<String>),
}

/// The single node `steps` names in `nodes`.
pub(crate) fn find(nodes: &[Node], steps: &[Step]) -> Result<Entry, Miss> {
    let all = entries(nodes);
    let mut found: Vec<&Entry> = all.iter().filter(|e| e.matches(steps)).collect();
    if found.iter().any(|e| e.steps.len() == steps.len()) {
        found.retain(|e| e.steps.len() == steps.len());
    }
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let last = steps.last().map(|s| s.name.as_str()).unwrap_or_default();
            let similar = all
                .iter()
                .filter(|e| e.steps.last().is_some_and(|(name, _, _)| name == last))
                .map(Entry::display)
                .collect();
            Err(Miss::NotFound(similar))
        }
        many => Err(Miss::Ambiguous(many.iter().map(|e| e.display()).collect())),
    }
}

/// The node at `address`.
pub(crate) fn node_mut<'a>(nodes: &'a mut [Node], address: &[usize]) -> Option<&'a mut Node> {
    let (first, rest) = address.split_first()?;
    let node = nodes.get_mut(*first)?;
    match (rest.is_empty(), node) {
        (true, node) => Some(node),
        (false, Node::Group(g)) => node_mut(&mut g.children, rest),
        (false, Node::Segment(_)) => None,
    }
}

/// The children list that holds the node at `address`.
pub(crate) fn siblings_mut<'a>(
    nodes: &'a mut Vec<Node>,
    address: &[usize],
) -> Option<&'a mut Vec<Node>> {
    match address.split_first()? {
        (_, []) => Some(nodes),
        (first, rest) => match nodes.get_mut(*first)? {
            Node::Group(g) => siblings_mut(&mut g.children, rest),
            Node::Segment(_) => None,
        },
    }
}
