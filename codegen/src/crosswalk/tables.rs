//! The tables a crosswalk's columns hold: a value set of the site's profiles, or a table of an
//! HL7 version.

use std::path::PathBuf;

use hl7_spec::base::{self, TableKind};
use hl7_spec::MessageProfile;

/// A table bound to a column, with its codes when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoundTable {
    /// The id as the directive writes it.
    pub(crate) id: String,
    pub(crate) name: String,
    /// `hl7`, `user` or `site`.
    pub(crate) kind: &'static str,
    /// HL7-defined tables and site value sets are closed: a code outside is an error, and every
    /// code should have a row.
    pub(crate) closed: bool,
    /// Sorted, deduplicated; `None` when no codes are known.
    pub(crate) codes: Option<Vec<String>>,
}

impl BoundTable {
    /// True when `code` is in the table, or the table's codes are not known.
    pub(crate) fn contains(&self, code: &str) -> bool {
        self.codes
            .as_ref()
            .is_none_or(|codes| codes.binary_search_by(|c| c.as_str().cmp(code)).is_ok())
    }

    /// A hint listing the codes of a small table.
    pub(crate) fn suggestion(&self) -> Option<String> {
        let codes = self.codes.as_ref()?;
        (codes.len() <= 20).then(|| {
            let list: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
            format!("table {} has {}", self.id, list.join(", "))
        })
    }
}

/// Resolves `id`: a value set of one of the profiles first, else a table of the first of
/// `versions` that has it.
pub(crate) fn resolve(
    id: &str,
    profiles: &[(PathBuf, MessageProfile)],
    versions: &[String],
) -> Option<BoundTable> {
    if let Some(set) = profiles
        .iter()
        .find_map(|(_, p)| p.value_sets.iter().find(|v| v.id == id))
    {
        return Some(BoundTable {
            id: id.to_owned(),
            name: set.name.clone().unwrap_or_default(),
            kind: "site",
            closed: true,
            codes: Some(sorted(set.values.iter().map(|c| c.code.clone()).collect())),
        });
    }
    versions.iter().find_map(|version| {
        let table = base::load(version).ok()?.table(id)?;
        Some(BoundTable {
            id: id.to_owned(),
            name: table.name.clone().unwrap_or_default(),
            kind: if table.kind == TableKind::Hl7 {
                "hl7"
            } else {
                "user"
            },
            closed: table.kind == TableKind::Hl7 && !table.values.is_empty(),
            codes: (!table.values.is_empty())
                .then(|| sorted(table.values.iter().map(|v| v.code.clone()).collect())),
        })
    })
}

/// The message and hint of a table found nowhere.
pub(crate) fn not_found(site: &str, id: &str, versions: &[String]) -> (String, String) {
    if versions.is_empty() {
        return (
            format!("table `{id}` is not a value set of site `{site}`, and no HL7 version is known to look it up in"),
            "state the version: `# hl7_version: 2.5.1`".to_owned(),
        );
    }
    (
        format!(
            "table `{id}` is neither a value set of site `{site}` nor a table of HL7 {}",
            versions.join(" or ")
        ),
        "name a table id such as `0001`, or a `ValueSet` id of the site's profiles".to_owned(),
    )
}

fn sorted(mut codes: Vec<String>) -> Vec<String> {
    codes.sort();
    codes.dedup();
    codes
}
