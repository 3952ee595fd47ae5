//! The crosswalk file reader, shared by the generator (at build time) and by
//! [`Crosswalk::reload_from_file`](super::Crosswalk::reload_from_file) (at run time), so both
//! accept exactly the same files and report the same located errors. The format is described in
//! the [module documentation](super).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::error::{CrosswalkError, LocatedError};
use super::{Code, Policy};
use reader::{Field, Reader, Record};

mod reader;
#[cfg(test)]
mod tests;

/// The header row, column by column.
pub const HEADER: [&str; 5] = [
    "from_system",
    "from_code",
    "to_system",
    "to_code",
    "to_display",
];

/// The directives a leading `# key: value` comment line may state.
pub const DIRECTIVES: [&str; 5] = [
    "policy",
    "from_table",
    "to_table",
    "hl7_version",
    "description",
];

const POLICY_HELP: &str =
    "state what happens to a code without a row: `# policy: reject`, `# policy: pass` or `# policy: default <system>|<code>|<display>`";

/// A position in a crosswalk file, 1-based; columns count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
}

/// The value of a directive line and where the value starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The value, trimmed.
    pub value: String,
    /// Where the value starts (just after the colon when it is empty).
    pub pos: Pos,
}

/// One mapping row of a file, with where each of its five cells starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// The source coding system; empty matches any system.
    pub from_system: String,
    /// The source code; never empty.
    pub from_code: String,
    /// The target coding system.
    pub to_system: String,
    /// The target code; never empty.
    pub to_code: String,
    /// The target display text.
    pub to_display: String,
    /// Where each cell starts, in header order.
    pub cells: [Pos; 5],
}

/// A crosswalk file as read: its directives and its rows in file order, with positions.
#[derive(Debug, Clone)]
pub struct CrosswalkFile {
    /// The file, as the caller named it.
    pub path: String,
    /// The unmapped-code policy (`# policy:`).
    pub policy: Policy,
    /// Where the policy value starts.
    pub policy_pos: Pos,
    /// `# from_table:`, the table or value set of `from_code`.
    pub from_table: Option<Directive>,
    /// `# to_table:`, the table or value set of `to_code`.
    pub to_table: Option<Directive>,
    /// `# hl7_version:`, the HL7 version whose tables the table ids name.
    pub hl7_version: Option<Directive>,
    /// `# description:`.
    pub description: Option<String>,
    /// The rows, in file order.
    pub rows: Vec<FileRow>,
    text: String,
}

impl CrosswalkFile {
    /// The text of a 1-based line, without its terminator.
    pub fn line_text(&self, line: u32) -> Option<&str> {
        line_text(&self.text, line)
    }

    /// A located error at `pos` of this file.
    pub fn error_at(&self, pos: Pos, message: impl Into<String>) -> LocatedError {
        LocatedError::new(
            self.path.clone(),
            pos.line,
            pos.col,
            self.line_text(pos.line),
            message,
        )
    }
}

fn line_text(text: &str, line: u32) -> Option<&str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .nth(line.checked_sub(1)? as usize)
        .map(|l| l.trim_end_matches('\r'))
}

