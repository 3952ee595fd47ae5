//! A small located XML tree, built with quick-xml, shared by the profile and site readers.
//!
//! Every element remembers the byte offset of its `<`, every attribute the offsets of its name
//! and value, so later checks can point at the exact spot. Comments, processing instructions
//! (`<?xml-stylesheet?>`), the XML declaration and DOCTYPE are skipped.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::error::{LoadError, SpecError};
use crate::source::SourceFile;

/// One element with its attributes, children and text.
#[derive(Debug, Clone)]
pub(crate) struct XmlElement {
    /// Element name as written (with any prefix).
    pub(crate) name: String,
    /// Byte offset of the `<`.
    pub(crate) offset: usize,
    /// Attributes in source order.
    pub(crate) attrs: Vec<XmlAttr>,
    /// Child elements in source order.
    pub(crate) children: Vec<XmlElement>,
    /// Concatenated, unescaped text and CDATA content (not normalised).
    pub(crate) text: String,
}

/// One attribute.
#[derive(Debug, Clone)]
pub(crate) struct XmlAttr {
    /// Attribute name as written (with any prefix).
    pub(crate) name: String,
    /// Unescaped value.
    pub(crate) value: String,
    /// Byte offset of the name.
    pub(crate) offset: usize,
    /// Byte offset of the first character of the value (after the quote).
    pub(crate) value_offset: usize,
}

impl XmlElement {
    /// The attribute called `name`.
    pub(crate) fn attr(&self, name: &str) -> Option<&XmlAttr> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

/// Parses a whole document and returns its root element.
///
/// Well-formedness errors stop the parse: nothing after them can be trusted.
pub(crate) fn parse_document(file: &SourceFile) -> Result<XmlElement, LoadError> {
    let text = file.text();
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    loop {
        let start = reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                let at = reader.error_position() as usize;
                return Err(
                    SpecError::at(file, at, format!("XML is not well-formed: {error}"))
                        .with_help("fix the XML syntax first; nothing else in the file was checked")
                        .into(),
                );
            }
        };
        let end = reader.buffer_position() as usize;
        match event {
            Event::Start(_) | Event::Empty(_) => {
                let empty = matches!(event, Event::Empty(_));
                let element = parse_tag(file, start, end, empty)?;
                if stack.is_empty() && root.is_some() {
                    return Err(SpecError::at(file, start, "a second root element")
                        .with_help("an XML document has exactly one root element")
                        .into());
                }
                if empty {
                    attach(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                if let Some(element) = stack.pop() {
                    attach(&mut stack, &mut root, element);
                }
            }
            Event::Text(t) => {
                let unescaped = t.unescape().map_err(|e| {
                    LoadError::from(SpecError::at(
                        file,
                        start,
                        format!("bad character reference: {e}"),
                    ))
                })?;
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&unescaped),
                    None if unescaped.trim().is_empty() => {}
                    None => {
                        let lead = unescaped.len() - unescaped.trim_start().len();
                        return Err(SpecError::at(
                            file,
                            start + lead,
                            "text outside the root element",
                        )
                        .into());
                    }
                }
            }
            Event::CData(c) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(SpecError::at(
            file,
            open.offset,
            format!("XML is not well-formed: `<{}>` is never closed", open.name),
        )
        .into());
    }
    root.ok_or_else(|| SpecError::at(file, text.len(), "the file has no root element").into())
}

fn attach(stack: &mut [XmlElement], root: &mut Option<XmlElement>, element: XmlElement) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// Parses the tag `<Name a="1" b='2'>` (or `/>`) at `text[start..end]`, attribute by attribute.
fn parse_tag(
    file: &SourceFile,
    start: usize,
    end: usize,
    empty: bool,
) -> Result<XmlElement, LoadError> {
    let text = file.text();
    let close = if empty { end - 2 } else { end - 1 };
    let tag = &text[..close];
    let bytes = tag.as_bytes();
    let mut i = start + 1;
    while i < close && !bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    let name = tag[start + 1..i].to_owned();
    let mut attrs: Vec<XmlAttr> = Vec::new();
    loop {
        while i < close && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= close {
            break;
        }
        let name_start = i;
        while i < close && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let attr_name = &tag[name_start..i];
        while i < close && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= close || bytes[i] != b'=' {
            return Err(SpecError::at(
                file,
                name_start,
                format!("attribute `{attr_name}` has no value"),
            )
            .with_help(format!("write it as `{attr_name}=\"...\"`"))
            .into());
        }
        i += 1;
        while i < close && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = bytes.get(i).copied().filter(|q| *q == b'"' || *q == b'\'');
        let Some(quote) = quote.filter(|_| i < close) else {
            return Err(SpecError::at(
                file,
                i.min(close),
                format!("the value of `{attr_name}` is not quoted"),
            )
            .with_help(format!("write it as `{attr_name}=\"...\"`"))
            .into());
        };
        let value_start = i + 1;
        let Some(len) = tag[value_start..].find(quote as char) else {
            return Err(SpecError::at(
                file,
                i,
                format!("the value of `{attr_name}` is not closed"),
            )
            .into());
        };
        i = value_start + len + 1;
        // XML attribute-value normalisation: literal line ends and tabs become spaces.
        let raw = tag[value_start..value_start + len]
            .replace("\r\n", " ")
            .replace(['\t', '\n', '\r'], " ");
        let value = quick_xml::escape::unescape(&raw).map_err(|e| {
            LoadError::from(SpecError::at(
                file,
                value_start,
                format!("bad character reference: {e}"),
            ))
        })?;
        if attrs.iter().any(|a| a.name == attr_name) {
            return Err(SpecError::at(
                file,
                name_start,
                format!("duplicate attribute `{attr_name}`"),
            )
            .into());
        }
        attrs.push(XmlAttr {
            name: attr_name.to_owned(),
            value: value.into_owned(),
            offset: name_start,
            value_offset: value_start,
        });
    }
    Ok(XmlElement {
        name,
        offset: start,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

/// Trims an attribute value; `None` when empty. Inner spaces stay as written.
pub(crate) fn trimmed(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Trims text and collapses every run of whitespace into one space; `None` when empty.
pub(crate) fn normalize(text: &str) -> Option<String> {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_located() {
        let file = SourceFile::new(
            "t.xml",
            "<?xml version=\"1.0\"?>\n<a x=\"1\"\n   y='&amp;'><b/>t</a>",
        );
        let root = parse_document(&file).unwrap();
        assert_eq!(root.name, "a");
        assert_eq!(file.span(root.offset).to_string(), "t.xml:2:1");
        let y = root.attr("y").unwrap();
        assert_eq!(y.value, "&");
        assert_eq!(file.span(y.offset).to_string(), "t.xml:3:4");
        assert_eq!(root.children.len(), 1);
        assert_eq!(root.text, "t");
    }

    #[test]
    fn unclosed_root_is_an_error() {
        let file = SourceFile::new("t.xml", "<a>\n  <b>\n</a>");
        assert!(parse_document(&file).is_err());
        let file = SourceFile::new("t.xml", "<a>\n  <b/>\n");
        let e = parse_document(&file).unwrap_err().to_string();
        assert!(e.contains("t.xml:1:1"), "{e}");
    }
}
