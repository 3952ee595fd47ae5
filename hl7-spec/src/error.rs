//! Errors of loading spec files, printed like rustc: what is wrong, then where.

use std::fmt;
use std::path::PathBuf;

use crate::source::{SourceFile, Span};

/// An error while reading or resolving a spec file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not well-formed XML, or not a spec file, or its content breaks the format.
    #[error("{}", Located(.0))]
    Spec(Box<SpecError>),
    /// Several errors, each located.
    #[error("{}", Many(.0))]
    Many(Vec<LoadError>),
}

/// One located problem in a spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
    /// The source line, to show under the location.
    pub line_text: Option<String>,
    /// A hint on how to fix it.
    pub help: Option<String>,
}

impl SpecError {
    /// A located error at a byte offset of `file`.
    pub fn at(file: &SourceFile, offset: usize, message: impl Into<String>) -> SpecError {
        let span = file.span(offset);
        SpecError {
            message: message.into(),
            line_text: file.line_text(span.line).map(str::to_owned),
            span,
            help: None,
        }
    }

    /// A located error at a known span (no source line shown).
    pub fn at_span(span: Span, message: impl Into<String>) -> SpecError {
        SpecError {
            message: message.into(),
            span,
            line_text: None,
            help: None,
        }
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> SpecError {
        self.help = Some(help.into());
        self
    }
}

impl From<SpecError> for LoadError {
    fn from(error: SpecError) -> LoadError {
        LoadError::Spec(Box::new(error))
    }
}

impl LoadError {
    /// The located errors inside, flattened.
    pub fn spec_errors(&self) -> Vec<&SpecError> {
        match self {
            LoadError::Spec(e) => vec![e],
            LoadError::Many(all) => all.iter().flat_map(LoadError::spec_errors).collect(),
            LoadError::Io { .. } => Vec::new(),
        }
    }

    /// Collects errors: one stays itself, several become `Many`.
    pub fn from_all(mut errors: Vec<LoadError>) -> Option<LoadError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(LoadError::Many(errors)),
        }
    }
}

struct Located<'a>(&'a SpecError);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        writeln!(f, "error: {}", e.message)?;
        write!(f, "  --> {}", e.span)?;
        if let Some(text) = &e.line_text {
            let number = e.span.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_pad: String = text
                .chars()
                .take(e.span.col.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{number} | {text}\n{pad} | {caret_pad}^")?;
        }
        if let Some(help) = &e.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

struct Many<'a>(&'a [LoadError]);

impl fmt::Display for Many<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
