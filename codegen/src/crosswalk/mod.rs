//! Vocabulary crosswalks, compiled into the site's code.
//!
//! Each CSV file of a site (`Config::crosswalk`, `Config::crosswalks_in`) becomes a static of the
//! site's `crosswalks` module, named after the file stem in upper snake case
//! (`lab_to_loinc.csv` -> `crosswalks::LAB_TO_LOINC`), whose lookup is a binary search over
//! sorted static rows. The file format is the runtime's, read by the same reader
//! ([`hl7_runtime::crosswalk`] documents it), so a file the build accepts is a file a run-time
//! reload accepts.
//!
//! At build time, beyond the format:
//! - `# from_table:` / `# to_table:` name a value set of the site's profiles or a table of the
//!   HL7 version (`# hl7_version:`, else the site's profiles' versions). An id found nowhere is
//!   an error. When the table's codes are known, every code of the column (and the code of a
//!   `default` policy, for `to_table`) must be in it.
//! - The codes of a closed `from_table` (HL7-defined, or a site value set) without a row are
//!   reported as `cargo:warning=crosswalk <name>: code <code> of table <id> has no mapping`;
//!   with `Config::deny_unmapped(true)` each is a located build error instead.
//! - `$OUT_DIR/hl7/<site>.crosswalks.json` describes each crosswalk (see [`manifest`]).

mod emit;
mod tables;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use hl7_runtime::crosswalk::csv::{self, CrosswalkFile, FileRow, Pos};
use hl7_runtime::crosswalk::{CrosswalkError, LocatedError, Policy};
use hl7_spec::{LoadError, MessageProfile, Span, SpecError};

use crate::Error;

pub(crate) use emit::{crosswalks_module, manifest};
pub(crate) use tables::BoundTable;

/// One crosswalk, read and checked, ready to emit.
#[derive(Debug, Clone)]
pub(crate) struct Crosswalk {
    /// The file stem, e.g. `lab_to_loinc`.
    pub(crate) name: String,
    /// The static's name, e.g. `LAB_TO_LOINC`.
    pub(crate) ident: String,
    /// The file, as errors and docs name it.
    pub(crate) source: String,
    pub(crate) description: Option<String>,
    pub(crate) policy: Policy,
    /// Sorted by `(from_system, from_code)`.
    pub(crate) rows: Vec<FileRow>,
    pub(crate) from_table: Option<BoundTable>,
    pub(crate) to_table: Option<BoundTable>,
    /// Codes of a closed `from_table` without a row, sorted.
    pub(crate) unmapped: Vec<String>,
    /// Where `# from_table:` is, and its line, for located reports.
    from_table_at: Option<(Pos, Option<String>)>,
}

/// The crosswalks of one site.
#[derive(Debug, Default)]
pub(crate) struct SiteCrosswalks {
    /// Sorted by name.
    pub(crate) crosswalks: Vec<Crosswalk>,
    /// Files and folders read.
    pub(crate) read: Vec<PathBuf>,
}

impl SiteCrosswalks {
    /// The unmapped-code report, one line per code (without the `cargo:warning=` prefix).
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for crosswalk in &self.crosswalks {
            let Some(table) = &crosswalk.from_table else {
                continue;
            };
            for code in &crosswalk.unmapped {
                out.push(format!(
                    "crosswalk {}: code {code} of table {} has no mapping",
                    crosswalk.name, table.id
                ));
            }
        }
        out
    }

    /// With `deny`, the unmapped codes as located errors, at each crosswalk's `# from_table:`.
    pub(crate) fn deny_unmapped(&self, deny: bool) -> Result<(), Error> {
        if !deny {
            return Ok(());
        }
        let mut errors = Vec::new();
        for crosswalk in &self.crosswalks {
            let (Some(table), Some((pos, line_text))) =
                (&crosswalk.from_table, &crosswalk.from_table_at)
            else {
                continue;
            };
            for code in &crosswalk.unmapped {
                let located = LocatedError::new(
                    crosswalk.source.clone(),
                    pos.line,
                    pos.col,
                    line_text.as_deref(),
                    format!("crosswalk `{}`: code `{code}` of table {} has no mapping", crosswalk.name, table.id),
                )
                .with_help("add a row for it; `deny_unmapped(true)` makes every code of a closed table need one");
                errors.push(spec_error(located));
            }
        }
        match LoadError::from_all(errors) {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }
}

