//! Reads the five spec files of one version (`datatypes.xml`, `segments.xml`,
//! `structures.xml`, `events.xml`, `tables.xml`) into a [`BaseVersion`], checking every
//! cross-reference. All problems found are reported, each located.

use std::collections::BTreeMap;

use super::model::{
    BaseVersion, ComponentDef, DataTypeDef, FieldDef, SegmentDef, StructureDef, StructureNode,
    TableDef, TableKind, TableValue, ANY_SEGMENT,
};
use super::xml::{self, Elem, ElemExt};
use crate::error::{LoadError, SpecError};
use crate::model::{Cardinality, Condition, Length, Usage};
use crate::source::SourceFile;

/// The spec files of one version, in the order [`FILE_NAMES`] gives.
pub(crate) const FILE_NAMES: [&str; 5] = [
    "datatypes.xml",
    "segments.xml",
    "structures.xml",
    "events.xml",
    "tables.xml",
];

/// Parses and checks one version's files (given in [`FILE_NAMES`] order).
pub(crate) fn read_version(
    version: &str,
    files: &[SourceFile; 5],
) -> Result<BaseVersion, LoadError> {
    let mut errors = Vec::new();
    let mut roots = Vec::new();
    let roots_spec = ["DataTypes", "Segments", "Structures", "Events", "Tables"];
    for (file, root_name) in files.iter().zip(roots_spec) {
        match xml::parse(file) {
            Ok(root) => match check_root(file, root, root_name, version) {
                Ok(root) => roots.push(root),
                Err(e) => errors.push(e.into()),
            },
            Err(e) => errors.push(e),
        }
    }
    if let Some(error) = LoadError::from_all(errors) {
        return Err(error);
    }
    let mut r = Reader {
        errors: Vec::new(),
        base: empty(version),
    };
    r.datatypes(&files[0], &roots[0]);
    r.segments(&files[1], &roots[1]);
    r.structures(&files[2], &roots[2]);
    r.events(&files[3], &roots[3]);
    r.tables(&files[4], &roots[4]);
    r.check_references(files);
    if r.errors.is_empty() {
        Ok(r.base)
    } else {
        let all = r.errors.into_iter().map(LoadError::from).collect();
        Err(LoadError::from_all(all).unwrap_or_else(|| LoadError::Many(Vec::new())))
    }
}

fn empty(version: &str) -> BaseVersion {
    BaseVersion {
        version: version.to_owned(),
        datatypes: BTreeMap::new(),
        segments: BTreeMap::new(),
        structures: BTreeMap::new(),
        events: BTreeMap::new(),
        tables: BTreeMap::new(),
    }
}

fn check_root(file: &SourceFile, root: Elem, name: &str, version: &str) -> Result<Elem, SpecError> {
    if root.name != name {
        return Err(root.unexpected(file, &format!("the root element `<{name}>`")));
    }
    let found = root.req(file, "Version")?;
    if found != version {
        return Err(root.error_at(
            file,
            "Version",
            format!("file is for HL7 {found}, expected {version}"),
        ));
    }
    Ok(root)
}

struct Reader {
    errors: Vec<SpecError>,
    base: BaseVersion,
}

/// Attribute parsing with located errors.
struct Attrs<'a> {
    file: &'a SourceFile,
    elem: &'a Elem,
}

