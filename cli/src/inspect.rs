//! `hl7 inspect`: every message as a tree of named items, as JSON, or re-encoded as ER7.
//!
//! Names come from the bundled base version that MSH-12 names (2.5.1 when it is unknown):
//! field names from the segment definition, component and subcomponent names from the
//! field's data type (OBX-5 takes its data type from OBX-2). Only valued items are shown,
//! with their escape sequences decoded.

use std::io::{self, Write};
use std::path::PathBuf;

use hl7_runtime::er7::{encode_text, Component, Message, Repetition, Segment};
use hl7_spec::base::{self, BaseVersion, DataTypeDef};
use serde_json::{json, Map, Value};

use crate::input::{describe, Input};
use crate::{report, Status};

/// The base version used when MSH-12 names no bundled version.
const FALLBACK_VERSION: &str = "2.5.1";

/// What `inspect` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The indented tree.
    Tree,
    /// A JSON array of messages.
    Json,
    /// The messages re-encoded.
    Er7,
}

/// Runs `hl7 inspect` over `files`.
pub(crate) fn run(files: &[PathBuf], mode: Mode, out: &mut dyn Write) -> io::Result<Status> {
    let mut status = Status::Success;
    let mut json = Vec::new();
    for path in files {
        let input = match Input::read(path) {
            Ok(input) => input,
            Err(err) => {
                report(err);
                status = Status::Failed;
                continue;
            }
        };
        let entries = match input.messages() {
            Ok(entries) => entries,
            Err(err) => {
                report(err);
                status = Status::Failed;
                continue;
            }
        };
        for (number, parsed) in entries {
            let message = match parsed {
                Ok(message) => message,
                Err(err) => {
                    report(format_args!(
                        "{}: {}: {err}",
                        input.path,
                        describe(number, None)
                    ));
                    status = Status::Failed;
                    continue;
                }
            };
            match mode {
                Mode::Er7 => match encode_text(&message.encode(), input.charset) {
                    Ok(bytes) => out.write_all(&bytes)?,
                    Err(err) => {
                        let what = describe(number, Some(&message));
                        report(format_args!("{}: {what}: {err}", input.path));
                        status = Status::Failed;
                    }
                },
                Mode::Tree | Mode::Json => {
                    let tree = MessageTree::build(&input.path, number, &message);
                    if mode == Mode::Tree {
                        tree.write_text(out)?;
                    } else {
                        json.push(tree.to_json());
                    }
                }
            }
        }
    }
    if mode == Mode::Json {
        let text = serde_json::to_string_pretty(&Value::Array(json)).map_err(io::Error::other)?;
        writeln!(out, "{text}")?;
    }
    Ok(status)
}

/// The bundled base that names the items of a message.
struct Names {
    /// The base, if even the fallback failed to load (then nothing is named).
    base: Option<&'static BaseVersion>,
}

impl Names {
    /// The base of `version`, or of [`FALLBACK_VERSION`].
    fn for_version(version: Option<&str>) -> Names {
        let base = version
            .and_then(|v| base::load(v).ok())
            .or_else(|| base::load(FALLBACK_VERSION).ok());
        Names { base }
    }

    /// The version whose names are used.
    fn version(&self) -> Option<&'static str> {
        self.base.map(|b| b.version.as_str())
    }

    fn datatype(&self, name: &str) -> Option<&'static DataTypeDef> {
        self.base?.datatypes.get(name)
    }

    /// Name and data type of field `n` of segment `id`.
    fn field(&self, id: &str, n: usize) -> (Option<&'static str>, Option<&'static str>) {
        let def = self
            .base
            .and_then(|b| b.segments.get(id))
            .and_then(|s| s.fields.iter().find(|f| usize::from(f.position) == n));
        match def {
            Some(f) => (Some(f.name.trim()), Some(f.datatype.as_str())),
            None => (None, None),
        }
    }

    /// Name and data type of component `n` of data type `datatype`.
    fn component(
        &self,
        datatype: Option<&str>,
        n: usize,
    ) -> (Option<&'static str>, Option<&'static str>) {
        let def = datatype
            .and_then(|d| self.datatype(d))
            .and_then(|d| d.components.iter().find(|c| usize::from(c.position) == n));
        match def {
            Some(c) => (Some(c.name.trim()), Some(c.datatype.as_str())),
            None => (None, None),
        }
    }
}