/// Reads a crosswalk file; `path` is how errors name it. Every problem found is reported, each
/// located; a file with any problem is refused as a whole.
pub fn parse(path: &str, text: &str) -> Result<CrosswalkFile, CrosswalkError> {
    let mut reader = Reader::new(path, text);
    let mut directives: BTreeMap<&'static str, (Directive, u32)> = BTreeMap::new();
    let mut header_seen = false;
    let mut rows: Vec<FileRow> = Vec::new();
    let mut seen: BTreeMap<(String, String), u32> = BTreeMap::new();
    while reader.i < text.len() {
        let line_end = text[reader.i..]
            .find('\n')
            .map_or(text.len(), |n| reader.i + n);
        let content = text[reader.i..line_end].trim_end_matches('\r');
        if content.trim().is_empty() {
            reader.next_line(line_end);
            continue;
        }
        if content.starts_with('#') {
            reader.comment(content, header_seen, &mut directives);
            reader.next_line(line_end);
            continue;
        }
        let line = reader.line;
        let fields = match reader.record() {
            Record::Fields(fields) => fields,
            Record::Skip => continue,
            Record::Stop => break,
        };
        if !header_seen {
            header_seen = true;
            reader.header(line, &fields);
            continue;
        }
        if let Some(row) = reader.row(line, fields, &mut seen) {
            rows.push(row);
        }
    }
    let end = reader.pos_at(reader.i);
    if !header_seen {
        let error = reader.error(end, "the crosswalk has no header row");
        error.help = Some(format!(
            "the first line that is not a `#` comment is `{}`",
            HEADER.join(",")
        ));
    }
    let description = directives.get("description").map(|(d, _)| d.value.clone());
    let take = |key: &str| directives.get(key).map(|(d, _)| d.clone());
    let (from_table, to_table, hl7_version) =
        (take("from_table"), take("to_table"), take("hl7_version"));
    for directive in [&from_table, &to_table, &hl7_version].into_iter().flatten() {
        if directive.value.is_empty() {
            reader.error(directive.pos, "the directive has no value");
        }
    }
    let policy = match directives.get("policy") {
        Some((directive, _)) => match parse_policy(&directive.value) {
            Ok(policy) => Some((policy, directive.pos)),
            Err((message, help)) => {
                let error = reader.error(directive.pos, message);
                error.help = Some(help.to_owned());
                None
            }
        },
        None => {
            let error = reader.error(
                Pos { line: 1, col: 1 },
                "the crosswalk states no unmapped-code policy",
            );
            error.help = Some(POLICY_HELP.to_owned());
            None
        }
    };
    let mut errors = reader.errors;
    match policy {
        Some((policy, policy_pos)) if errors.is_empty() => Ok(CrosswalkFile {
            path: path.to_owned(),
            policy,
            policy_pos,
            from_table,
            to_table,
            hl7_version,
            description,
            rows,
            text: text.to_owned(),
        }),
        _ => {
            errors.sort_by_key(|e| (e.line, e.col));
            Err(CrosswalkError::Invalid { errors })
        }
    }
}

