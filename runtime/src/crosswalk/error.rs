//! Errors of reading and reloading crosswalk files, printed like rustc: what is wrong, then where.

use std::fmt;
use std::path::PathBuf;

/// One located problem in a crosswalk file: `path:line:col`, 1-based, columns in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedError {
    /// The file, as the caller named it.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
    /// What is wrong.
    pub message: String,
    /// The source line, shown under the location.
    pub line_text: Option<String>,
    /// A hint on how to fix it.
    pub help: Option<String>,
}

impl LocatedError {
    /// An error at `line:col` of `path`, showing `line_text` under the location.
    pub fn new(
        path: impl Into<String>,
        line: u32,
        col: u32,
        line_text: Option<&str>,
        message: impl Into<String>,
    ) -> LocatedError {
        LocatedError {
            path: path.into(),
            line,
            col,
            message: message.into(),
            line_text: line_text.map(str::to_owned),
            help: None,
        }
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> LocatedError {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        write!(f, "  --> {}:{}:{}", self.path, self.line, self.col)?;
        if let Some(text) = &self.line_text {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_pad: String = text
                .chars()
                .take(self.col.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{number} | {text}\n{pad} | {caret_pad}^")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LocatedError {}

/// Why a crosswalk file could not be read or put in use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrosswalkError {
    /// The file could not be read.
    #[error("cannot read crosswalk `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file breaks the format, or does not fit the crosswalk it would replace; every
    /// problem found, each located.
    #[error("{}", Many(errors))]
    Invalid {
        /// The problems, in file order.
        errors: Vec<LocatedError>,
    },
}

impl CrosswalkError {
    /// The located problems (none for an I/O error).
    pub fn located(&self) -> &[LocatedError] {
        match self {
            CrosswalkError::Invalid { errors } => errors,
            CrosswalkError::Io { .. } => &[],
        }
    }
}

struct Many<'a>(&'a [LocatedError]);

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
