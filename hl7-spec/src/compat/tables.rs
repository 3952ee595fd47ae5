//! Tables and their codes, as each side knows them: the profile's own value sets, else its base
//! version's tables.

use crate::base::BaseVersion;
use crate::model::MessageProfile;

/// At most this many missing codes are named; the rest are counted.
const MAX_LISTED: usize = 10;

/// One side's profile and its base (when its version is bundled).
#[derive(Clone, Copy)]
pub(super) struct Side<'a> {
    pub(super) profile: &'a MessageProfile,
    pub(super) base: Option<&'static BaseVersion>,
}

impl<'a> Side<'a> {
    /// The profile and its bundled base.
    pub(super) fn new(profile: &'a MessageProfile) -> Side<'a> {
        Side {
            profile,
            base: crate::base::load(&profile.hl7_version).ok(),
        }
    }

    /// The codes of table `id`: the profile's value set of that id, else the base table (when
    /// it has values). `None` when neither is known.
    pub(super) fn codes(&self, id: &str) -> Option<Vec<&'a str>> {
        if let Some(set) = self.profile.value_sets.iter().find(|s| s.id == id) {
            return Some(set.values.iter().map(|v| v.code.as_str()).collect());
        }
        let table = self.base?.table(id)?;
        (!table.values.is_empty()).then(|| table.values.iter().map(|v| v.code.as_str()).collect())
    }

    /// True when the profile defines a value set with this id (a site table that may shadow
    /// the base table of the same id).
    pub(super) fn defines(&self, id: &str) -> bool {
        self.profile.value_sets.iter().any(|s| s.id == id)
    }
}

/// A table id in a comparable form: `HL70001`, `1` and `0001` are all `0001`; other ids stay.
pub(super) fn normalize(id: &str) -> String {
    let id = id.trim();
    let bare = match id.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("HL7") && id.len() > 3 => &id[3..],
        _ => id,
    };
    if !bare.is_empty() && bare.len() <= 4 && bare.bytes().all(|b| b.is_ascii_digit()) {
        format!("{bare:0>4}")
    } else {
        id.to_owned()
    }
}

/// The codes of `sent` that `accepted` lacks, in `sent`'s order.
pub(super) fn missing<'a>(sent: &[&'a str], accepted: &[&str]) -> Vec<&'a str> {
    sent.iter()
        .copied()
        .filter(|code| !accepted.contains(code))
        .collect()
}

/// `` `1`, `2`, `UNK` `` or the first ten and `and 4 more`.
pub(super) fn list(codes: &[&str]) -> String {
    let mut out: Vec<String> = codes
        .iter()
        .take(MAX_LISTED)
        .map(|c| format!("`{c}`"))
        .collect();
    if codes.len() > MAX_LISTED {
        out.push(format!("and {} more", codes.len() - MAX_LISTED));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_normalize() {
        assert_eq!(normalize("HL70001"), "0001");
        assert_eq!(normalize("1"), "0001");
        assert_eq!(normalize("0396"), "0396");
        assert_eq!(normalize("ACME_SEX"), "ACME_SEX");
        assert_eq!(normalize("HL7"), "HL7");
    }

    #[test]
    fn lists_are_capped() {
        let codes: Vec<String> = (1..=13).map(|n| n.to_string()).collect();
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        assert_eq!(list(&codes[..2]), "`1`, `2`");
        assert!(
            list(&codes).ends_with("`10`, and 3 more"),
            "{}",
            list(&codes)
        );
    }
}
