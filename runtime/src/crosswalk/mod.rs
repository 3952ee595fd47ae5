//! Vocabulary crosswalks: a site's local codes mapped to the codes a receiver wants (local lab
//! test codes to LOINC, local sex codes to HL7 table 0001), compiled into static lookups by
//! `hl7-codegen` and reloadable from a file at run time.
//!
//! # The file format
//!
//! One CSV file per crosswalk, in the site's folder: `vocab/<site>/<name>.csv`. The file stem
//! names the crosswalk (`lab_to_loinc`) and its generated static (`crosswalks::LAB_TO_LOINC`).
//! UTF-8 (a leading byte-order mark is skipped), `\n` or `\r\n` line ends, RFC 4180 quoting: a
//! field holding a comma, a quote or a line break is quoted, and a quote inside it is doubled.
//! Unquoted fields are trimmed; quoted fields are kept as written.
//!
//! ```text
//! # description: ACME lab local test codes to LOINC
//! # policy: reject
//! from_system,from_code,to_system,to_code,to_display
//! LAB,GLU,http://loinc.org,2345-7,Glucose [Mass/volume] in Serum or Plasma
//! LAB,K,http://loinc.org,2823-3,"Potassium [Moles/volume] in Serum or Plasma"
//! ```
//!
//! - **Directives** are the leading `#` lines of the form `# key: value` (lowercase key):
//!   - `# policy: reject | pass | default <system>|<code>|<display>`, **required**: what a code
//!     without a row becomes. `reject`: the lookup fails with [`Unmapped`] (a located error, an
//!     AE NAK in the engine). `pass`: the code is passed through unchanged. `default`: the code
//!     becomes the given one (`# policy: default HL70001|U|Unknown`; system and display may be
//!     empty, the code may not). There is no silent default.
//!   - `# from_table: <id>` / `# to_table: <id>`, optional: the HL7 table (`0001`) or site value
//!     set (`ACME_SEX`) the `from_code` / `to_code` column holds. When the table's codes are
//!     known, every code of the column must be in it (the build checks it, and so does a reload).
//!     The build reports the codes of a closed `from_table` (HL7-defined, or a site value set)
//!     that have no row.
//!   - `# hl7_version: 2.5.1`, optional: the HL7 version whose tables the ids name (default: the
//!     site's profiles' version).
//!   - `# description: ...`, optional, copied into the generated documentation.
//!
//!   Any other `#` line is a comment; an unknown lowercase `# key:` is an error (a misspelt
//!   directive must not pass silently). Directives come before the header row.
//! - **The header row** is exactly `from_system,from_code,to_system,to_code,to_display`.
//! - **Rows**: five fields each. `from_code` and `to_code` must not be empty; `(from_system,
//!   from_code)` must be unique. An empty `from_system` matches a code of any system that has no
//!   row of its own (for fields without a coding system, such as `PID-8`). Blank lines are
//!   skipped.
//!
//! Every problem is reported with its place, like rustc:
//!
//! ```text
//! error: `LAB`|`GLU` is mapped twice
//!   --> vocab/acme/lab_to_loinc.csv:6:5
//!   |
//! 6 | LAB,GLU,http://loinc.org,2339-0,Glucose [Mass/volume] in Blood
//!   |     ^
//!   = help: first mapped on line 4; a code maps to one target
//! ```
//!
//! # Using a crosswalk
//!
//! ```
//! use hl7_runtime::crosswalk::{Crosswalk, MapKind, Policy, Row};
//!
//! static SEX: Crosswalk = Crosswalk::new(
//!     "acme_sex",
//!     Policy::Reject,
//!     &[Row::new("", "1", "HL70001", "M", "Male"), Row::new("", "2", "HL70001", "F", "Female")],
//!     None,
//!     None,
//! );
//! let mapped = SEX.lookup("", "2")?;
//! assert_eq!((&*mapped.code, mapped.kind), ("F", MapKind::Mapped));
//! assert!(SEX.lookup("", "9").is_err());
//! # Ok::<(), hl7_runtime::crosswalk::Unmapped>(())
//! ```

pub mod csv;
mod error;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

pub use error::{CrosswalkError, LocatedError};

/// A code of a coding system, with its display text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Code {
    /// The coding system (`http://loinc.org`, `LN`, `HL70001`); may be empty.
    pub system: Cow<'static, str>,
    /// The code.
    pub code: Cow<'static, str>,
    /// The display text; may be empty.
    pub display: Cow<'static, str>,
}

impl Code {
    /// A code of static text (for generated code).
    pub const fn new(system: &'static str, code: &'static str, display: &'static str) -> Code {
        Code {
            system: Cow::Borrowed(system),
            code: Cow::Borrowed(code),
            display: Cow::Borrowed(display),
        }
    }
}

