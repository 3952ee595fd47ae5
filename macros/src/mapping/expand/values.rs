//! Converting one value: primitives, composites component by component, and crosswalk lookups
//! of coded values.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{LitStr, Path};

use crate::attr::Ctxt;
use crate::mapping::manifest::{self, ElementInfo, MessageInfo, Slot};

use super::Expander;

impl Expander<'_> {
    /// A closure `|v: &S| -> Result<T, MapError>` converting one source value into one target
    /// value, or why the two cannot be converted.
    pub(super) fn value_conversion(
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
    pub(super) fn composite(
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
    pub(super) fn coded_parts(
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
    pub(super) fn coded_value(&self, ty: &str) -> Result<TokenStream, String> {
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
}

pub(super) fn base_datatype(datatype: &str) -> String {
    datatype
        .split('_')
        .next()
        .unwrap_or(datatype)
        .to_ascii_uppercase()
}

/// Table ids as profiles write them: `0001`, `1`, `HL70001`.
pub(super) fn same_table(a: &str, b: &str) -> bool {
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
pub(super) fn same_family(a: &str, b: &str) -> bool {
    let (a, b) = (base_datatype(a), base_datatype(b));
    a == b
        || (matches!(a.as_str(), "CE" | "CWE" | "CNE")
            && matches!(b.as_str(), "CE" | "CWE" | "CNE"))
}

pub(super) fn is_coded(element: &ElementInfo) -> bool {
    let base = base_datatype(&element.datatype);
    if element.composite {
        matches!(base.as_str(), "CE" | "CWE" | "CNE" | "CF")
    } else {
        matches!(base.as_str(), "ID" | "IS")
    }
}
