//! `#[derive(Mapping)]`: a mapping between the generated types of two site profiles, checked
//! against both sites' manifests at compile time.
//!
//! Parse (`attr`), resolve against the manifests (`manifest`, `paths`), then write one function
//! per target segment, group and composite pair (`expand`).

mod attr;
mod expand;
mod manifest;
mod paths;

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{DeriveInput, LitStr, Path};

use crate::attr::Ctxt;
use expand::{Expander, Rule};
use manifest::MessageInfo;
use paths::Resolved;

/// The site, message and module of a `site::Type` path.
fn locate(path: &Path, site: Option<&LitStr>, cx: &mut Ctxt) -> Option<(MessageInfo, TokenStream)> {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let (type_name, prefix) = segments.split_last()?;
    if prefix.is_empty() {
        cx.error_at(
            path.span(),
            format!("write `{type_name}` with its site module, e.g. `my_site::{type_name}`"),
        );
        return None;
    }
    let sites = match manifest::sites() {
        Ok(sites) => sites,
        Err(error) => {
            cx.error_at(path.span(), error);
            return None;
        }
    };
    let site_name = match site {
        Some(site) => site.value(),
        None => match prefix.iter().rev().find(|p| sites.contains(p)) {
            Some(site) => site.clone(),
            None => {
                cx.error_at(path.span(), format!(
                    "cannot tell which site `{}` belongs to (sites generated in this crate: {}); add `from_site = \"...\"` or `to_site = \"...\"`",
                    segments.join("::"),
                    sites.join(", ")
                ));
                return None;
            }
        },
    };
    match manifest::message(&site_name, type_name) {
        Ok(message) => {
            let module = syn::Ident::new(&message.module, path.span());
            let prefix: Vec<syn::Ident> = path
                .segments
                .iter()
                .take(prefix.len())
                .map(|s| s.ident.clone())
                .collect();
            let leading = path.leading_colon.map(|_| quote!(::));
            Some((message, quote!(#leading #(#prefix)::* :: #module)))
        }
        Err(error) => {
            cx.error_at(path.span(), error);
            None
        }
    }
}

/// `#[derive(Mapping)]`.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let (mapping, rules) = attr::parse(&input.attrs, input.ident.span(), &mut cx);
    let ident = &input.ident;
    let Some(mapping) = mapping else {
        return cx
            .finish()
            .err()
            .map(|e| e.to_compile_error())
            .unwrap_or_default();
    };
    let source = locate(&mapping.from, mapping.from_site.as_ref(), &mut cx);
    let target = locate(&mapping.to, mapping.to_site.as_ref(), &mut cx);
    let (Some((source, source_module)), Some((target, target_module))) = (source, target) else {
        return fallback(ident, &mapping.from, &mapping.to, cx);
    };

    // Resolve every rule against the two sites.
    let mut element_rules: BTreeMap<String, Rule<'_>> = BTreeMap::new();
    let mut node_rules: BTreeMap<String, Rule<'_>> = BTreeMap::new();
    let mut first_at: BTreeMap<String, Span> = BTreeMap::new();
    for rule in &rules {
        let to = match paths::resolve(&target, &rule.to.value()) {
            Ok(to) => to,
            Err(error) => {
                cx.error_at(rule.to.span(), format!("target {error}"));
                continue;
            }
        };
        let from = match &rule.from {
            Some(from) => match paths::resolve(&source, &from.value()) {
                Ok(resolved) => Some(resolved),
                Err(error) => {
                    cx.error_at(from.span(), format!("source {error}"));
                    continue;
                }
            },
            None => None,
        };
        let key = match &to {
            Resolved::Node { path, .. } => path.join("/"),
            Resolved::Element {
                segment,
                positions,
                excluded,
                ..
            } => {
                if *excluded {
                    cx.error_at(
                        rule.to.span(),
                        format!(
                        "target {} is excluded (usage X) by the target profile: it cannot be set",
                        paths::element_label(segment, positions)
                    ),
                    );
                    continue;
                }
                let mut key = segment.join("/");
                for (i, p) in positions.iter().enumerate() {
                    key.push(if i == 0 { '-' } else { '.' });
                    key.push_str(&p.to_string());
                }
                key
            }
        };
        if let Some(first) = first_at.get(&key) {
            cx.error_at(
                rule.to.span(),
                format!("a second rule for `{key}`; one target, one rule"),
            );
            cx.error_at(*first, format!("the first rule for `{key}` is here"));
            continue;
        }
        first_at.insert(key.clone(), rule.to.span());
        let resolved = Rule { rule, from };
        match to {
            Resolved::Node { .. } => {
                if !matches!(
                    rule.action,
                    attr::Action::Drop | attr::Action::Finish | attr::Action::Copy
                ) {
                    cx.error_at(rule.action_span, "a segment or group can be dropped, set in `finish`, or copied from one repetition (`from = \"GROUP[1]\"`)");
                    continue;
                }
                node_rules.insert(key, resolved);
            }
            Resolved::Element { .. } => {
                element_rules.insert(key, resolved);
            }
        }
    }
    if rules
        .iter()
        .any(|r| matches!(r.action, attr::Action::Finish))
        && mapping.finish.is_none()
    {
        cx.error_at(
            mapping.span,
            "rules say `set_in_finish`, but the mapping has no `finish = function`",
        );
    }

    let mut expander = Expander {
        source: &source,
        target: &target,
        source_module,
        target_module,
        element_rules,
        node_rules,
        auto: mapping.auto,
        span: mapping.to.span(),
        fns: Vec::new(),
        composite_fns: BTreeMap::new(),
        used: Default::default(),
        next: 0,
    };
    let root = expander.message(&mut cx);
    for (key, rule) in expander
        .element_rules
        .iter()
        .chain(expander.node_rules.iter())
    {
        if !expander.used.contains(key) {
            cx.error_at(rule.rule.to.span(), format!(
                "this rule never applies: the source has no segment or group where target `{key}` is built"
            ));
        }
    }
    let fns = &expander.fns;
    let from = &mapping.from;
    let to = &mapping.to;
    let finish = mapping.finish.as_ref().map(|f| {
        quote::quote_spanned! {f.span()=>
            let finish: fn(&#from, &mut #to) -> ::core::result::Result<(), ::hl7_runtime::mapping::MapError> = #f;
            finish(source, &mut target)?;
        }
    });
    let body = quote! {
        impl ::hl7_runtime::mapping::Mapping for #ident {
            type Source = #from;
            type Target = #to;

            fn map(source: &#from) -> ::core::result::Result<#to, ::hl7_runtime::mapping::MapError> {
                #(#fns)*
                let mut target = #root(source)?;
                #finish
                ::core::result::Result::Ok(target)
            }
        }

        impl #ident {
            /// Maps one source message (see the `Mapping` derive).
            pub fn map(source: &#from) -> ::core::result::Result<#to, ::hl7_runtime::mapping::MapError> {
                <Self as ::hl7_runtime::mapping::Mapping>::map(source)
            }
        }
    };
    match cx.finish() {
        Ok(()) => body,
        Err(error) => {
            let errors = error.to_compile_error();
            let fallback = fallback_impl(ident, from, to);
            quote!(#errors #fallback)
        }
    }
}

fn fallback_impl(ident: &syn::Ident, from: &Path, to: &Path) -> TokenStream {
    quote! {
        impl ::hl7_runtime::mapping::Mapping for #ident {
            type Source = #from;
            type Target = #to;
            fn map(_: &#from) -> ::core::result::Result<#to, ::hl7_runtime::mapping::MapError> {
                ::core::result::Result::Ok(::core::default::Default::default())
            }
        }
    }
}

fn fallback(ident: &syn::Ident, from: &Path, to: &Path, cx: Ctxt) -> TokenStream {
    let errors = cx
        .finish()
        .err()
        .map(|e| e.to_compile_error())
        .unwrap_or_default();
    let fallback = fallback_impl(ident, from, to);
    quote!(#errors #fallback)
}