/// What a code without a row becomes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Policy {
    /// The lookup fails with [`Unmapped`].
    Reject,
    /// The code is returned unchanged.
    Pass,
    /// The code becomes this one.
    Default(Code),
}

impl fmt::Display for Policy {
    /// As the `# policy:` directive writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Reject => f.write_str("reject"),
            Policy::Pass => f.write_str("pass"),
            Policy::Default(code) => {
                write!(f, "default {}|{}|{}", code.system, code.code, code.display)
            }
        }
    }
}

/// One row of a compiled crosswalk: static text, so a `static` can hold a slice of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Row {
    /// The source coding system; empty matches any system without a row of its own.
    pub from_system: &'static str,
    /// The source code.
    pub from_code: &'static str,
    /// The target coding system.
    pub to_system: &'static str,
    /// The target code.
    pub to_code: &'static str,
    /// The target display text.
    pub to_display: &'static str,
}

impl Row {
    /// A row (for generated code).
    pub const fn new(
        from_system: &'static str,
        from_code: &'static str,
        to_system: &'static str,
        to_code: &'static str,
        to_display: &'static str,
    ) -> Row {
        Row {
            from_system,
            from_code,
            to_system,
            to_code,
            to_display,
        }
    }
}

/// What lookups need of a row, static or read at run time.
trait RowText {
    fn key(&self) -> (&str, &str);
    fn target(&self) -> (&str, &str, &str);
}

impl RowText for Row {
    fn key(&self) -> (&str, &str) {
        (self.from_system, self.from_code)
    }

    fn target(&self) -> (&str, &str, &str) {
        (self.to_system, self.to_code, self.to_display)
    }
}

impl RowText for csv::FileRow {
    fn key(&self) -> (&str, &str) {
        (&self.from_system, &self.from_code)
    }

    fn target(&self) -> (&str, &str, &str) {
        (&self.to_system, &self.to_code, &self.to_display)
    }
}

/// The table or value set a column holds, and its codes when the build knew them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableRef {
    /// The id, as the `# from_table:` / `# to_table:` directive writes it.
    pub id: &'static str,
    /// The table's codes, sorted; `None` when no codes are known.
    pub codes: Option<&'static [&'static str]>,
}

impl TableRef {
    /// A table whose codes are known (sorted).
    pub const fn known(id: &'static str, codes: &'static [&'static str]) -> TableRef {
        TableRef {
            id,
            codes: Some(codes),
        }
    }

    /// A table whose codes are not known.
    pub const fn unknown(id: &'static str) -> TableRef {
        TableRef { id, codes: None }
    }

    fn contains(&self, code: &str) -> bool {
        self.codes
            .is_none_or(|codes| codes.binary_search(&code).is_ok())
    }
}

/// The result of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mapped<'a> {
    /// The target coding system.
    pub system: Cow<'a, str>,
    /// The target code.
    pub code: Cow<'a, str>,
    /// The target display text (empty when passed through).
    pub display: Cow<'a, str>,
    /// How the result came about.
    pub kind: MapKind,
}

impl Mapped<'_> {
    /// The same result, owning its text.
    pub fn into_owned(self) -> Mapped<'static> {
        Mapped {
            system: Cow::Owned(self.system.into_owned()),
            code: Cow::Owned(self.code.into_owned()),
            display: Cow::Owned(self.display.into_owned()),
            kind: self.kind,
        }
    }
}

/// How a [`Mapped`] came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MapKind {
    /// A row of the crosswalk mapped the code.
    Mapped,
    /// No row; the `pass` policy returned the code unchanged.
    Passed,
    /// No row; the `default` policy gave its code.
    Defaulted,
}

/// A code without a row in a crosswalk whose policy is `reject`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "code `{code}`{} has no mapping in crosswalk `{crosswalk}`",
    if system.is_empty() { String::new() } else { format!(" of system `{system}`") }
)]
#[non_exhaustive]
pub struct Unmapped {
    /// The crosswalk's name.
    pub crosswalk: String,
    /// The coding system looked up.
    pub system: String,
    /// The code looked up.
    pub code: String,
}

/// What a reload changed, compared with the table in use before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReloadStats {
    /// Rows of the new table.
    pub rows: usize,
    /// Source codes that have a row now and had none.
    pub added: usize,
    /// Source codes that had a row and have none now.
    pub removed: usize,
    /// Source codes whose target changed.
    pub changed: usize,
    /// True when the unmapped-code policy changed.
    pub policy_changed: bool,
}

