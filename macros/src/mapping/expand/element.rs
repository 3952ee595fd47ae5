//! One target field: its rule (copy, convert, crosswalk, constant, drop) or its automatic copy,
//! and constants set on components.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::LitStr;

use crate::attr::Ctxt;
use crate::mapping::attr::Action;
use crate::mapping::manifest::{ElementInfo, Slot};
use crate::mapping::paths::{element_label, Resolved};

use super::slots::wrap;
use super::Expander;

impl Expander<'_> {
    /// The expression of one target field, or `None` to leave it at its default.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn element(
        &mut self,
        target: &ElementInfo,
        source_elements: &[ElementInfo],
        path: &[String],
        target_key: &str,
        label: &str,
        cx: &mut Ctxt,
    ) -> Option<TokenStream> {
        let rule = self.element_rules.get(target_key);
        let Some(rule) = rule else {
            // Copied without being named, when the source has a compatible element.
            let source = source_elements
                .iter()
                .find(|e| e.position == target.position && e.field.is_some());
            let compatible = self.auto
                && source
                    .is_some_and(|s| self.value_conversion(s, target, label, cx, None).is_ok());
            if !compatible {
                if target.slot.required() {
                    let why = match source {
                        None => "the source profile has no such element".to_owned(),
                        Some(_) if !self.auto => {
                            "automatic copies are off (`auto = false`)".to_owned()
                        }
                        Some(s) => self
                            .value_conversion(s, target, label, cx, None)
                            .err()
                            .unwrap_or_default(),
                    };
                    cx.error_at(self.span, format!(
                        "required target {label} ({}) is not provided: {why}; add `#[map(to = \"{label}\", ...)]`",
                        target.name
                    ));
                }
                return None;
            }
            let source = source?;
            let conv = self
                .value_conversion(source, target, label, cx, None)
                .ok()?;
            let source_field =
                format_ident!("{}", source.field.as_deref()?.trim_start_matches("r#"));
            return Some(self.convert_slot(
                quote!(s.#source_field),
                source.slot,
                target.slot,
                conv,
                None,
                label,
                label,
                self.span,
                cx,
            ));
        };
        self.used.insert(target_key.to_owned());
        let span = rule.rule.action_span;
        let to_span = rule.rule.to.span();
        match &rule.rule.action {
            Action::Drop => {
                if target.slot.required() {
                    cx.error_at(
                        span,
                        format!("{label} is required by the target profile: it cannot be dropped"),
                    );
                }
                None
            }
            Action::Finish => None,
            Action::Constant(value) => {
                if target.composite {
                    cx.error_at(span, format!("{label} is a composite ({}): set a constant on a component, e.g. `{label}.1`", target.datatype));
                    return None;
                }
                let item = self.type_tokens(&self.target_module.clone(), target.ty.as_deref()?);
                let value = quote_spanned!(span=> <#item>::new(#value));
                Some(wrap(value, target.slot))
            }
            Action::With(function) => {
                let (source, _, _) = self.rule_source(
                    rule.from.as_ref(),
                    source_elements,
                    target,
                    path,
                    label,
                    to_span,
                    cx,
                )?;
                let src_slot = self.slot_tokens(
                    &self.source_module.clone(),
                    source.ty.as_deref()?,
                    source.slot,
                );
                let tgt_slot = self.slot_tokens(
                    &self.target_module.clone(),
                    target.ty.as_deref()?,
                    target.slot,
                );
                let source_field =
                    format_ident!("{}", source.field.as_deref()?.trim_start_matches("r#"));
                Some(quote_spanned! {span=> {
                    let convert: fn(&#src_slot) -> #tgt_slot = #function;
                    convert(&s.#source_field)
                }})
            }
            Action::Crosswalk(_) | Action::Copy => {
                let (source, source_label, repetition) = self.rule_source(
                    rule.from.as_ref(),
                    source_elements,
                    target,
                    path,
                    label,
                    to_span,
                    cx,
                )?;
                // A crosswalk's errors point at the crosswalk; a copy's at its source path.
                let (crosswalk, error_span, hint) = match &rule.rule.action {
                    Action::Crosswalk(crosswalk) => (Some((crosswalk, span)), span, ""),
                    _ => (
                        None,
                        rule.rule.from.as_ref().map_or(to_span, LitStr::span),
                        "; convert it with `with = function`",
                    ),
                };
                let conv = match self.value_conversion(&source, target, label, cx, crosswalk) {
                    Ok(conv) => conv,
                    Err(why) => {
                        cx.error_at(error_span, format!("{why}{hint}"));
                        return None;
                    }
                };
                let slot_span = if crosswalk.is_some() {
                    to_span
                } else {
                    error_span
                };
                let source_field =
                    format_ident!("{}", source.field.as_deref()?.trim_start_matches("r#"));
                Some(self.convert_slot(
                    quote!(s.#source_field),
                    source.slot,
                    target.slot,
                    conv,
                    repetition,
                    label,
                    &source_label,
                    slot_span,
                    cx,
                ))
            }
        }
    }

    /// The source element a rule reads: its `from`, or the target's own position.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn rule_source(
        &self,
        from: Option<&Resolved>,
        source_elements: &[ElementInfo],
        target: &ElementInfo,
        path: &[String],
        label: &str,
        span: Span,
        cx: &mut Ctxt,
    ) -> Option<(ElementInfo, String, Option<usize>)> {
        let (position, repetition, source_label) = match from {
            None => (target.position, None, label.to_owned()),
            Some(Resolved::Element {
                segment,
                positions,
                repetition,
                excluded,
            }) => {
                if segment != path {
                    cx.error_at(span, format!(
                        "the source of {label} must be in the corresponding source segment `{}`, not `{}`",
                        path.join("/"),
                        segment.join("/")
                    ));
                    return None;
                }
                if *excluded {
                    cx.error_at(
                        span,
                        format!(
                            "the source {} is excluded (X) by the source profile",
                            element_label(segment, positions)
                        ),
                    );
                    return None;
                }
                if positions.len() != 1 {
                    cx.error_at(span, "a field's source is a field: map components with component paths on both sides");
                    return None;
                }
                (positions[0], *repetition, element_label(segment, positions))
            }
            Some(Resolved::Node { .. }) => {
                cx.error_at(
                    span,
                    format!("the source of {label} is a segment or group, not an element"),
                );
                return None;
            }
        };
        match source_elements
            .iter()
            .find(|e| e.position == position && e.field.is_some())
        {
            Some(source) => Some((source.clone(), source_label, repetition)),
            None => {
                cx.error_at(
                    span,
                    format!(
                        "the source profile has no {source_label} (excluded or beyond its segment)"
                    ),
                );
                None
            }
        }
    }

    /// Sets a component rule's value inside field `field` (every repetition of it).
    pub(super) fn component_rule(
        &mut self,
        target: &ElementInfo,
        field: &proc_macro2::Ident,
        component_key: &str,
        cx: &mut Ctxt,
    ) -> Option<TokenStream> {
        let rule = self.element_rules.get(component_key)?;
        self.used.insert(component_key.to_owned());
        let span = rule.rule.action_span;
        let Action::Constant(value) = &rule.rule.action else {
            if !matches!(rule.rule.action, Action::Finish) {
                cx.error_at(span, "component rules set constants (`constant = \"...\"`); map whole fields to copy, convert or look up");
            }
            return None;
        };
        let positions: Vec<u16> = component_key
            .rsplit_once('-')?
            .1
            .split('.')
            .filter_map(|p| p.parse().ok())
            .collect();
        // Walk the composite types down to the component.
        let mut ty = target.ty.clone()?;
        let mut accessors = Vec::new();
        let mut last_slot = Slot::One;
        let mut leaf_ty = String::new();
        for position in &positions[1..] {
            let (_, elements) = self.target.elements(&ty)?;
            let element = elements.iter().find(|e| e.position == *position)?;
            let Some(name) = element.field.as_deref() else {
                cx.error_at(
                    span,
                    format!(
                        "{} is excluded (X) by the target profile",
                        rule.rule.to.value()
                    ),
                );
                return None;
            };
            accessors.push((
                format_ident!("{}", name.trim_start_matches("r#")),
                element.slot,
            ));
            last_slot = element.slot;
            leaf_ty = element.ty.clone().unwrap_or_default();
            if element.composite {
                ty = leaf_ty.clone();
            }
        }
        let leaf = self.type_tokens(&self.target_module.clone(), &leaf_ty);
        let value = quote_spanned!(span=> <#leaf>::new(#value));
        // Build the nested assignment from the innermost outwards.
        let mut body = match last_slot {
            Slot::One => quote!(*x = #value;),
            _ => quote!(*x = ::core::option::Option::Some(#value);),
        };
        for (i, (name, slot)) in accessors.iter().enumerate().rev() {
            let inner = body;
            body = if i == accessors.len() - 1 {
                quote!({ let x = &mut x.#name; #inner })
            } else {
                match slot {
                    Slot::One => quote!({ let x = &mut x.#name; #inner }),
                    _ => {
                        quote!({ let x = x.#name.get_or_insert_with(::core::default::Default::default); #inner })
                    }
                }
            };
        }
        Some(match target.slot {
            Slot::One => quote!({ let x = &mut t.#field; #body }),
            Slot::Option => {
                quote!({ let x = t.#field.get_or_insert_with(::core::default::Default::default); #body })
            }
            Slot::OptionBox => {
                quote!({ let x = &mut **t.#field.get_or_insert_with(::core::default::Default::default); #body })
            }
            Slot::Vec => quote!({
                if t.#field.is_empty() { t.#field.push(::core::default::Default::default()); }
                for x in t.#field.iter_mut() { #body }
            }),
            Slot::NonEmpty => quote!({ for x in t.#field.iter_mut() { #body } }),
            Slot::Excluded => return None,
        })
    }
}