impl Attrs<'_> {
    fn req(&self, key: &str) -> Result<String, SpecError> {
        self.elem.req(self.file, key).map(str::to_owned)
    }

    fn opt(&self, key: &str) -> Option<String> {
        self.elem.get(key).map(str::to_owned)
    }

    fn number<T: std::str::FromStr>(&self, key: &str, text: &str) -> Result<T, SpecError> {
        text.parse().map_err(|_| {
            self.elem.error_at(
                self.file,
                key,
                format!("`{key}` must be a number, found `{text}`"),
            )
        })
    }

    fn seq(&self, expected: usize) -> Result<u16, SpecError> {
        let seq: u16 = self.number("Seq", self.elem.req(self.file, "Seq")?)?;
        if usize::from(seq) != expected {
            return Err(self.elem.error_at(
                self.file,
                "Seq",
                format!("`Seq` is {seq}, expected {expected}"),
            ));
        }
        Ok(seq)
    }

    fn usage(&self) -> Result<Usage, SpecError> {
        Ok(match self.elem.req(self.file, "Usage")? {
            "R" => Usage::R,
            "RE" => Usage::RE,
            "O" => Usage::O,
            "C" => Usage::C(Condition::default()),
            "CE" => Usage::CE(Condition::default()),
            "X" => Usage::X,
            "B" => Usage::B,
            "W" => Usage::W,
            other => {
                return Err(self
                    .elem
                    .error_at(self.file, "Usage", format!("unknown usage `{other}`"))
                    .with_help("expected one of R, RE, O, C, CE, X, B, W"))
            }
        })
    }

    fn cardinality(&self) -> Result<Cardinality, SpecError> {
        let min: u32 = self.number("Min", self.elem.req(self.file, "Min")?)?;
        let max = match self.elem.req(self.file, "Max")? {
            "*" => None,
            text => Some(self.number::<u32>("Max", text)?),
        };
        if max.is_some_and(|max| max < min) {
            return Err(self
                .elem
                .error_at(self.file, "Max", "`Max` is less than `Min`"));
        }
        Ok(Cardinality { min, max })
    }

    fn length(&self) -> Result<Option<Length>, SpecError> {
        let Some(text) = self.elem.get("Length") else {
            return Ok(None);
        };
        let (min, max) = text.split_once("..").unwrap_or(("0", text));
        let min = self.number("Length", min)?;
        let max = if max == "*" {
            None
        } else {
            Some(self.number("Length", max)?)
        };
        Ok(Some(Length { min, max }))
    }
}

impl Reader {
    fn run<T>(&mut self, result: Result<T, SpecError>) -> Option<T> {
        result.map_err(|e| self.errors.push(e)).ok()
    }