/// Rows sorted by `(from_system, from_code)`.
#[derive(Debug)]
enum Rows {
    Static(&'static [Row]),
    Read(Vec<csv::FileRow>),
}

/// A table: its policy and its rows.
#[derive(Debug)]
struct Table {
    policy: Policy,
    rows: Rows,
}

fn find<'r, R: RowText>(
    rows: &'r [R],
    system: &str,
    code: &str,
) -> Option<(&'r str, &'r str, &'r str)> {
    let at = |system: &str| {
        rows.binary_search_by(|row| row.key().cmp(&(system, code)))
            .ok()
    };
    let i = at(system).or_else(|| if system.is_empty() { None } else { at("") })?;
    Some(rows[i].target())
}

impl Table {
    fn len(&self) -> usize {
        match &self.rows {
            Rows::Static(rows) => rows.len(),
            Rows::Read(rows) => rows.len(),
        }
    }

    fn targets(&self) -> BTreeMap<(&str, &str), (&str, &str, &str)> {
        match &self.rows {
            Rows::Static(rows) => rows.iter().map(|r| (r.key(), r.target())).collect(),
            Rows::Read(rows) => rows.iter().map(|r| (r.key(), r.target())).collect(),
        }
    }

    fn lookup<'a>(
        &'a self,
        name: &str,
        system: &'a str,
        code: &'a str,
    ) -> Result<Mapped<'a>, Unmapped> {
        let found = match &self.rows {
            Rows::Static(rows) => find(rows, system, code),
            Rows::Read(rows) => find(rows, system, code),
        };
        if let Some((to_system, to_code, to_display)) = found {
            return Ok(Mapped {
                system: Cow::Borrowed(to_system),
                code: Cow::Borrowed(to_code),
                display: Cow::Borrowed(to_display),
                kind: MapKind::Mapped,
            });
        }
        match &self.policy {
            Policy::Reject => Err(Unmapped {
                crosswalk: name.to_owned(),
                system: system.to_owned(),
                code: code.to_owned(),
            }),
            Policy::Pass => Ok(Mapped {
                system: Cow::Borrowed(system),
                code: Cow::Borrowed(code),
                display: Cow::Borrowed(""),
                kind: MapKind::Passed,
            }),
            Policy::Default(default) => Ok(Mapped {
                system: Cow::Borrowed(&default.system),
                code: Cow::Borrowed(&default.code),
                display: Cow::Borrowed(&default.display),
                kind: MapKind::Defaulted,
            }),
        }
    }
}

/// A vocabulary crosswalk: static rows compiled by `hl7-codegen` (or read by
/// [`Crosswalk::from_file`]), which a reload from a file may replace while the engine runs.
///
/// Lookups are a binary search over sorted rows; no string is hashed. A reload parses and checks
/// the whole file first and swaps the table only when it is sound, so readers see the old table
/// or the new one, never a mix, and a bad file leaves the old table in use.
#[derive(Debug)]
pub struct Crosswalk {
    name: Cow<'static, str>,
    compiled: Table,
    from_table: Option<TableRef>,
    to_table: Option<TableRef>,
    reloaded: RwLock<Option<Arc<Table>>>,
}

impl Crosswalk {
    /// A crosswalk of static rows, **sorted by `(from_system, from_code)` without duplicates**
    /// (as the generator emits them), with the tables its columns hold.
    pub const fn new(
        name: &'static str,
        policy: Policy,
        rows: &'static [Row],
        from_table: Option<TableRef>,
        to_table: Option<TableRef>,
    ) -> Crosswalk {
        Crosswalk {
            name: Cow::Borrowed(name),
            compiled: Table {
                policy,
                rows: Rows::Static(rows),
            },
            from_table,
            to_table,
            reloaded: RwLock::new(None),
        }
    }

