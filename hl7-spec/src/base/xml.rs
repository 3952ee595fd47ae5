//! A small located XML tree for the base spec files: elements with attributes and byte offsets,
//! so every later error can point at `file:line:col`.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::SpecError;
use crate::source::{SourceFile, Span};

/// An element: name, attributes in document order, children, and where its `<` is.
#[derive(Debug)]
pub(crate) struct Elem {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Elem>,
    pub(crate) offset: usize,
}

/// Parses a whole file into its root element. Comments, the declaration and whitespace are
/// skipped; any other text is an error.
pub(crate) fn parse(file: &SourceFile) -> Result<Elem, SpecError> {
    let mut reader = Reader::from_str(file.text());
    let mut stack: Vec<Elem> = Vec::new();
    let mut root = None;
    loop {
        let offset = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            SpecError::at(
                file,
                reader.error_position() as usize,
                format!("malformed XML: {e}"),
            )
        })?;
        match event {
            Event::Start(start) => stack.push(element(file, &start, offset)?),
            Event::Empty(start) => {
                let elem = element(file, &start, offset)?;
                attach(file, &mut stack, &mut root, elem)?;
            }
            Event::End(_) => {
                // quick-xml checks that end names match their start.
                if let Some(elem) = stack.pop() {
                    attach(file, &mut stack, &mut root, elem)?;
                }
            }
            Event::Text(text) => {
                let raw = text.into_inner();
                if let Some(i) = raw.iter().position(|b| !b.is_ascii_whitespace()) {
                    return Err(SpecError::at(file, offset + i, "unexpected text"));
                }
            }
            Event::CData(_) => return Err(SpecError::at(file, offset, "unexpected CDATA")),
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(SpecError::at(
            file,
            open.offset,
            format!("`<{}>` is never closed", open.name),
        ));
    }
    root.ok_or_else(|| SpecError::at(file, 0, "no root element"))
}

fn attach(
    file: &SourceFile,
    stack: &mut [Elem],
    root: &mut Option<Elem>,
    elem: Elem,
) -> Result<(), SpecError> {
    if let Some(parent) = stack.last_mut() {
        parent.children.push(elem);
    } else if root.is_some() {
        return Err(SpecError::at(file, elem.offset, "a second root element"));
    } else {
        *root = Some(elem);
    }
    Ok(())
}

fn element(file: &SourceFile, start: &BytesStart<'_>, offset: usize) -> Result<Elem, SpecError> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr =
            attr.map_err(|e| SpecError::at(file, offset, format!("malformed attribute: {e}")))?;
        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        let value = attr
            .unescape_value()
            .map_err(|e| SpecError::at(file, offset, format!("bad escape in `{key}`: {e}")))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Elem {
        name,
        attrs,
        children: Vec::new(),
        offset,
    })
}

impl Elem {
    /// The value of an attribute.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a required attribute.
    pub(crate) fn req(&self, file: &SourceFile, key: &str) -> Result<&str, SpecError> {
        self.get(key).ok_or_else(|| {
            SpecError::at(
                file,
                self.offset,
                format!("`<{}>` lacks the `{key}` attribute", self.name),
            )
        })
    }

    /// Where the element starts.
    pub(crate) fn span(&self, file: &SourceFile) -> Span {
        file.span(self.offset)
    }

    /// An error at an attribute of this element (at its name when found, else at the element).
    pub(crate) fn error_at(
        &self,
        file: &SourceFile,
        key: &str,
        message: impl Into<String>,
    ) -> SpecError {
        let text = &file.text()[self.offset..];
        let tag_end = text.find('>').unwrap_or(text.len());
        let needle = format!(" {key}=");
        let at = text[..tag_end]
            .find(&needle)
            .map_or(self.offset, |i| self.offset + i + 1);
        SpecError::at(file, at, message)
    }

    /// Errors for attributes that are not in `allowed`.
    pub(crate) fn check_attrs(
        &self,
        file: &SourceFile,
        allowed: &[&str],
        errors: &mut Vec<SpecError>,
    ) {
        for (key, _) in &self.attrs {
            if !allowed.contains(&key.as_str()) {
                errors.push(
                    self.error_at(
                        file,
                        key,
                        format!("unknown attribute `{key}` on `<{}>`", self.name),
                    )
                    .with_help(format!("expected one of: {}", allowed.join(", "))),
                );
            }
        }
    }

    /// An error saying this element is not expected where it is.
    pub(crate) fn unexpected(&self, file: &SourceFile, expected: &str) -> SpecError {
        SpecError::at(
            file,
            self.offset,
            format!("unexpected element `<{}>`", self.name),
        )
        .with_help(format!("expected {expected}"))
    }
}