/// Reads, checks and sorts the crosswalks of a site: `files`, then every `*.csv` of `dirs`.
/// All problems of all files are reported together.
pub(crate) fn compile_site(
    site: &str,
    files: &[PathBuf],
    dirs: &[PathBuf],
    profiles: &[(PathBuf, MessageProfile)],
) -> Result<SiteCrosswalks, Error> {
    let (paths, read) = crate::files_in(files, dirs, "csv")?;
    let mut errors = Vec::new();
    let mut crosswalks: Vec<Crosswalk> = Vec::new();
    let mut idents: BTreeMap<String, String> = BTreeMap::new();
    for path in &paths {
        let source = crate::display_path(path);
        let text = fs::read_to_string(path).map_err(|source| Error::Io {
            action: "read",
            path: path.clone(),
            source,
        })?;
        let file = match csv::parse(&source, &text) {
            Ok(file) => file,
            Err(error) => {
                errors.extend(spec_errors(error));
                continue;
            }
        };
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ident = static_ident(&name);
        if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(Error::Config(format!(
                "crosswalk `{source}`: the file name must start with a letter, as it names the static `crosswalks::{ident}`"
            )));
        }
        if let Some(first) = idents.insert(ident.clone(), source.clone()) {
            return Err(Error::Config(format!(
                "two crosswalks of site `{site}` generate the static `crosswalks::{ident}`:\n  --> {first}\n  --> {source}\n  = help: rename one of the files"
            )));
        }
        match check(site, &name, ident, source, file, profiles) {
            Ok(crosswalk) => crosswalks.push(crosswalk),
            Err(located) => errors.extend(located.into_iter().map(spec_error)),
        }
    }
    if let Some(error) = LoadError::from_all(errors) {
        return Err(error.into());
    }
    crosswalks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(SiteCrosswalks { crosswalks, read })
}

/// `lab-to-loinc` -> `LAB_TO_LOINC`.
fn static_ident(stem: &str) -> String {
    let mut out = String::new();
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// Resolves the tables of a file and checks its codes against them.
fn check(
    site: &str,
    name: &str,
    ident: String,
    source: String,
    file: CrosswalkFile,
    profiles: &[(PathBuf, MessageProfile)],
) -> Result<Crosswalk, Vec<LocatedError>> {
    let mut errors = Vec::new();
    let versions = match &file.hl7_version {
        Some(directive) => {
            if hl7_spec::base::load(&directive.value).is_err() {
                let message = format!("unknown HL7 version `{}`", directive.value);
                let help = format!(
                    "the bundled versions are {}",
                    hl7_spec::base::versions().join(", ")
                );
                errors.push(file.error_at(directive.pos, message).with_help(help));
            }
            vec![directive.value.clone()]
        }
        None => {
            let mut versions: Vec<String> = profiles
                .iter()
                .map(|(_, p)| p.hl7_version.clone())
                .collect();
            versions.sort();
            versions.dedup();
            versions
        }
    };
    let mut bind = |directive: &Option<csv::Directive>| -> Option<BoundTable> {
        let directive = directive.as_ref().filter(|d| !d.value.is_empty())?;
        match tables::resolve(&directive.value, profiles, &versions) {
            Some(table) => Some(table),
            None => {
                let (message, help) = tables::not_found(site, &directive.value, &versions);
                errors.push(file.error_at(directive.pos, message).with_help(help));
                None
            }
        }
    };
    let from_table = bind(&file.from_table);
    let to_table = bind(&file.to_table);
    for (table, column) in [(&from_table, 1), (&to_table, 3)] {
        let Some(table) = table else { continue };
        for row in &file.rows {
            let code = if column == 1 {
                &row.from_code
            } else {
                &row.to_code
            };
            if !table.contains(code) {
                let mut error = file.error_at(
                    row.cells[column],
                    format!("code `{code}` is not in table {}", table.id),
                );
                error.help = table.suggestion();
                errors.push(error);
            }
        }
    }
    if let (Some(table), Policy::Default(default)) = (&to_table, &file.policy) {
        if !table.contains(&default.code) {
            let mut error = file.error_at(
                file.policy_pos,
                format!(
                    "the default code `{}` is not in table {}",
                    default.code, table.id
                ),
            );
            error.help = table.suggestion();
            errors.push(error);
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.col));
        return Err(errors);
    }
    let unmapped = match &from_table {
        Some(table) if table.closed => {
            let mapped: std::collections::BTreeSet<&str> =
                file.rows.iter().map(|r| r.from_code.as_str()).collect();
            table
                .codes
                .iter()
                .flatten()
                .filter(|code| !mapped.contains(code.as_str()))
                .cloned()
                .collect()
        }
        _ => Vec::new(),
    };
    let from_table_at = file
        .from_table
        .as_ref()
        .map(|d| (d.pos, file.line_text(d.pos.line).map(str::to_owned)));
    let mut rows = file.rows;
    rows.sort_by(|a, b| (&a.from_system, &a.from_code).cmp(&(&b.from_system, &b.from_code)));
    Ok(Crosswalk {
        name: name.to_owned(),
        ident,
        source,
        description: file.description,
        policy: file.policy,
        rows,
        from_table,
        to_table,
        unmapped,
        from_table_at,
    })
}

fn spec_errors(error: CrosswalkError) -> Vec<LoadError> {
    match error {
        CrosswalkError::Io { path, source } => vec![LoadError::Io { path, source }],
        other => other.located().iter().cloned().map(spec_error).collect(),
    }
}

/// The runtime's located error as the spec's, so build errors print like every other.
fn spec_error(error: LocatedError) -> LoadError {
    let span = Span {
        file: error.path.as_str().into(),
        line: error.line,
        col: error.col,
    };
    SpecError {
        message: error.message,
        span,
        line_text: error.line_text,
        help: error.help,
    }
    .into()
}
