//! Writing the mapping: one function per target segment and group, one per pair of composite
//! types, each checked against both manifests as it is written.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{LitStr, Path};

use crate::attr::Ctxt;
use crate::mapping::attr::{Action, MapRule};
use crate::mapping::manifest::{self, ElementInfo, MessageInfo, Slot};
use crate::mapping::paths::{element_label, Resolved};

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

fn base_datatype(datatype: &str) -> String {
    datatype
        .split('_')
        .next()
        .unwrap_or(datatype)
        .to_ascii_uppercase()
}

/// Table ids as profiles write them: `0001`, `1`, `HL70001`.
fn same_table(a: &str, b: &str) -> bool {
    let norm = |t: &str| {
        let t = t.strip_prefix("HL7").unwrap_or(t);
        let trimmed = t.trim_start_matches('0');
        if trimmed.is_empty() {
            t.to_owned()
        } else {
            trimmed.to_owned()
        }
    };
    norm(a) == norm(b)
}

/// Datatypes whose values convert component by component: the same base type, or two of the
/// coded-element family CE, CWE and CNE (their first six components mean the same).
fn same_family(a: &str, b: &str) -> bool {
    let (a, b) = (base_datatype(a), base_datatype(b));
    a == b
        || (matches!(a.as_str(), "CE" | "CWE" | "CNE")
            && matches!(b.as_str(), "CE" | "CWE" | "CNE"))
}

fn is_coded(element: &ElementInfo) -> bool {
    let base = base_datatype(&element.datatype);
    if element.composite {
        matches!(base.as_str(), "CE" | "CWE" | "CNE" | "CF")
    } else {
        matches!(base.as_str(), "ID" | "IS")
    }
}

