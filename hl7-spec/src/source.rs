//! Source files and positions inside them, for located errors.

use std::fmt;
use std::sync::Arc;

/// A position in a spec file: `path:line:col`, 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Path of the file as the user named it (relative paths stay relative).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
}

impl Span {
    /// A span for elements that come from no file (built in code).
    pub fn synthetic() -> Span {
        Span {
            file: Arc::from("<built-in>"),
            line: 0,
            col: 0,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// The text of a spec file, with a line index to turn byte offsets into spans.
#[derive(Debug, Clone)]
pub struct SourceFile {
    path: Arc<str>,
    text: Arc<str>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps a file's text; `path` is how errors name the file.
    pub fn new(path: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> SourceFile {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// The path errors name.
    pub fn path(&self) -> &Arc<str> {
        &self.path
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The span of a byte offset into the text.
    pub fn span(&self, offset: usize) -> Span {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        Span {
            file: self.path.clone(),
            line: line as u32,
            col: col as u32,
        }
    }

    /// The text of a 1-based line, without its terminator.
    pub fn line_text(&self, line: u32) -> Option<&str> {
        let start = *self.line_starts.get(line.checked_sub(1)? as usize)?;
        let end = self
            .line_starts
            .get(line as usize)
            .copied()
            .unwrap_or(self.text.len());
        Some(self.text[start..end].trim_end_matches(['\r', '\n']))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_line_and_column() {
        let file = SourceFile::new("p.xml", "<a>\n  <b/>\n</a>");
        assert_eq!(file.span(0).to_string(), "p.xml:1:1");
        assert_eq!(file.span(6).to_string(), "p.xml:2:3");
        assert_eq!(file.span(11).to_string(), "p.xml:3:1");
        assert_eq!(file.line_text(2), Some("  <b/>"));
    }
}
