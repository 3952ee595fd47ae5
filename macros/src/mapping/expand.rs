//! Writing the mapping: one function per target segment and group, one per pair of composite
//! types, each checked against both manifests as it is written.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

use crate::attr::Ctxt;
use crate::mapping::attr::{Action, MapRule};
use crate::mapping::manifest::{MessageInfo, Slot};
use crate::mapping::paths::{element_label, Resolved};

mod element;
mod slots;
mod values;

/// A rule with its paths resolved.
pub(crate) struct Rule<'r> {
    pub(crate) rule: &'r MapRule,
    pub(crate) from: Option<Resolved>,
}

/// Everything the expansion needs.
pub(crate) struct Expander<'a> {
    pub(crate) source: &'a MessageInfo,
    pub(crate) target: &'a MessageInfo,
    /// `acme_lab::oru_r01`: where the source's types live.
    pub(crate) source_module: TokenStream,
    pub(crate) target_module: TokenStream,
    /// Element rules by target key (`PATIENT_RESULT/PATIENT/PID-3.4`).
    pub(crate) element_rules: BTreeMap<String, Rule<'a>>,
    /// Node rules by target node path.
    pub(crate) node_rules: BTreeMap<String, Rule<'a>>,
    pub(crate) auto: bool,
    pub(crate) span: Span,
    pub(crate) fns: Vec<TokenStream>,
    pub(crate) composite_fns: BTreeMap<(String, String), proc_macro2::Ident>,
    pub(crate) used: BTreeSet<String>,
    pub(crate) next: usize,
}

fn key(segment: &[String], positions: &[u16]) -> String {
    let mut out = segment.join("/");
    for (i, p) in positions.iter().enumerate() {
        out.push(if i == 0 { '-' } else { '.' });
        out.push_str(&p.to_string());
    }
    out
}

