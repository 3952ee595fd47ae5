//! Located access to the elements of a base spec file, on top of the crate's shared XML tree
//! ([`crate::profile::xml`]): required attributes, allowed attributes and elements, and errors
//! that point at the element or attribute as `file:line:col`.

pub(crate) use crate::profile::xml::XmlElement as Elem;

use crate::error::{LoadError, SpecError};
use crate::source::{SourceFile, Span};

/// Parses a whole file into its root element; text inside elements is an error (the base files
/// carry everything in attributes).
pub(crate) fn parse(file: &SourceFile) -> Result<Elem, LoadError> {
    let root = crate::profile::xml::parse_document(file)?;
    let mut stack = vec![&root];
    while let Some(elem) = stack.pop() {
        if !elem.text.trim().is_empty() {
            let message = format!("unexpected text inside `<{}>`", elem.name);
            return Err(SpecError::at(file, elem.offset, message).into());
        }
        stack.extend(&elem.children);
    }
    Ok(root)
}

/// Located attribute access and errors for base-file elements.
pub(crate) trait ElemExt {
    /// The value of an attribute.
    fn get(&self, key: &str) -> Option<&str>;
    /// The value of a required attribute.
    fn req(&self, file: &SourceFile, key: &str) -> Result<&str, SpecError>;
    /// Where the element starts.
    fn span(&self, file: &SourceFile) -> Span;
    /// An error at an attribute of this element (at the element when it lacks the attribute).
    fn error_at(&self, file: &SourceFile, key: &str, message: impl Into<String>) -> SpecError;
    /// Errors for attributes that are not in `allowed`.
    fn check_attrs(&self, file: &SourceFile, allowed: &[&str], errors: &mut Vec<SpecError>);
    /// An error saying this element is not expected where it is.
    fn unexpected(&self, file: &SourceFile, expected: &str) -> SpecError;
}

impl ElemExt for Elem {
    fn get(&self, key: &str) -> Option<&str> {
        self.attr(key).map(|a| a.value.as_str())
    }

    fn req(&self, file: &SourceFile, key: &str) -> Result<&str, SpecError> {
        self.get(key).ok_or_else(|| {
            let message = format!("`<{}>` lacks the `{key}` attribute", self.name);
            SpecError::at(file, self.offset, message)
        })
    }

    fn span(&self, file: &SourceFile) -> Span {
        file.span(self.offset)
    }

    fn error_at(&self, file: &SourceFile, key: &str, message: impl Into<String>) -> SpecError {
        let at = self.attr(key).map_or(self.offset, |a| a.offset);
        SpecError::at(file, at, message)
    }

    fn check_attrs(&self, file: &SourceFile, allowed: &[&str], errors: &mut Vec<SpecError>) {
        for attr in &self.attrs {
            if !allowed.contains(&attr.name.as_str()) {
                let message = format!("unknown attribute `{}` on `<{}>`", attr.name, self.name);
                errors.push(
                    SpecError::at(file, attr.offset, message)
                        .with_help(format!("expected one of: {}", allowed.join(", "))),
                );
            }
        }
    }

    fn unexpected(&self, file: &SourceFile, expected: &str) -> SpecError {
        SpecError::at(
            file,
            self.offset,
            format!("unexpected element `<{}>`", self.name),
        )
        .with_help(format!("expected {expected}"))
    }
}
