//! `#[derive(Composite)]` and `#[derive(Segment)]`: values with positioned children.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, LitStr, Type};

use crate::attr::{self, Constraints, ContainerKeys, Ctxt};
use crate::expand::view::{self, ViewMember};
use crate::expand::{named_fields, node_impl, opt_str, usage_tokens, with_errors, NodeOf};

const ELEMENT_KEYS: &[&str] = &[
    "position",
    "name",
    "usage",
    "min",
    "max",
    "datatype",
    "len",
    "min_len",
    "table",
    "table_rule",
    "constant",
    "condition",
    "predicate",
];

/// One positioned child: its struct field (absent for an excluded one) and its constraints.
struct Child<'a> {
    member: Option<(&'a Ident, &'a Type)>,
    constraints: Constraints,
    position: u16,
}

fn children<'a>(
    input: &'a DeriveInput,
    derive: &str,
    excluded: Vec<Constraints>,
    cx: &mut Ctxt,
) -> Vec<Child<'a>> {
    let mut out = Vec::new();
    for field in named_fields(input, derive, cx) {
        let Some(ident) = field.ident.as_ref() else {
            continue;
        };
        let Some(constraints) = attr::parse_field(&field.attrs, ELEMENT_KEYS, cx) else {
            cx.error_at(
                ident.span(),
                format!("every field of a `{derive}` needs `#[hl7(position = N, ...)]`"),
            );
            continue;
        };
        constraints.check_range(cx, ident.span());
        let Some(position) = constraints.position else {
            cx.error_at(ident.span(), "missing `position = N` in `#[hl7(...)]`");
            continue;
        };
        if position == 0 {
            cx.error_at(ident.span(), "positions start at 1");
        }
        if constraints.usage_code() == "X" {
            cx.error_at(
                ident.span(),
                "an excluded (X) element has no field; write `#[hl7(exclude(position = N))]` on the struct",
            );
        }
        out.push(Child {
            member: Some((ident, &field.ty)),
            constraints,
            position,
        });
    }
    for constraints in excluded {
        let position = constraints.position.unwrap_or(0);
        out.push(Child {
            member: None,
            constraints,
            position,
        });
    }
    out.sort_by_key(|c| c.position);
    for pair in out.windows(2) {
        if pair[0].position == pair[1].position {
            let span = pair[1]
                .member
                .map_or_else(proc_macro2::Span::call_site, |(i, _)| i.span());
            cx.error_at(
                span,
                format!("two elements at position {}", pair[1].position),
            );
        }
    }
    out
}