    /// Children of `parent` named `name`; others are reported.
    fn children<'e>(&mut self, file: &SourceFile, parent: &'e Elem, name: &str) -> Vec<&'e Elem> {
        let mut out = Vec::new();
        for child in &parent.children {
            if child.name == name {
                out.push(child);
            } else {
                self.errors
                    .push(child.unexpected(file, &format!("`<{name}>`")));
            }
        }
        out
    }

    fn insert<T>(
        &mut self,
        file: &SourceFile,
        elem: &Elem,
        key_attr: &str,
        map_key: String,
        value: T,
        map: fn(&mut BaseVersion) -> &mut BTreeMap<String, T>,
    ) {
        if map(&mut self.base).insert(map_key.clone(), value).is_some() {
            self.errors.push(elem.error_at(
                file,
                key_attr,
                format!("`{map_key}` is defined twice"),
            ));
        }
    }

    fn datatypes(&mut self, file: &SourceFile, root: &Elem) {
        for dt in self.children(file, root, "DataType") {
            dt.check_attrs(file, &["Name", "LongName"], &mut self.errors);
            let a = Attrs { file, elem: dt };
            let Some(name) = self.run(a.req("Name")) else {
                continue;
            };
            let mut components = Vec::new();
            for (i, c) in self.children(file, dt, "Component").into_iter().enumerate() {
                c.check_attrs(
                    file,
                    &["Seq", "Name", "Datatype", "Usage", "Length", "Table"],
                    &mut self.errors,
                );
                let a = Attrs { file, elem: c };
                let parsed = (|| {
                    Ok(ComponentDef {
                        position: a.seq(i + 1)?,
                        name: a.req("Name")?,
                        datatype: a.req("Datatype")?,
                        usage: a.usage()?,
                        length: a.length()?,
                        table: a.opt("Table"),
                        span: c.span(file),
                    })
                })();
                components.extend(self.run(parsed));
            }
            let def = DataTypeDef {
                name: name.clone(),
                long_name: a.opt("LongName"),
                components,
                span: dt.span(file),
            };
            self.insert(file, dt, "Name", name, def, |b| &mut b.datatypes);
        }
    }

    fn segments(&mut self, file: &SourceFile, root: &Elem) {
        for seg in self.children(file, root, "Segment") {
            seg.check_attrs(file, &["Name", "LongName"], &mut self.errors);
            let a = Attrs { file, elem: seg };
            let Some(name) = self.run(a.req("Name")) else {
                continue;
            };
            let mut fields = Vec::new();
            for (i, f) in self.children(file, seg, "Field").into_iter().enumerate() {
                f.check_attrs(
                    file,
                    &[
                        "Seq", "Name", "Datatype", "Usage", "Min", "Max", "Length", "Table",
                        "ItemNo",
                    ],
                    &mut self.errors,
                );
                let a = Attrs { file, elem: f };
                let parsed = (|| {
                    Ok(FieldDef {
                        position: a.seq(i + 1)?,
                        name: a.req("Name")?,
                        datatype: a.req("Datatype")?,
                        usage: a.usage()?,
                        cardinality: a.cardinality()?,
                        length: a.length()?,
                        table: a.opt("Table"),
                        item_no: a.opt("ItemNo"),
                        span: f.span(file),
                    })
                })();
                fields.extend(self.run(parsed));
            }
            let def = SegmentDef {
                name: name.clone(),
                long_name: a.opt("LongName"),
                fields,
                span: seg.span(file),
            };
            self.insert(file, seg, "Name", name, def, |b| &mut b.segments);
        }
    }

    fn structures(&mut self, file: &SourceFile, root: &Elem) {
        for st in self.children(file, root, "Structure") {
            st.check_attrs(file, &["Id", "Description", "Source"], &mut self.errors);
            let a = Attrs { file, elem: st };
            let Some(id) = self.run(a.req("Id")) else {
                continue;
            };
            let children = self.nodes(file, st);
            let def = StructureDef {
                id: id.clone(),
                description: a.opt("Description"),
                children,
                span: st.span(file),
            };
            self.insert(file, st, "Id", id, def, |b| &mut b.structures);
        }
    }

    fn nodes(&mut self, file: &SourceFile, parent: &Elem) -> Vec<StructureNode> {
        let mut out = Vec::new();
        for child in &parent.children {
            let a = Attrs { file, elem: child };
            let node = match child.name.as_str() {
                "Segment" => {
                    child.check_attrs(file, &["Ref", "Usage", "Min", "Max"], &mut self.errors);
                    let parsed = (|| {
                        Ok(StructureNode::Segment {
                            name: a.req("Ref")?,
                            usage: a.usage()?,
                            cardinality: a.cardinality()?,
                            span: child.span(file),
                        })
                    })();
                    self.run(parsed)
                }
                "Group" => {
                    child.check_attrs(
                        file,
                        &["Name", "Usage", "Min", "Max", "Choice"],
                        &mut self.errors,
                    );
                    let children = self.nodes(file, child);
                    let parsed = (|| {
                        Ok(StructureNode::Group {
                            name: a.req("Name")?,
                            usage: a.usage()?,
                            cardinality: a.cardinality()?,
                            choice: match child.get("Choice") {
                                None | Some("false") => false,
                                Some("true") => true,
                                Some(other) => {
                                    return Err(child.error_at(
                                        file,
                                        "Choice",
                                        format!("`Choice` must be true or false, found `{other}`"),
                                    ))
                                }
                            },
                            children,
                            span: child.span(file),
                        })
                    })();
                    self.run(parsed)
                }
                _ => {
                    self.errors
                        .push(child.unexpected(file, "`<Segment>` or `<Group>`"));
                    None
                }
            };
            out.extend(node);
        }
        out
    }

    fn events(&mut self, file: &SourceFile, root: &Elem) {
        for ev in self.children(file, root, "Event") {
            ev.check_attrs(file, &["Type", "Event", "Structure"], &mut self.errors);
            let a = Attrs { file, elem: ev };
            let Some((key, structure)) = self.run((|| {
                Ok(((a.req("Type")?, a.req("Event")?), a.req("Structure")?))
            })()) else {
                continue;
            };
            if !self.base.structures.contains_key(&structure) {
                self.errors.push(ev.error_at(
                    file,
                    "Structure",
                    format!("unknown message structure `{structure}`"),
                ));
            }
            if self.base.events.insert(key.clone(), structure).is_some() {
                self.errors.push(ev.error_at(
                    file,
                    "Event",
                    format!("event `{}^{}` is listed twice", key.0, key.1),
                ));
            }
        }
    }

    fn tables(&mut self, file: &SourceFile, root: &Elem) {
        for t in self.children(file, root, "Table") {
            t.check_attrs(file, &["Id", "Name", "Type", "Source"], &mut self.errors);
            let a = Attrs { file, elem: t };
            let Some(id) = self.run(a.req("Id")) else {
                continue;
            };
            let kind = match t.get("Type") {
                None => TableKind::Unspecified,
                Some("HL7") => TableKind::Hl7,
                Some("User") => TableKind::User,
                Some(other) => {
                    self.errors.push(
                        t.error_at(file, "Type", format!("unknown table type `{other}`"))
                            .with_help("expected HL7 or User"),
                    );
                    TableKind::Unspecified
                }
            };
            let mut values = Vec::new();
            for v in self.children(file, t, "Value") {
                v.check_attrs(file, &["Code", "Description"], &mut self.errors);
                let a = Attrs { file, elem: v };
                values.extend(self.run(a.req("Code")).map(|code| TableValue {
                    code,
                    description: a.opt("Description"),
                }));
            }
            let def = TableDef {
                id: id.clone(),
                name: a.opt("Name"),
                kind,
                source: a.opt("Source"),
                values,
                span: t.span(file),
            };
            self.insert(file, t, "Id", id, def, |b| &mut b.tables);
        }
    }
}

