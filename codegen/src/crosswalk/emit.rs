//! The crosswalks as Rust tokens (a `crosswalks` module of statics) and as the JSON manifest the
//! derives read.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use serde_json::{json, Value};

use hl7_runtime::crosswalk::Policy;

use super::{BoundTable, Crosswalk};

/// The `crosswalks` module of a site: one `static` per crosswalk, rows sorted by
/// `(from_system, from_code)` so a lookup is a binary search. Nothing when there are none.
pub(crate) fn crosswalks_module(crosswalks: &[Crosswalk]) -> TokenStream {
    if crosswalks.is_empty() {
        return TokenStream::new();
    }
    let items = crosswalks.iter().map(|c| {
        let ident = syn::Ident::new(&c.ident, Span::call_site());
        let name = &c.name;
        let rows = c.rows.iter().map(|r| {
            let (a, b, cc, d, e) = (&r.from_system, &r.from_code, &r.to_system, &r.to_code, &r.to_display);
            quote!(::hl7_runtime::codegen::CrosswalkRow::new(#a, #b, #cc, #d, #e))
        });
        let policy = match &c.policy {
            Policy::Default(code) => {
                let (system, value, display) = (&*code.system, &*code.code, &*code.display);
                quote!(::hl7_runtime::codegen::CrosswalkPolicy::Default(
                    ::hl7_runtime::codegen::CrosswalkCode::new(#system, #value, #display)
                ))
            }
            Policy::Pass => quote!(::hl7_runtime::codegen::CrosswalkPolicy::Pass),
            _ => quote!(::hl7_runtime::codegen::CrosswalkPolicy::Reject),
        };
        let from = table_tokens(c.from_table.as_ref());
        let to = table_tokens(c.to_table.as_ref());
        let doc = doc(c).into_iter().map(|line| quote!(#[doc = #line]));
        quote! {
            #(#doc)*
            pub static #ident: ::hl7_runtime::codegen::Crosswalk = ::hl7_runtime::codegen::Crosswalk::new(
                #name,
                #policy,
                &[#(#rows),*],
                #from,
                #to,
            );
        }
    });
    quote! {
        /// Vocabulary crosswalks of the site, compiled from its CSV files: each lookup is a binary
        /// search over static rows; `reload_from_file` replaces a table while the engine runs.
        pub mod crosswalks {
            #(#items)*
        }
    }
}

fn table_tokens(table: Option<&BoundTable>) -> TokenStream {
    let Some(table) = table else {
        return quote!(::hl7_runtime::codegen::Option::None);
    };
    let id = &table.id;
    match &table.codes {
        Some(codes) => quote!(::hl7_runtime::codegen::Option::Some(
            ::hl7_runtime::codegen::CrosswalkTable::known(#id, &[#(#codes),*])
        )),
        None => {
            quote!(::hl7_runtime::codegen::Option::Some(::hl7_runtime::codegen::CrosswalkTable::unknown(#id)))
        }
    }
}

/// The doc lines of a crosswalk's static.
fn doc(c: &Crosswalk) -> Vec<String> {
    let mut lines = vec![format!(" Crosswalk `{}`, from `{}`.", c.name, c.source)];
    if let Some(description) = &c.description {
        lines.push(String::new());
        lines.push(format!(" {description}"));
    }
    lines.push(String::new());
    lines.push(format!(
        " {} rows; a code without a row: `{}`.",
        c.rows.len(),
        c.policy
    ));
    for (label, table) in [("From", &c.from_table), ("To", &c.to_table)] {
        if let Some(table) = table {
            let name = if table.name.is_empty() {
                String::new()
            } else {
                format!(" ({})", table.name)
            };
            lines.push(format!(" {label} table {}{name}.", table.id));
        }
    }
    if !c.unmapped.is_empty() {
        let codes: Vec<String> = c.unmapped.iter().map(|code| format!("`{code}`")).collect();
        lines.push(format!(
            " Codes of table {} without a row: {}.",
            c.from_table.as_ref().map_or("", |t| &t.id),
            codes.join(", ")
        ));
    }
    lines
}

/// The crosswalk manifest of a site, `<site>.crosswalks.json`:
///
/// ```text
/// { "site": "acme", "crosswalks": [ {
///     "name": "acme_sex", "static": "ACME_SEX", "path": "fixtures/vocab/acme/acme_sex.csv",
///     "description": "…" | null, "rows": 3,
///     "policy": "reject" | "pass" | "default",
///     "default": { "system": "HL70001", "code": "U", "display": "Unknown" } | null,
///     "from_table": { "id": "ACME_SEX", "name": "…", "kind": "hl7" | "user" | "site",
///                     "closed": true, "codes": ["F", "M", "U"] | null } | null,
///     "to_table": … | null,
///     "from_systems": [""], "to_systems": ["HL70001"],
///     "unmapped": ["U"] } ] }
/// ```
///
/// Crosswalks are sorted by name, systems sorted and deduplicated (`""` stands for rows without
/// a system).
pub(crate) fn manifest(site: &str, crosswalks: &[Crosswalk]) -> Value {
    let entries: Vec<Value> = crosswalks
        .iter()
        .map(|c| {
            let (policy, default) = match &c.policy {
                Policy::Default(code) => (
                    "default",
                    json!({ "system": code.system, "code": code.code, "display": code.display }),
                ),
                Policy::Pass => ("pass", Value::Null),
                _ => ("reject", Value::Null),
            };
            json!({
                "name": c.name,
                "static": c.ident,
                "path": c.source,
                "description": c.description,
                "rows": c.rows.len(),
                "policy": policy,
                "default": default,
                "from_table": c.from_table.as_ref().map(table_json),
                "to_table": c.to_table.as_ref().map(table_json),
                "from_systems": systems(c.rows.iter().map(|r| r.from_system.as_str())),
                "to_systems": systems(c.rows.iter().map(|r| r.to_system.as_str())),
                "unmapped": c.unmapped,
            })
        })
        .collect();
    json!({ "site": site, "crosswalks": entries })
}

fn table_json(table: &BoundTable) -> Value {
    json!({ "id": table.id, "name": table.name, "kind": table.kind, "closed": table.closed, "codes": table.codes })
}

fn systems<'a>(all: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut systems: Vec<&str> = all.collect();
    systems.sort_unstable();
    systems.dedup();
    systems
}