/// One message, named and decoded, ready to print.
struct MessageTree {
    file: String,
    number: usize,
    control_id: Option<String>,
    message_type: String,
    version: Option<String>,
    names_version: Option<&'static str>,
    segments: Vec<SegmentNode>,
}

/// A segment and its valued fields.
struct SegmentNode {
    id: String,
    /// 1-based position in the message.
    index: usize,
    name: Option<&'static str>,
    fields: Vec<Node>,
}

/// A valued field, repetition, component or subcomponent.
struct Node {
    /// Path of the item, e.g. `PID-3[2].4.1`.
    path: String,
    /// 1-based number at its level.
    number: usize,
    name: Option<&'static str>,
    datatype: Option<&'static str>,
    /// Its items one level down.
    content: Content,
}

/// What a node holds.
enum Content {
    /// A value without delimiters of a lower level, decoded.
    Value(String),
    /// Repetitions of a field (when there are several).
    Repetitions(Vec<Node>),
    /// Components of a repetition.
    Components(Vec<Node>),
    /// Subcomponents of a component.
    Subcomponents(Vec<Node>),
}

impl MessageTree {
    fn build(file: &str, number: usize, message: &Message<'_>) -> MessageTree {
        let version = message.version().map(str::to_owned);
        let names = Names::for_version(message.version());
        let base = names.base;
        let segments = message
            .segments()
            .map(|segment| SegmentNode {
                id: segment.id().to_owned(),
                index: segment.index() + 1,
                name: base
                    .and_then(|b| b.segments.get(segment.id()))
                    .and_then(|s| s.long_name.as_deref())
                    .map(str::trim),
                fields: fields(&names, &segment),
            })
            .collect();
        let (code, event, structure) = message.message_type();
        let message_type = [code, event, structure]
            .iter()
            .map(|part| part.unwrap_or(""))
            .collect::<Vec<_>>()
            .join("^")
            .trim_end_matches('^')
            .to_owned();
        MessageTree {
            file: file.to_owned(),
            number,
            control_id: message.control_id().map(str::to_owned),
            message_type,
            version,
            names_version: names.version(),
            segments,
        }
    }

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        write!(out, "{}: message {}", self.file, self.number)?;
        if let Some(id) = &self.control_id {
            write!(out, " (MSH-10 = {id})")?;
        }
        let mut about = Vec::new();
        if !self.message_type.is_empty() {
            about.push(self.message_type.clone());
        }
        about.push(match &self.version {
            Some(version) => format!("HL7 {version}"),
            None => "no HL7 version".to_owned(),
        });
        match self.names_version {
            Some(names) if Some(names) != self.version.as_deref() => {
                about.push(format!("names from {names}"));
            }
            _ => {}
        }
        writeln!(out, ": {}", about.join(", "))?;
        for segment in &self.segments {
            write!(out, "  {}({})", segment.id, segment.index)?;
            if let Some(name) = segment.name {
                write!(out, " {name}")?;
            }
            writeln!(out)?;
            for field in &segment.fields {
                field.write_text(out, 2)?;
            }
        }
        Ok(())
    }

    fn to_json(&self) -> Value {
        let segments: Vec<Value> = self
            .segments
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "index": s.index,
                    "name": s.name,
                    "fields": s.fields.iter().map(Node::to_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "file": self.file,
            "message": self.number,
            "control_id": self.control_id,
            "type": self.message_type,
            "version": self.version,
            "names_version": self.names_version,
            "segments": segments,
        })
    }
}

impl Node {
    fn write_text(&self, out: &mut dyn Write, depth: usize) -> io::Result<()> {
        let indent = "  ".repeat(depth);
        write!(out, "{indent}{}", self.path)?;
        if let Some(name) = self.name {
            write!(out, " {name}")?;
        }
        if let Some(datatype) = self.datatype {
            write!(out, " [{datatype}]")?;
        }
        match &self.content {
            Content::Value(value) => writeln!(out, " = {}", one_line(value)),
            Content::Repetitions(items)
            | Content::Components(items)
            | Content::Subcomponents(items) => {
                writeln!(out)?;
                items
                    .iter()
                    .try_for_each(|item| item.write_text(out, depth + 1))
            }
        }
    }

    fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("number".into(), json!(self.number));
        if let Some(name) = self.name {
            object.insert("name".into(), json!(name));
        }
        if let Some(datatype) = self.datatype {
            object.insert("datatype".into(), json!(datatype));
        }
        let (key, value) = match &self.content {
            Content::Value(value) => ("value", json!(value)),
            Content::Repetitions(items) => ("repetitions", items_json(items)),
            Content::Components(items) => ("components", items_json(items)),
            Content::Subcomponents(items) => ("subcomponents", items_json(items)),
        };
        object.insert(key.into(), value);
        Value::Object(object)
    }
}

/// A value on one line of the tree: line breaks (from `\X0D\` and the like) shown escaped.
fn one_line(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\r', '\n']) {
        value.replace('\r', "\\r").replace('\n', "\\n").into()
    } else {
        value.into()
    }
}

fn items_json(items: &[Node]) -> Value {
    Value::Array(items.iter().map(Node::to_json).collect())
}

/// The valued fields of a segment.
fn fields(names: &Names, segment: &Segment<'_>) -> Vec<Node> {
    let id = segment.id();
    segment
        .fields()
        .filter(|field| !field.is_empty())
        .map(|field| {
            let number = field.number();
            let (name, mut datatype) = names.field(id, number);
            if id == "OBX" && number == 5 {
                datatype = varies_type(names, segment).or(datatype);
            }
            let path = format!("{id}-{number}");
            let content = if field.repetition_count() > 1 {
                let reps = field
                    .repetitions()
                    .filter(|rep| !rep.is_empty())
                    .map(|rep| {
                        let path = format!("{path}[{}]", rep.number());
                        let content = repetition(names, datatype, &path, &rep);
                        Node {
                            path,
                            number: rep.number(),
                            name: None,
                            datatype: None,
                            content,
                        }
                    })
                    .collect();
                Content::Repetitions(reps)
            } else {
                match field.repetition(1) {
                    Some(rep) => repetition(names, datatype, &path, &rep),
                    None => Content::Value(field.decoded().into_owned()),
                }
            };
            Node {
                path,
                number,
                name,
                datatype,
                content,
            }
        })
        .collect()
}

/// The data type OBX-2 gives OBX-5, when the base knows it.
fn varies_type(names: &Names, segment: &Segment<'_>) -> Option<&'static str> {
    let raw = segment.field(2)?.repetition(1)?.component(1)?.raw();
    names
        .base?
        .datatypes
        .get_key_value(raw.trim())
        .map(|(k, _)| k.as_str())
}

/// A repetition: its value, or its valued components.
fn repetition(names: &Names, datatype: Option<&str>, path: &str, rep: &Repetition<'_>) -> Content {
    let first = rep.component(1);
    if rep.component_count() <= 1 && first.is_none_or(|c| c.subcomponent_count() <= 1) {
        return Content::Value(rep.decoded().into_owned());
    }
    let parts = rep
        .components()
        .filter(|c| !c.is_empty())
        .map(|c| {
            let (name, datatype) = names.component(datatype, c.number());
            let path = format!("{path}.{}", c.number());
            let content = component(names, datatype, &path, &c);
            Node {
                path,
                number: c.number(),
                name,
                datatype,
                content,
            }
        })
        .collect();
    Content::Components(parts)
}

/// A component: its value, or its valued subcomponents, named after `datatype`.
fn component(names: &Names, datatype: Option<&str>, path: &str, c: &Component<'_>) -> Content {
    if c.subcomponent_count() <= 1 {
        return Content::Value(c.decoded().into_owned());
    }
    let parts = c
        .subcomponents()
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (name, datatype) = names.component(datatype, s.number());
            Node {
                path: format!("{path}.{}", s.number()),
                number: s.number(),
                name,
                datatype,
                content: Content::Value(s.decoded().into_owned()),
            }
        })
        .collect();
    Content::Subcomponents(parts)
}