/// Parses the value of `# policy:`; an error is a message and a hint.
fn parse_policy(value: &str) -> Result<Policy, (String, &'static str)> {
    let (word, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    let rest = rest.trim();
    match word {
        "reject" | "pass" if !rest.is_empty() => Err((
            format!("unexpected `{rest}` after `{word}`"),
            "`reject` and `pass` take no value",
        )),
        "reject" => Ok(Policy::Reject),
        "pass" => Ok(Policy::Pass),
        "default" => {
            let parts: Vec<&str> = rest.splitn(3, '|').map(str::trim).collect();
            match parts.as_slice() {
                [_, "", _] => Err((
                    "the default of `# policy: default` has an empty code".to_owned(),
                    "write `# policy: default <system>|<code>|<display>`, e.g. `# policy: default HL70001|U|Unknown`",
                )),
                [system, code, display] => Ok(Policy::Default(Code {
                    system: Cow::Owned((*system).to_owned()),
                    code: Cow::Owned((*code).to_owned()),
                    display: Cow::Owned((*display).to_owned()),
                })),
                _ => Err((
                    format!("`# policy: default` needs `<system>|<code>|<display>`, found `{rest}`"),
                    "write `# policy: default <system>|<code>|<display>`; system and display may be empty: `default |U|`",
                )),
            }
        }
        "" => Err(("the policy is empty".to_owned(), POLICY_HELP)),
        other => Err((format!("unknown policy `{other}`"), POLICY_HELP)),
    }
}

/// The checks of the file format, on the records the [reader](reader) reads.
impl Reader<'_> {
    /// A `#` line: a directive when it reads `# key: value` with a lowercase key, else a comment.
    fn comment(
        &mut self,
        content: &str,
        header_seen: bool,
        directives: &mut BTreeMap<&'static str, (Directive, u32)>,
    ) {
        let body = content[1..].trim_start();
        let key_len = body
            .bytes()
            .take_while(|b| b.is_ascii_lowercase() || *b == b'_')
            .count();
        if key_len == 0 || body.as_bytes().get(key_len) != Some(&b':') {
            return;
        }
        let key = &body[..key_len];
        let after_colon = &body[key_len + 1..];
        let value = after_colon.trim();
        let body_offset = content.len() - body.len();
        let value_offset =
            body_offset + key_len + 1 + (after_colon.len() - after_colon.trim_start().len());
        let key_pos = self.pos_at(self.i + body_offset);
        let pos = self.pos_at(self.i + value_offset);
        let Some(known) = DIRECTIVES.iter().copied().find(|d| *d == key) else {
            let error = self.error(key_pos, format!("unknown directive `{key}`"));
            error.help = Some(
                "the directives are `policy`, `from_table`, `to_table`, `hl7_version` and `description`; \
                 a plain comment must not start with `word:`"
                    .to_owned(),
            );
            return;
        };
        if header_seen {
            let error = self.error(
                key_pos,
                format!("the directive `{key}` comes after the header row"),
            );
            error.help =
                Some("directives go in the leading `#` lines, before the header row".to_owned());
            return;
        }
        if let Some((_, first)) = directives.get(known) {
            let first = *first;
            let error = self.error(key_pos, format!("the directive `{key}` is given twice"));
            error.help = Some(format!("first given on line {first}"));
            return;
        }
        directives.insert(
            known,
            (
                Directive {
                    value: value.to_owned(),
                    pos,
                },
                self.line,
            ),
        );
    }

    fn header(&mut self, line: u32, fields: &[Field]) {
        let expected = HEADER.join(",");
        for (i, name) in HEADER.iter().enumerate() {
            let Some(field) = fields.get(i) else {
                let pos = fields.last().map_or(Pos { line, col: 1 }, |f| f.pos);
                let error = self.error(
                    pos,
                    format!("the header row has {} columns; expected 5", fields.len()),
                );
                error.help = Some(format!("the header row is `{expected}`"));
                return;
            };
            if field.value != *name {
                let error = self.error(
                    field.pos,
                    format!("expected column `{name}`, found `{}`", field.value),
                );
                error.help = Some(format!("the header row is `{expected}`"));
                return;
            }
        }
        if let Some(extra) = fields.get(5) {
            let error = self.error(
                extra.pos,
                format!("the header row has {} columns; expected 5", fields.len()),
            );
            error.help = Some(format!("the header row is `{expected}`"));
        }
    }

    fn row(
        &mut self,
        line: u32,
        fields: Vec<Field>,
        seen: &mut BTreeMap<(String, String), u32>,
    ) -> Option<FileRow> {
        if fields.len() != 5 {
            let pos = fields.get(5).map_or(Pos { line, col: 1 }, |f| f.pos);
            let error = self.error(
                pos,
                format!("this row has {} fields; expected 5", fields.len()),
            );
            error.help = Some(format!("every row has the columns `{}`", HEADER.join(",")));
            return None;
        }
        let cells = [
            fields[0].pos,
            fields[1].pos,
            fields[2].pos,
            fields[3].pos,
            fields[4].pos,
        ];
        let mut values = fields.into_iter().map(|f| f.value);
        let mut next = || values.next().unwrap_or_default();
        let (from_system, from_code, to_system, to_code, to_display) =
            (next(), next(), next(), next(), next());
        let mut ok = true;
        if from_code.is_empty() {
            self.error(cells[1], "empty `from_code`");
            ok = false;
        }
        if to_code.is_empty() {
            let error = self.error(cells[3], "empty `to_code`");
            error.help = Some(
                "every row maps to a code; codes without a row follow the `# policy:`".to_owned(),
            );
            ok = false;
        }
        if ok {
            if let Some(first) = seen.get(&(from_system.clone(), from_code.clone())) {
                let first = *first;
                let shown = if from_system.is_empty() {
                    format!("`{from_code}`")
                } else {
                    format!("`{from_system}`|`{from_code}`")
                };
                let error = self.error(cells[1], format!("{shown} is mapped twice"));
                error.help = Some(format!(
                    "first mapped on line {first}; a code maps to one target"
                ));
                return None;
            }
            seen.insert((from_system.clone(), from_code.clone()), cells[1].line);
        }
        ok.then_some(FileRow {
            from_system,
            from_code,
            to_system,
            to_code,
            to_display,
            cells,
        })
    }
}