    /// A crosswalk that exists only at run time, read from a file; its name is the file stem.
    /// [`reset`](Self::reset) returns to this file's table.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Crosswalk, CrosswalkError> {
        let path = path.as_ref();
        let file = read(path)?;
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        Ok(Crosswalk {
            name: Cow::Owned(name),
            compiled: table_of(file),
            from_table: None,
            to_table: None,
            reloaded: RwLock::new(None),
        })
    }

    /// The name: the file stem, e.g. `lab_to_loinc`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The unmapped-code policy of the table in use.
    pub fn policy(&self) -> Policy {
        match self.current() {
            Some(table) => table.policy.clone(),
            None => self.compiled.policy.clone(),
        }
    }

    /// The table or value set of the `from_code` column, as compiled.
    pub fn from_table(&self) -> Option<&str> {
        self.from_table.map(|t| t.id)
    }

    /// The table or value set of the `to_code` column, as compiled.
    pub fn to_table(&self) -> Option<&str> {
        self.to_table.map(|t| t.id)
    }

    /// The number of rows of the table in use.
    pub fn len(&self) -> usize {
        self.current().map_or(self.compiled.len(), |t| t.len())
    }

    /// True when the table in use has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when a reloaded table is in use rather than the compiled one.
    pub fn is_reloaded(&self) -> bool {
        self.current().is_some()
    }

    /// Maps `code` of `system` (empty when the field has none) under the crosswalk's policy:
    /// the row's target; or, without a row, [`Unmapped`] (`reject`), the input unchanged
    /// (`pass`), or the default (`default`).
    ///
    /// The compiled table answers with borrowed text; a reloaded one with owned text.
    pub fn lookup<'a>(&'a self, system: &'a str, code: &'a str) -> Result<Mapped<'a>, Unmapped> {
        match self.current() {
            None => self.compiled.lookup(&self.name, system, code),
            Some(table) => table
                .lookup(&self.name, system, code)
                .map(Mapped::into_owned),
        }
    }

    /// Reads `path` with the same reader as the build, checks it fits this crosswalk (same
    /// `from_table` and `to_table`; codes within them when their codes were compiled in), and
    /// puts it in use atomically. A bad file is refused with its located errors and the table in
    /// use stays.
    pub fn reload_from_file(&self, path: impl AsRef<Path>) -> Result<ReloadStats, CrosswalkError> {
        let file = read(path.as_ref())?;
        if self.from_table.is_some() || self.to_table.is_some() {
            self.check_fits(&file)?;
        }
        let table = Arc::new(table_of(file));
        let mut slot = self
            .reloaded
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let stats = {
            let old = slot.as_deref().unwrap_or(&self.compiled);
            stats(old, &table)
        };
        *slot = Some(table);
        Ok(stats)
    }

    /// Returns to the compiled table (or, for [`from_file`](Self::from_file), the first file's).
    pub fn reset(&self) {
        *self
            .reloaded
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn current(&self) -> Option<Arc<Table>> {
        self.reloaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn check_fits(&self, file: &csv::CrosswalkFile) -> Result<(), CrosswalkError> {
        let mut errors = Vec::new();
        let columns = [
            ("from_table", self.from_table, &file.from_table, 1),
            ("to_table", self.to_table, &file.to_table, 3),
        ];
        for (key, compiled, given, column) in columns {
            let compiled_id = compiled.map(|t| t.id);
            let given_id = given.as_ref().map(|d| d.value.as_str());
            if compiled_id != given_id {
                let pos = given
                    .as_ref()
                    .map_or(csv::Pos { line: 1, col: 1 }, |d| d.pos);
                let want = compiled_id
                    .map_or_else(|| "no table".to_owned(), |id| format!("`# {key}: {id}`"));
                let error = file
                    .error_at(pos, format!("`{}` was compiled with {want}", self.name))
                    .with_help("a reload keeps the tables of the build; change them by rebuilding");
                errors.push(error);
                continue;
            }
            let Some(table) = compiled.filter(|t| t.codes.is_some()) else {
                continue;
            };
            for row in &file.rows {
                let code = if column == 1 {
                    &row.from_code
                } else {
                    &row.to_code
                };
                if !table.contains(code) {
                    errors.push(file.error_at(
                        row.cells[column],
                        format!("code `{code}` is not in table {}", table.id),
                    ));
                }
            }
            if let (3, Policy::Default(default)) = (column, &file.policy) {
                if !table.contains(&default.code) {
                    let message = format!(
                        "the default code `{}` is not in table {}",
                        default.code, table.id
                    );
                    errors.push(file.error_at(file.policy_pos, message));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            errors.sort_by_key(|e| (e.line, e.col));
            Err(CrosswalkError::Invalid { errors })
        }
    }
}

fn read(path: &Path) -> Result<csv::CrosswalkFile, CrosswalkError> {
    let text = std::fs::read_to_string(path).map_err(|source| CrosswalkError::Io {
        path: path.to_owned(),
        source,
    })?;
    csv::parse(&path.display().to_string(), &text)
}

fn table_of(file: csv::CrosswalkFile) -> Table {
    let mut rows = file.rows;
    rows.sort_by(|a, b| a.key().cmp(&b.key()));
    Table {
        policy: file.policy,
        rows: Rows::Read(rows),
    }
}

fn stats(old: &Table, new: &Table) -> ReloadStats {
    let old_rows = old.targets();
    let new_rows = new.targets();
    let mut stats = ReloadStats {
        rows: new.len(),
        policy_changed: old.policy != new.policy,
        ..ReloadStats::default()
    };
    for (key, target) in &new_rows {
        match old_rows.get(key) {
            None => stats.added += 1,
            Some(old) if old != target => stats.changed += 1,
            Some(_) => {}
        }
    }
    stats.removed = old_rows
        .keys()
        .filter(|key| !new_rows.contains_key(*key))
        .count();
    stats
}