impl Expander<'_> {
    pub(super) fn fresh(&mut self, what: &str) -> proc_macro2::Ident {
        self.next += 1;
        format_ident!("__map_{}_{}", what, self.next)
    }

    pub(super) fn type_tokens(&self, module: &TokenStream, ty: &str) -> TokenStream {
        let ident = format_ident!("{ty}");
        match ty {
            "Text" | "Number" | "SequenceId" | "Date" | "Time" | "DateTime" | "Varies" => {
                quote!(::hl7_runtime::codegen::#ident)
            }
            _ => quote!(#module::#ident),
        }
    }

    pub(super) fn slot_tokens(&self, module: &TokenStream, ty: &str, slot: Slot) -> TokenStream {
        let item = self.type_tokens(module, ty);
        match slot {
            Slot::One | Slot::Excluded => item,
            Slot::Option => quote!(::core::option::Option<#item>),
            Slot::OptionBox => quote!(::core::option::Option<::std::boxed::Box<#item>>),
            Slot::Vec => quote!(::std::vec::Vec<#item>),
            Slot::NonEmpty => quote!(::hl7_runtime::NonEmpty<#item>),
        }
    }

    /// Adds `fn name(s: &Source) -> Result<Target, MapError>` that starts from the target's
    /// default and applies `assignments`.
    pub(super) fn push_fn(
        &mut self,
        name: &proc_macro2::Ident,
        source: &TokenStream,
        target: &TokenStream,
        assignments: &[TokenStream],
    ) {
        self.fns.push(quote! {
            #[allow(unused_variables, unused_mut, clippy::all)]
            fn #name(s: &#source) -> ::core::result::Result<#target, ::hl7_runtime::mapping::MapError> {
                let mut t = <#target as ::core::default::Default>::default();
                #(#assignments)*
                ::core::result::Result::Ok(t)
            }
        });
    }

    /// The mapping of the whole message: returns the function's name.
    pub(crate) fn message(&mut self, cx: &mut Ctxt) -> proc_macro2::Ident {
        let (s, t) = (self.source.type_name.clone(), self.target.type_name.clone());
        self.node(&s, &t, &[], cx)
    }

    pub(super) fn node(
        &mut self,
        source_ty: &str,
        target_ty: &str,
        path: &[String],
        cx: &mut Ctxt,
    ) -> proc_macro2::Ident {
        let name = self.fresh("node");
        let src_tokens = self.type_tokens(&self.source_module.clone(), source_ty);
        let tgt_tokens = self.type_tokens(&self.target_module.clone(), target_ty);
        let source_children = self
            .source
            .node(source_ty)
            .map(|(_, c)| c.to_vec())
            .unwrap_or_default();
        let target_children = self
            .target
            .node(target_ty)
            .map(|(_, c)| c.to_vec())
            .unwrap_or_default();
        let mut assignments = Vec::new();
        for child in &target_children {
            let mut child_path = path.to_vec();
            child_path.push(child.name.clone());
            let label = child_path.join("/");
            let field = format_ident!("{}", child.field.trim_start_matches("r#"));
            let rule = self.node_rules.get(&label).map(|r| {
                (
                    r.rule.action_span,
                    matches!(r.rule.action, Action::Drop | Action::Finish),
                    r.from.clone(),
                )
            });
            if let Some((span, leave_empty, _)) = &rule {
                self.used.insert(label.clone());
                if *leave_empty {
                    if child.slot.required()
                        && !matches!(self.node_rules[&label].rule.action, Action::Finish)
                    {
                        cx.error_at(
                            *span,
                            format!(
                                "`{label}` is required by the target profile: it cannot be dropped"
                            ),
                        );
                    }
                    continue;
                }
            }
            let Some(source) = source_children
                .iter()
                .find(|c| c.name == child.name && c.is_group == child.is_group)
            else {
                if child.slot.required() {
                    cx.error_at(self.span, format!(
                        "required target {} `{label}` has no counterpart in the source {}: map it in a `finish` function and mark it `#[map(to = \"{label}\", set_in_finish)]`",
                        if child.is_group { "group" } else { "segment" },
                        self.source.type_name
                    ));
                }
                continue;
            };
            let inner = if child.is_group {
                self.node(&source.ty, &child.ty, &child_path, cx)
            } else {
                self.segment(&source.ty, &child.ty, &child_path, cx)
            };
            let src_item = self.type_tokens(&self.source_module.clone(), &source.ty);
            let conv = quote!(|v: &#src_item| #inner(v));
            let repetition = match &rule {
                Some((_, _, Some(Resolved::Node { repetition, .. }))) => *repetition,
                _ => None,
            };
            let source_field = format_ident!("{}", source.field.trim_start_matches("r#"));
            let expr = self.convert_slot(
                quote!(s.#source_field),
                source.slot,
                child.slot,
                conv,
                repetition,
                &label,
                &label,
                rule.as_ref().map_or(self.span, |r| r.0),
                cx,
            );
            assignments.push(quote!(t.#field = #expr;));
        }
        self.push_fn(&name, &src_tokens, &tgt_tokens, &assignments);
        name
    }

    pub(super) fn segment(
        &mut self,
        source_ty: &str,
        target_ty: &str,
        path: &[String],
        cx: &mut Ctxt,
    ) -> proc_macro2::Ident {
        let name = self.fresh("segment");
        let src_tokens = self.type_tokens(&self.source_module.clone(), source_ty);
        let tgt_tokens = self.type_tokens(&self.target_module.clone(), target_ty);
        let source_elements = self
            .source
            .elements(source_ty)
            .map(|(_, e)| e.to_vec())
            .unwrap_or_default();
        let target_elements = self
            .target
            .elements(target_ty)
            .map(|(_, e)| e.to_vec())
            .unwrap_or_default();
        let mut assignments = Vec::new();
        // MSH-1 and MSH-2 are written by the encoder from its delimiters: nothing to map.
        let header = matches!(path.last().map(String::as_str), Some("MSH" | "FHS" | "BHS"));
        for target in &target_elements {
            let Some(field) = &target.field else { continue };
            if header && target.position <= 2 {
                continue;
            }
            let field = format_ident!("{}", field.trim_start_matches("r#"));
            let positions = [target.position];
            let target_key = key(path, &positions);
            let label = element_label(path, &positions);
            if let Some(expr) =
                self.element(target, &source_elements, path, &target_key, &label, cx)
            {
                assignments.push(quote!(t.#field = #expr;));
            }
            // Component-level rules under this field.
            let components: Vec<String> = self
                .element_rules
                .keys()
                .filter(|k| k.starts_with(&format!("{target_key}.")))
                .cloned()
                .collect();
            for component_key in components {
                if let Some(assign) = self.component_rule(target, &field, &component_key, cx) {
                    assignments.push(assign);
                }
            }
        }
        self.push_fn(&name, &src_tokens, &tgt_tokens, &assignments);
        name
    }
}