impl Expander<'_> {
    fn fresh(&mut self, what: &str) -> proc_macro2::Ident {
        self.next += 1;
        format_ident!("__map_{}_{}", what, self.next)
    }

    fn type_tokens(&self, module: &TokenStream, ty: &str) -> TokenStream {
        let ident = format_ident!("{ty}");
        match ty {
            "Text" | "Number" | "SequenceId" | "Date" | "Time" | "DateTime" | "Varies" => {
                quote!(::hl7_runtime::codegen::#ident)
            }
            _ => quote!(#module::#ident),
        }
    }

    fn slot_tokens(&self, module: &TokenStream, ty: &str, slot: Slot) -> TokenStream {
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
    fn push_fn(
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

    fn node(
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

    fn segment(
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

    /// The expression of one target field, or `None` to leave it at its default.
    #[allow(clippy::too_many_arguments)]
    fn element(
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
                let (source, source_label, _) = self.rule_source(
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
                let _ = source_label;
                Some(quote_spanned! {span=> {
                    let convert: fn(&#src_slot) -> #tgt_slot = #function;
                    convert(&s.#source_field)
                }})
            }
            Action::Crosswalk(crosswalk) => {
                let (source, source_label, repetition) = self.rule_source(
                    rule.from.as_ref(),
                    source_elements,
                    target,
                    path,
                    label,
                    to_span,
                    cx,
                )?;
                let conv = match self.value_conversion(
                    &source,
                    target,
                    label,
                    cx,
                    Some((crosswalk, span)),
                ) {
                    Ok(conv) => conv,
                    Err(why) => {
                        cx.error_at(span, why);
                        return None;
                    }
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
                    to_span,
                    cx,
                ))
            }
            Action::Copy => {
                let (source, source_label, repetition) = self.rule_source(
                    rule.from.as_ref(),
                    source_elements,
                    target,
                    path,
                    label,
                    to_span,
                    cx,
                )?;
                let from_span = rule.rule.from.as_ref().map_or(to_span, LitStr::span);
                let conv = match self.value_conversion(&source, target, label, cx, None) {
                    Ok(conv) => conv,
                    Err(why) => {
                        cx.error_at(
                            from_span,
                            format!("{why}; convert it with `with = function`"),
                        );
                        return None;
                    }
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
                    from_span,
                    cx,
                ))
            }
        }
    }

    /// The source element a rule reads: its `from`, or the target's own position.
    #[allow(clippy::too_many_arguments)]
    fn rule_source(
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

    /// A closure `|v: &S| -> Result<T, MapError>` converting one source value into one target
    /// value, or why the two cannot be converted.
    fn value_conversion(
        &mut self,
        source: &ElementInfo,
        target: &ElementInfo,
        label: &str,
        cx: &mut Ctxt,
        crosswalk: Option<(&Path, Span)>,
    ) -> Result<TokenStream, String> {
        let (Some(source_ty), Some(target_ty)) = (source.ty.as_deref(), target.ty.as_deref())
        else {
            return Err("excluded element".into());
        };
        let src_item = self.type_tokens(&self.source_module.clone(), source_ty);
        let tgt_item = self.type_tokens(&self.target_module.clone(), target_ty);
        if let Some((crosswalk, span)) = crosswalk {
            if !is_coded(source) || !is_coded(target) {
                return Err(format!(
                    "a crosswalk maps codes: the source is {} and the target {} is {}, and a coded value is ID, IS, CE, CWE or CNE",
                    source.datatype, label, target.datatype
                ));
            }
            let ident = crosswalk
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default();
            if let Some(info) = manifest::crosswalk(&ident) {
                for (side, column, table) in [
                    ("source", &info.from_table, &source.table),
                    ("target", &info.to_table, &target.table),
                ] {
                    if let (Some(column), Some(table)) = (column, table) {
                        if !same_table(column, table) {
                            return Err(format!(
                                "crosswalk `{}` maps {} codes of table {column}, but the {side} {label} is bound to table {table}",
                                info.name,
                                if side == "source" { "from" } else { "to" }
                            ));
                        }
                    }
                }
            }
            let (system, code) = if source.composite {
                let (code, system) = self.coded_parts(&self.source.clone(), source_ty)?;
                (system, code)
            } else {
                (
                    quote!(::std::borrow::Cow::Borrowed("")),
                    quote!(v.decoded()),
                )
            };
            let write = if target.composite {
                self.coded_value(target_ty)?
            } else {
                quote!(<#tgt_item>::new(::core::convert::AsRef::<str>::as_ref(&mapped.code)))
            };
            let target_label = LitStr::new(label, span);
            return Ok(quote_spanned! {span=>
                |v: &#src_item| -> ::core::result::Result<#tgt_item, ::hl7_runtime::mapping::MapError> {
                    let system: ::std::borrow::Cow<'_, str> = #system;
                    let code: ::std::borrow::Cow<'_, str> = #code;
                    match #crosswalk.lookup(&system, &code) {
                        ::core::result::Result::Ok(mapped) => ::core::result::Result::Ok(#write),
                        ::core::result::Result::Err(error) => ::core::result::Result::Err(
                            ::hl7_runtime::mapping::MapError::unmapped(#target_label, error),
                        ),
                    }
                }
            });
        }
        if !source.composite && !target.composite {
            if source_ty != target_ty {
                return Err(format!(
                    "the source is {} ({source_ty}) and the target is {} ({target_ty})",
                    source.datatype, target.datatype
                ));
            }
            return Ok(
                quote!(|v: &#src_item| -> ::core::result::Result<#tgt_item, ::hl7_runtime::mapping::MapError> {
                    ::core::result::Result::Ok(::core::clone::Clone::clone(v))
                }),
            );
        }
        if source.composite != target.composite || !same_family(&source.datatype, &target.datatype)
        {
            return Err(format!(
                "the source is {} and the target is {}",
                source.datatype, target.datatype
            ));
        }
        let function = self.composite(source_ty, target_ty, cx)?;
        let label = LitStr::new(label, Span::call_site());
        Ok(quote!(|v: &#src_item| #function(v).map_err(|e| e.under(#label))))
    }

    /// A function converting composite `source_ty` into `target_ty` component by component.
    fn composite(
        &mut self,
        source_ty: &str,
        target_ty: &str,
        cx: &mut Ctxt,
    ) -> Result<proc_macro2::Ident, String> {
        let pair = (source_ty.to_owned(), target_ty.to_owned());
        if let Some(existing) = self.composite_fns.get(&pair) {
            return Ok(existing.clone());
        }
        let sources = self
            .source
            .elements(source_ty)
            .map(|(_, e)| e.to_vec())
            .unwrap_or_default();
        let targets = self
            .target
            .elements(target_ty)
            .map(|(_, e)| e.to_vec())
            .unwrap_or_default();
        let mut assignments = Vec::new();
        for target in &targets {
            let Some(field) = &target.field else { continue };
            let source = sources
                .iter()
                .find(|s| s.position == target.position && s.field.is_some());
            let component_label = format!(".{}", target.position);
            let conversion =
                source.map(|s| self.value_conversion(s, target, &component_label, cx, None));
            match (source, conversion) {
                (Some(source), Some(Ok(conv))) => {
                    let tf = format_ident!("{}", field.trim_start_matches("r#"));
                    let sf = format_ident!(
                        "{}",
                        source
                            .field
                            .as_deref()
                            .unwrap_or_default()
                            .trim_start_matches("r#")
                    );
                    let label = format!(".{}", target.position);
                    let expr = self.convert_slot(
                        quote!(s.#sf),
                        source.slot,
                        target.slot,
                        conv,
                        None,
                        &label,
                        &label,
                        self.span,
                        cx,
                    );
                    assignments.push(quote!(t.#tf = #expr;));
                }
                (_, conversion) if target.slot.required() => {
                    let why = match conversion {
                        Some(Err(why)) => why,
                        _ => "the source has no such component".to_owned(),
                    };
                    return Err(format!(
                        "component {} ({}) of {target_ty} is required, and {why}",
                        target.position, target.name
                    ));
                }
                _ => {}
            }
        }
        let name = self.fresh("composite");
        self.composite_fns.insert(pair, name.clone());
        let src_tokens = self.type_tokens(&self.source_module.clone(), source_ty);
        let tgt_tokens = self.type_tokens(&self.target_module.clone(), target_ty);
        self.push_fn(&name, &src_tokens, &tgt_tokens, &assignments);
        Ok(name)
    }

    /// How to read (code, coding system) from a coded composite: components 1 and 3.
    fn coded_parts(
        &self,
        message: &MessageInfo,
        ty: &str,
    ) -> Result<(TokenStream, TokenStream), String> {
        let (_, elements) = message.elements(ty).ok_or("not a composite")?;
        let read = |position: u16| -> Result<TokenStream, String> {
            let element = elements.iter().find(|e| e.position == position);
            match element.and_then(|e| e.field.as_deref().map(|f| (e, f))) {
                Some((e, f)) => {
                    let f = format_ident!("{}", f.trim_start_matches("r#"));
                    Ok(match e.slot {
                        Slot::One => quote!(v.#f.decoded()),
                        _ => quote!(v.#f.as_ref().map(|x| x.decoded()).unwrap_or_default()),
                    })
                }
                None if position == 3 => Ok(quote!(::std::borrow::Cow::Borrowed(""))),
                None => Err(format!("{ty} has no component {position}")),
            }
        };
        Ok((read(1)?, read(3)?))
    }

    /// A target coded composite built from a crosswalk's answer `mapped`.
    fn coded_value(&self, ty: &str) -> Result<TokenStream, String> {
        let (_, elements) = self.target.elements(ty).ok_or("not a composite")?;
        let item = self.type_tokens(&self.target_module.clone(), ty);
        let mut sets = Vec::new();
        for (position, source) in [
            (1u16, quote!(mapped.code)),
            (2, quote!(mapped.display)),
            (3, quote!(mapped.system)),
        ] {
            let Some(element) = elements.iter().find(|e| e.position == position) else {
                continue;
            };
            let Some(field) = element.field.as_deref() else {
                continue;
            };
            let field = format_ident!("{}", field.trim_start_matches("r#"));
            let value = quote!(::hl7_runtime::types::Text::new(::core::convert::AsRef::<str>::as_ref(&#source)));
            sets.push(match element.slot {
                Slot::One => quote!(out.#field = ::core::convert::From::from(#value);),
                _ => quote!(out.#field = ::core::option::Option::Some(::core::convert::From::from(#value));),
            });
        }
        Ok(quote!({
            let mut out = <#item as ::core::default::Default>::default();
            #(#sets)*
            out
        }))
    }

    /// Sets a component rule's value inside field `field` (every repetition of it).
    fn component_rule(
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

    /// Converts a source slot into a target slot with `conv` applied to each value.
    #[allow(clippy::too_many_arguments)]
    fn convert_slot(
        &self,
        source: TokenStream,
        from: Slot,
        to: Slot,
        conv: TokenStream,
        repetition: Option<usize>,
        target_label: &str,
        source_label: &str,
        span: Span,
        cx: &mut Ctxt,
    ) -> TokenStream {
        let conv = quote!((#conv));
        // Normalise the source to a single optional value or a list.
        let single: Option<TokenStream> = match (from, repetition) {
            (Slot::One, _) => Some(quote!(::core::option::Option::Some(&#source))),
            (Slot::Option, _) => Some(quote!(#source.as_ref())),
            (Slot::OptionBox, _) => Some(quote!(#source.as_deref())),
            (Slot::Vec | Slot::NonEmpty, Some(n)) => {
                let index = n - 1;
                Some(quote!(#source.get(#index)))
            }
            (Slot::Vec | Slot::NonEmpty, None) => None,
            (Slot::Excluded, _) => Some(quote!(::core::option::Option::None)),
        };
        match (single, to) {
            (Some(_), Slot::One) if from == Slot::One && repetition.is_none() => {
                quote!(#conv(&#source)?)
            }
            (Some(value), Slot::One) => {
                quote!(#conv(::hl7_runtime::mapping::required(#value, #target_label, #source_label)?)?)
            }
            (Some(value), Slot::Option) => {
                quote!(match #value { ::core::option::Option::Some(v) => ::core::option::Option::Some(#conv(v)?), ::core::option::Option::None => ::core::option::Option::None })
            }
            (Some(value), Slot::OptionBox) => {
                quote!(match #value { ::core::option::Option::Some(v) => ::core::option::Option::Some(::std::boxed::Box::new(#conv(v)?)), ::core::option::Option::None => ::core::option::Option::None })
            }
            (Some(value), Slot::Vec) => {
                quote!(match #value { ::core::option::Option::Some(v) => ::std::vec![#conv(v)?], ::core::option::Option::None => ::std::vec::Vec::new() })
            }
            (Some(value), Slot::NonEmpty) => {
                quote!(::hl7_runtime::NonEmpty::new(#conv(::hl7_runtime::mapping::required(#value, #target_label, #source_label)?)?))
            }
            (None, Slot::Vec) => quote!(::hl7_runtime::mapping::each(#source.iter(), #conv)?),
            (None, Slot::NonEmpty) => {
                quote!(::hl7_runtime::mapping::non_empty(::hl7_runtime::mapping::each(#source.iter(), #conv)?, #target_label, #source_label)?)
            }
            (None, Slot::One | Slot::Option | Slot::OptionBox) => {
                cx.error_at(span, format!(
                    "{source_label} repeats in the source and {target_label} does not in the target: say which repetition, e.g. `#[map(to = \"{target_label}\", from = \"{source_label}[1]\")]`"
                ));
                quote!(::core::default::Default::default())
            }
            (_, Slot::Excluded) => quote!(::core::default::Default::default()),
        }
    }
}

fn wrap(value: TokenStream, slot: Slot) -> TokenStream {
    match slot {
        Slot::One | Slot::Excluded => value,
        Slot::Option => quote!(::core::option::Option::Some(#value)),
        Slot::OptionBox => quote!(::core::option::Option::Some(::std::boxed::Box::new(#value))),
        Slot::Vec => quote!(::std::vec![#value]),
        Slot::NonEmpty => quote!(::hl7_runtime::NonEmpty::new(#value)),
    }
}
