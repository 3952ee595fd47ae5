//! The crosswalk file's records (RFC 4180) and where each field starts, with the errors found
//! on the way, each located.

use super::super::error::LocatedError;
use super::{line_text, Pos};

/// A field's value (unquoted, trimmed unless quoted) and where it starts.
pub(super) struct Field {
    pub(super) value: String,
    pub(super) pos: Pos,
}

pub(super) enum Record {
    Fields(Vec<Field>),
    /// The record was malformed (already reported) and skipped.
    Skip,
    /// The rest of the file cannot be read (an unterminated quote).
    Stop,
}

/// Reads `text` record by record; `i` is the next byte to read, on line `line` (1-based), which
/// starts at byte `line_start`.
pub(super) struct Reader<'t> {
    path: &'t str,
    text: &'t str,
    pub(super) i: usize,
    pub(super) line: u32,
    line_start: usize,
    pub(super) errors: Vec<LocatedError>,
}

impl<'t> Reader<'t> {
    /// A reader at the start of `text` (past a byte order mark); `path` is how errors name it.
    pub(super) fn new(path: &'t str, text: &'t str) -> Reader<'t> {
        let start = if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        Reader {
            path,
            text,
            i: start,
            line: 1,
            line_start: start,
            errors: Vec::new(),
        }
    }

    /// The position of byte `i`, which is on the current line.
    pub(super) fn pos_at(&self, i: usize) -> Pos {
        let col = self
            .text
            .get(self.line_start..i)
            .map_or(0, |s| s.chars().count())
            + 1;
        Pos {
            line: self.line,
            col: col as u32,
        }
    }

    pub(super) fn error(&mut self, pos: Pos, message: impl Into<String>) -> &mut LocatedError {
        let error = LocatedError::new(
            self.path,
            pos.line,
            pos.col,
            line_text(self.text, pos.line),
            message,
        );
        self.errors.push(error);
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    /// Moves past the line ending at `line_end` (the offset of its `\n`, or the end).
    pub(super) fn next_line(&mut self, line_end: usize) {
        self.i = (line_end + 1).min(self.text.len());
        if line_end < self.text.len() {
            self.line += 1;
            self.line_start = self.i;
        }
    }

    /// Reads one record (RFC 4180): fields separated by commas, quoted fields may hold commas,
    /// doubled quotes and line breaks; unquoted fields are trimmed.
    pub(super) fn record(&mut self) -> Record {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut fields = Vec::new();
        loop {
            let start = self.pos_at(self.i);
            if bytes.get(self.i) == Some(&b'"') {
                self.i += 1;
                let mut value = String::new();
                loop {
                    let Some(ch) = text[self.i..].chars().next() else {
                        let error = self.error(start, "this quoted field is never closed");
                        error.help =
                            Some("end it with `\"`; write a quote inside it as `\"\"`".to_owned());
                        return Record::Stop;
                    };
                    self.i += ch.len_utf8();
                    match ch {
                        '"' if bytes.get(self.i) == Some(&b'"') => {
                            value.push('"');
                            self.i += 1;
                        }
                        '"' => break,
                        '\n' => {
                            value.push('\n');
                            self.line += 1;
                            self.line_start = self.i;
                        }
                        _ => value.push(ch),
                    }
                }
                fields.push(Field { value, pos: start });
            } else {
                let end = text[self.i..]
                    .find([',', '\n'])
                    .map_or(text.len(), |n| self.i + n);
                let raw = text[self.i..end].trim_end_matches('\r');
                if let Some(quote) = raw.find('"') {
                    let pos = self.pos_at(self.i + quote);
                    let error = self.error(pos, "a quote inside an unquoted field");
                    error.help = Some(
                        "quote the whole field and double the quotes inside it: `\"a \"\"b\"\"\"`"
                            .to_owned(),
                    );
                    self.skip_line();
                    return Record::Skip;
                }
                let lead = raw.len() - raw.trim_start().len();
                let pos = self.pos_at(self.i + lead);
                fields.push(Field {
                    value: raw.trim().to_owned(),
                    pos,
                });
                self.i = end;
            }
            match bytes.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'\r') if matches!(bytes.get(self.i + 1), Some(b'\n') | None) => {
                    self.skip_line();
                    return Record::Fields(fields);
                }
                Some(b'\n') | None => {
                    self.skip_line();
                    return Record::Fields(fields);
                }
                Some(_) => {
                    let pos = self.pos_at(self.i);
                    let error = self.error(pos, "unexpected text after a closing quote");
                    error.help = Some(
                        "a quoted field ends at its closing quote; put a comma after it".to_owned(),
                    );
                    self.skip_line();
                    return Record::Skip;
                }
            }
        }
    }

    /// Moves to the start of the next line.
    pub(super) fn skip_line(&mut self) {
        let end = self.text[self.i..]
            .find('\n')
            .map_or(self.text.len(), |n| self.i + n);
        self.next_line(end);
    }
}
