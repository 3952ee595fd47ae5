//! Paths in a site's message: HL7 style (`PID-3`, `OBSERVATION/OBX-5`, `PID-3[1].4.1`) or by
//! generated field names (`patient_result.patient.pid.patient_identifier_list`).

use crate::mapping::manifest::{ElementInfo, MessageInfo, NodeInfo};

/// A segment or group of the message, with its group path.
#[derive(Debug, Clone)]
pub(crate) struct NodeLoc {
    /// Group names then the node's own name, e.g. `["PATIENT_RESULT", "PATIENT", "PID"]`.
    pub(crate) path: Vec<String>,
    pub(crate) info: NodeInfo,
}

impl NodeLoc {
    pub(crate) fn display(&self) -> String {
        self.path.join("/")
    }
}

/// Every segment and group of the message, in message order.
pub(crate) fn nodes(message: &MessageInfo) -> Vec<NodeLoc> {
    fn walk(message: &MessageInfo, ty: &str, path: &[String], out: &mut Vec<NodeLoc>) {
        let Some((_, children)) = message.node(ty) else {
            return;
        };
        for child in children {
            let mut path = path.to_vec();
            path.push(child.name.clone());
            out.push(NodeLoc {
                path: path.clone(),
                info: child.clone(),
            });
            if child.is_group {
                walk(message, &child.ty, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(message, &message.type_name, &[], &mut out);
    out
}

/// What a path names.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    /// A segment or group, optionally one repetition of it.
    Node {
        path: Vec<String>,
        repetition: Option<usize>,
    },
    /// A field (positions has one entry), component or subcomponent of a segment.
    Element {
        segment: Vec<String>,
        positions: Vec<u16>,
        repetition: Option<usize>,
        excluded: bool,
    },
}

/// Resolves `text` in `message`.
pub(crate) fn resolve(message: &MessageInfo, text: &str) -> Result<Resolved, String> {
    if text.contains('.') && text.starts_with(|c: char| c.is_ascii_lowercase()) {
        return resolve_fields(message, text);
    }
    let (node_part, element_part) = match text.split_once('-') {
        Some((node, element)) => (node, Some(element)),
        None => (text, None),
    };
    let (node_part, node_rep) = split_repetition(node_part)?;
    let wanted: Vec<&str> = node_part.split('/').collect();
    if wanted.iter().any(|w| w.is_empty()) {
        return Err(format!(
            "`{text}` is not a path: expected `SEG-3`, `GROUP/SEG-3.1` or `field.names`"
        ));
    }
    let all = nodes(message);
    let candidates: Vec<&NodeLoc> = all
        .iter()
        .filter(|n| {
            n.path.len() >= wanted.len() && n.path[n.path.len() - wanted.len()..] == wanted[..]
        })
        .collect();
    let node = match candidates.as_slice() {
        [one] => *one,
        [] => {
            return Err(format!(
                "`{node_part}` is not a segment or group of {}",
                message.type_name
            ))
        }
        many => {
            return Err(format!(
                "`{node_part}` is ambiguous in {}: write one of {}",
                message.type_name,
                many.iter()
                    .map(|n| n.display())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    };
    let Some(element_part) = element_part else {
        return Ok(Resolved::Node {
            path: node.path.clone(),
            repetition: node_rep,
        });
    };
    if node.info.is_group {
        return Err(format!(
            "`{}` is a group: only segments have fields",
            node.display()
        ));
    }
    if node_rep.is_some() {
        return Err("a segment repetition cannot be chosen in an element path; choose the field's repetition: `PID-3[1]`".into());
    }
    let mut parts = element_part.split('.');
    let (field, repetition) = split_repetition(parts.next().unwrap_or(""))?;
    let mut positions = vec![number(field, text)?];
    for part in parts {
        positions.push(number(part, text)?);
    }
    if positions.len() > 3 {
        return Err(format!("`{text}` goes deeper than a subcomponent"));
    }
    let excluded = check_element(message, &node.info.ty, &positions, text, &node.info.name)?;
    Ok(Resolved::Element {
        segment: node.path.clone(),
        positions,
        repetition,
        excluded,
    })
}

fn number(text: &str, path: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "`{path}`: `{text}` is not a position (positions start at 1)"
        )),
    }
}

fn split_repetition(text: &str) -> Result<(&str, Option<usize>), String> {
    match text.split_once('[') {
        None => Ok((text, None)),
        Some((name, rest)) => {
            let n = rest
                .strip_suffix(']')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n > 0);
            match n {
                Some(n) => Ok((name, Some(n))),
                None => Err(format!("`{text}`: a repetition is `[n]`, counted from 1")),
            }
        }
    }
}

/// Checks the positions exist under segment type `ty`; true when the element is excluded (X).
fn check_element(
    message: &MessageInfo,
    ty: &str,
    positions: &[u16],
    text: &str,
    segment: &str,
) -> Result<bool, String> {
    let mut ty = ty.to_owned();
    let mut label = segment.to_owned();
    for (depth, position) in positions.iter().enumerate() {
        let Some((_, elements)) = message.elements(&ty) else {
            return Err(format!(
                "`{text}`: {label} is a primitive, it has no components"
            ));
        };
        label = if depth == 0 {
            format!("{label}-{position}")
        } else {
            format!("{label}.{position}")
        };
        let Some(element) = elements.iter().find(|e| e.position == *position) else {
            return Err(format!(
                "`{text}`: {label} does not exist in {} (it has {} {})",
                message.type_name,
                elements.len(),
                if depth == 0 { "fields" } else { "components" }
            ));
        };
        if element.field.is_none() {
            return Ok(true);
        }
        ty = element.ty.clone().unwrap_or_default();
    }
    Ok(false)
}

fn resolve_fields(message: &MessageInfo, text: &str) -> Result<Resolved, String> {
    let mut ty = message.type_name.clone();
    let mut path: Vec<String> = Vec::new();
    let mut parts = text.split('.').peekable();
    // Down the segments and groups.
    while let Some(part) = parts.peek() {
        let Some((_, children)) = message.node(&ty) else {
            break;
        };
        let Some(child) = children.iter().find(|c| c.field == *part) else {
            let known: Vec<&str> = children.iter().map(|c| c.field.as_str()).collect();
            return Err(format!(
                "`{text}`: no field `{part}` here; there are: {}",
                known.join(", ")
            ));
        };
        path.push(child.name.clone());
        ty = child.ty.clone();
        parts.next();
        if !child.is_group {
            break;
        }
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        return Ok(Resolved::Node {
            path,
            repetition: None,
        });
    }
    let mut positions = Vec::new();
    for part in rest {
        let Some((_, elements)) = message.elements(&ty) else {
            return Err(format!("`{text}`: `{part}` is below a primitive"));
        };
        let found: Option<&ElementInfo> =
            elements.iter().find(|e| e.field.as_deref() == Some(part));
        let Some(element) = found else {
            let known: Vec<&str> = elements.iter().filter_map(|e| e.field.as_deref()).collect();
            return Err(format!(
                "`{text}`: no field `{part}` here; there are: {}",
                known.join(", ")
            ));
        };
        positions.push(element.position);
        ty = element.ty.clone().unwrap_or_default();
    }
    Ok(Resolved::Element {
        segment: path,
        positions,
        repetition: None,
        excluded: false,
    })
}

/// `PID-3.4` for a segment path and positions.
pub(crate) fn element_label(segment: &[String], positions: &[u16]) -> String {
    let mut out = segment.last().cloned().unwrap_or_default();
    for (i, p) in positions.iter().enumerate() {
        out.push(if i == 0 { '-' } else { '.' });
        out.push_str(&p.to_string());
    }
    out
}