fn rule_tokens(child: &Child<'_>, excluded: bool) -> TokenStream {
    let c = &child.constraints;
    let position = child.position;
    let name = c
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new("", proc_macro2::Span::call_site()));
    let usage = if excluded {
        usage_tokens("X")
    } else {
        usage_tokens(&c.usage_code())
    };
    let min = c.min_value();
    let max = c.max_value();
    let datatype = c
        .datatype
        .clone()
        .unwrap_or_else(|| LitStr::new("ST", proc_macro2::Span::call_site()));
    let min_len = c.min_len.unwrap_or(0);
    let max_len = match c.len {
        Some(len) => quote!(::hl7_runtime::codegen::Option::Some(#len)),
        None => quote!(::hl7_runtime::codegen::Option::None),
    };
    let table = match &c.table_rule {
        Some(path) => quote!(::hl7_runtime::codegen::Option::Some(&#path)),
        None => quote!(::hl7_runtime::codegen::Option::None),
    };
    let table_id = opt_str(c.table.as_ref());
    let constant = opt_str(c.constant.as_ref());
    let condition = opt_str(c.condition.as_ref());
    let predicate = match &c.predicate {
        Some(expr) => quote!(::hl7_runtime::codegen::Option::Some(&#expr)),
        None => quote!(::hl7_runtime::codegen::Option::None),
    };
    let (primitive, children) = match child.member {
        Some((_, ty)) => {
            let item = quote_spanned!(ty.span()=> <#ty as ::hl7_runtime::codegen::Slot>::Item);
            (
                quote!(if <#item as ::hl7_runtime::codegen::Element>::CHILDREN.is_empty() {
                    ::hl7_runtime::codegen::Primitive::for_datatype(#datatype)
                } else {
                    ::hl7_runtime::codegen::Primitive::Composite
                }),
                quote!(<#item as ::hl7_runtime::codegen::Element>::CHILDREN),
            )
        }
        None => (
            quote!(::hl7_runtime::codegen::Primitive::for_datatype(#datatype)),
            quote!(&[]),
        ),
    };
    quote! {
        ::hl7_runtime::codegen::ElementRule {
            position: #position,
            name: #name,
            usage: #usage,
            min: #min,
            max: #max,
            datatype: #datatype,
            primitive: #primitive,
            min_length: #min_len,
            max_length: #max_len,
            table: #table,
            table_id: #table_id,
            constant: #constant,
            condition: #condition,
            predicate: #predicate,
            children: #children,
        }
    }
}

/// The members a view reads, each at its position.
fn view_members<'a>(members: &[(u16, &'a Ident, &'a Type)]) -> Vec<ViewMember<'a>> {
    members
        .iter()
        .map(|&(position, ident, ty)| ViewMember {
            ident,
            ty,
            at: quote!(#position),
        })
        .collect()
}

/// `#[derive(Composite)]`.
pub(crate) fn composite(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let keys = ContainerKeys(&["datatype", "name", "exclude"]);
    let container = attr::parse_container(&input.attrs, &keys, &mut cx);
    let children = children(input, "Composite", container.excluded, &mut cx);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();

    let rules = children.iter().map(|c| rule_tokens(c, c.member.is_none()));
    let members: Vec<_> = children
        .iter()
        .filter_map(|c| c.member.map(|(i, t)| (c.position, i, t)))
        .collect();
    let decode_arms = members.iter().map(|(position, ident, ty)| {
        let position = usize::from(*position);
        quote_spanned!(ty.span()=> #position => out.#ident = <#ty as ::hl7_runtime::codegen::Slot>::decode_slot(part, child_level, ctx),)
    });
    // Children after the last member are not read; empty ones keep their default.
    let last_member = members
        .iter()
        .map(|(p, _, _)| usize::from(*p))
        .max()
        .unwrap_or(0);
    let first = members.iter().find(|(p, _, _)| *p == 1).map(|(_, ident, ty)| {
        quote!(out.#ident = <#ty as ::hl7_runtime::codegen::Slot>::decode_slot(raw, level, ctx);)
    });
    let encode = members
        .iter()
        .map(|(position, ident, _)| quote!(children.child(#position, &self.#ident);));
    let empty = members.iter().map(
        |(_, ident, ty)| quote!(<#ty as ::hl7_runtime::codegen::Slot>::is_empty_slot(&self.#ident)),
    );

    let view_items = view::element_items(input);
    let no_view_items = view::no_element_view();
    let body = quote! {
        impl #impl_generics ::hl7_runtime::codegen::Element for #ident #ty_generics #where_clause {
            const CHILDREN: &'static [::hl7_runtime::codegen::ElementRule] = &[#(#rules),*];

            fn decode(
                raw: &str,
                level: ::hl7_runtime::codegen::Level,
                ctx: &::hl7_runtime::codegen::DecodeContext,
            ) -> Self {
                let mut out = <Self as ::hl7_runtime::codegen::Default>::default();
                match level.child_separator(&ctx.delimiters) {
                    ::hl7_runtime::codegen::Option::Some(separator) => {
                        let child_level = level.child();
                        for (i, part) in ctx.split(raw, separator).enumerate() {
                            if i >= #last_member {
                                break;
                            }
                            if part.is_empty() {
                                continue;
                            }
                            match i + 1 {
                                #(#decode_arms)*
                                _ => {}
                            }
                        }
                    }
                    ::hl7_runtime::codegen::Option::None => { #first }
                }
                out
            }

            fn encode(&self, w: &mut ::hl7_runtime::codegen::Writer, level: ::hl7_runtime::codegen::Level) {
                let mut children = ::hl7_runtime::codegen::ChildWriter::new(w, level);
                #(#encode)*
            }

            fn is_empty(&self) -> bool {
                true #(&& #empty)*
            }

            #view_items
        }
    };
    let view_members = view_members(&members);
    let view = view::composite(input, &view_members);
    match cx.finish() {
        Ok(()) => quote!(#body #view),
        Err(error) => with_errors(
            error,
            quote! {
                impl #impl_generics ::hl7_runtime::codegen::Element for #ident #ty_generics #where_clause {
                    const CHILDREN: &'static [::hl7_runtime::codegen::ElementRule] = &[];
                    fn decode(_: &str, _: ::hl7_runtime::codegen::Level, _: &::hl7_runtime::codegen::DecodeContext) -> Self {
                        <Self as ::hl7_runtime::codegen::Default>::default()
                    }
                    fn encode(&self, _: &mut ::hl7_runtime::codegen::Writer, _: ::hl7_runtime::codegen::Level) {}
                    fn is_empty(&self) -> bool { true }
                    #no_view_items
                }
            },
        ),
    }
}

/// `#[derive(Segment)]`.
pub(crate) fn segment(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let keys = ContainerKeys(&["id", "name", "exclude"]);
    let container = attr::parse_container(&input.attrs, &keys, &mut cx);
    let ident = &input.ident;
    let id = match &container.id {
        Some(id) => {
            let value = id.value();
            if value.len() != 3
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                cx.error_at(
                    id.span(),
                    format!("segment id `{value}` must be 3 uppercase letters or digits"),
                );
            }
            id.clone()
        }
        None => {
            cx.error_at(
                ident.span(),
                "missing `#[hl7(id = \"XXX\")]` on the segment",
            );
            LitStr::new("ZZZ", ident.span())
        }
    };
    let name = container
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new("", ident.span()));
    let header = matches!(id.value().as_str(), "MSH" | "FHS" | "BHS");
    let children = children(input, "Segment", container.excluded, &mut cx);
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();

    let rules = children.iter().map(|c| rule_tokens(c, c.member.is_none()));
    let members: Vec<_> = children
        .iter()
        .filter_map(|c| c.member.map(|(i, t)| (c.position, i, t)))
        .collect();
    // One pass over the segment's fields collects the raw text of each position read.
    let last_member = members
        .iter()
        .map(|(p, _, _)| usize::from(*p))
        .max()
        .unwrap_or(0);
    let decode = members.iter().map(|(position, ident, ty)| {
        let n = usize::from(*position);
        let index = n.saturating_sub(1);
        // MSH-1 and MSH-2 hold the delimiters: read them whole, never split.
        let level = if header && n <= 2 {
            quote!(::hl7_runtime::codegen::Level::Subcomponent)
        } else {
            quote!(::hl7_runtime::codegen::Level::Field)
        };
        quote_spanned! {ty.span()=>
            #ident: match raws[#index] {
                ::hl7_runtime::codegen::Option::Some(raw) => {
                    <#ty as ::hl7_runtime::codegen::Slot>::decode_slot(raw, #level, ctx)
                }
                ::hl7_runtime::codegen::Option::None => ::hl7_runtime::codegen::Default::default(),
            },
        }
    });
    // The writer writes MSH-1 and MSH-2 itself, from its delimiters.
    let first_written: u16 = if header { 2 } else { 0 };
    let encode = members.iter().filter(|(p, _, _)| *p > first_written).map(|(position, ident, ty)| {
        quote! {
            if !<#ty as ::hl7_runtime::codegen::Slot>::is_empty_slot(&self.#ident) {
                while cursor < #position {
                    w.field_separator();
                    cursor += 1;
                }
                <#ty as ::hl7_runtime::codegen::Slot>::encode_slot(&self.#ident, w, ::hl7_runtime::codegen::Level::Field);
            }
        }
    });

    let body = quote! {
        impl #impl_generics ::hl7_runtime::codegen::SegmentType for #ident #ty_generics #where_clause {
            const RULE: ::hl7_runtime::codegen::SegmentRule = ::hl7_runtime::codegen::SegmentRule {
                id: #id,
                name: #name,
                fields: &[#(#rules),*],
            };

            fn decode(
                segment: &::hl7_runtime::codegen::Er7Segment<'_>,
                ctx: &::hl7_runtime::codegen::DecodeContext,
            ) -> Self {
                let _ = (segment, ctx);
                let mut raws: [::hl7_runtime::codegen::Option<&str>; #last_member] =
                    [::hl7_runtime::codegen::Option::None; #last_member];
                for field in segment.fields() {
                    match raws.get_mut(field.number().wrapping_sub(1)) {
                        ::hl7_runtime::codegen::Option::Some(slot) => *slot = ::hl7_runtime::codegen::Option::Some(field.raw()),
                        ::hl7_runtime::codegen::Option::None => break,
                    }
                }
                Self { #(#decode)* }
            }

            #[allow(unused_mut, unused_variables)]
            fn encode(&self, w: &mut ::hl7_runtime::codegen::Writer) {
                w.begin_segment(#id);
                let mut cursor: u16 = #first_written;
                #(#encode)*
                w.end_segment();
            }
        }
    };
    let node = |view_items: TokenStream| node_impl(input, NodeOf::Segment, view_items);
    let view_members = view_members(&members);
    let view = view::segment(input, &view_members);
    match cx.finish() {
        Ok(()) => {
            let node = node(view::segment_node_items(input));
            quote!(#body #node #view)
        }
        Err(error) => {
            let fallback_node = node(view::no_node_view());
            with_errors(
                error,
                quote! {
                    impl #impl_generics ::hl7_runtime::codegen::SegmentType for #ident #ty_generics #where_clause {
                        const RULE: ::hl7_runtime::codegen::SegmentRule =
                            ::hl7_runtime::codegen::SegmentRule { id: #id, name: "", fields: &[] };
                        fn decode(_: &::hl7_runtime::codegen::Er7Segment<'_>, _: &::hl7_runtime::codegen::DecodeContext) -> Self {
                            <Self as ::hl7_runtime::codegen::Default>::default()
                        }
                        fn encode(&self, _: &mut ::hl7_runtime::codegen::Writer) {}
                    }
                    #fallback_node
                },
            )
        }
    }
}