impl Reader {
    /// Every data type, table and segment named anywhere is defined.
    fn check_references(&mut self, files: &[SourceFile; 5]) {
        let b = &self.base;
        let mut found = Vec::new();
        let mut check = |span: &crate::Span, what: &str, name: &str, known: bool| {
            if !known {
                let mut e = SpecError::at_span(span.clone(), format!("unknown {what} `{name}`"));
                e.line_text = files
                    .iter()
                    .find(|f| **f.path() == *span.file)
                    .and_then(|f| f.line_text(span.line))
                    .map(str::to_owned);
                found.push(e);
            }
        };
        for dt in b.datatypes.values() {
            for c in &dt.components {
                check(
                    &c.span,
                    "data type",
                    &c.datatype,
                    b.datatypes.contains_key(&c.datatype),
                );
                if let Some(t) = &c.table {
                    check(&c.span, "table", t, b.tables.contains_key(t));
                }
            }
        }
        for seg in b.segments.values() {
            for f in &seg.fields {
                check(
                    &f.span,
                    "data type",
                    &f.datatype,
                    b.datatypes.contains_key(&f.datatype),
                );
                if let Some(t) = &f.table {
                    check(&f.span, "table", t, b.tables.contains_key(t));
                }
            }
        }
        let mut stack: Vec<&StructureNode> =
            b.structures.values().flat_map(|s| &s.children).collect();
        while let Some(node) = stack.pop() {
            match node {
                StructureNode::Segment { name, span, .. } => {
                    let known = name == ANY_SEGMENT || b.segments.contains_key(name);
                    check(span, "segment", name, known);
                }
                StructureNode::Group { children, .. } => stack.extend(children),
            }
        }
        found.sort_by(|a, b| a.span.cmp(&b.span));
        self.errors.extend(found);
    }
}
