//! Expansion of the derives.

pub(crate) mod element;
pub(crate) mod node;
pub(crate) mod view;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use syn::{Data, DeriveInput, Field, Fields};

use crate::attr::Ctxt;

/// The named fields of a struct, or an error at the item.
pub(crate) fn named_fields<'a>(
    input: &'a DeriveInput,
    derive: &str,
    cx: &mut Ctxt,
) -> Vec<&'a Field> {
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => fields.named.iter().collect(),
            Fields::Unit => Vec::new(),
            Fields::Unnamed(_) => {
                cx.error_at(
                    input.ident.span(),
                    format!("`{derive}` needs a struct with named fields"),
                );
                Vec::new()
            }
        },
        _ => {
            cx.error_at(
                input.ident.span(),
                format!("`{derive}` can only be derived for a struct"),
            );
            Vec::new()
        }
    }
}

/// `::hl7_runtime::codegen::Usage::R` for a usage code.
pub(crate) fn usage_tokens(code: &str) -> TokenStream {
    let code = if crate::attr::USAGES.contains(&code) {
        code
    } else {
        "O"
    };
    let ident = Ident::new(code, Span::call_site());
    quote!(::hl7_runtime::codegen::Usage::#ident)
}

pub(crate) fn opt_str(value: Option<&syn::LitStr>) -> TokenStream {
    match value {
        Some(s) => quote!(::hl7_runtime::codegen::Option::Some(#s)),
        None => quote!(::hl7_runtime::codegen::Option::None),
    }
}

/// Compile errors, plus `fallback` so one mistake does not cascade into missing-trait errors.
pub(crate) fn with_errors(error: syn::Error, fallback: TokenStream) -> TokenStream {
    let errors = error.to_compile_error();
    quote!(#errors #fallback)
}

/// The two kinds of node `Node` is derived for.
#[derive(Clone, Copy)]
pub(crate) enum NodeOf {
    Segment,
    Group,
}

/// The `Node` impl of a segment or group, with `view_items` (its `View` type and `view_node`).
pub(crate) fn node_impl(input: &DeriveInput, kind: NodeOf, view_items: TokenStream) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let (variant, rule_trait, decode) = match kind {
        NodeOf::Segment => (
            quote!(Segment),
            quote!(SegmentType),
            quote!(decode_segment_node),
        ),
        NodeOf::Group => (quote!(Group), quote!(GroupType), quote!(decode_group_node)),
    };
    quote! {
        impl #impl_generics ::hl7_runtime::codegen::Node for #ident #ty_generics #where_clause {
            const NODE: ::hl7_runtime::codegen::NodeKind =
                ::hl7_runtime::codegen::NodeKind::#variant(&<Self as ::hl7_runtime::codegen::#rule_trait>::RULE);

            fn decode_node(
                matched: ::hl7_runtime::codegen::Matched<'_>,
                message: &::hl7_runtime::codegen::Er7Message<'_>,
                ctx: &::hl7_runtime::codegen::DecodeContext,
            ) -> Self {
                ::hl7_runtime::codegen::#decode::<Self>(matched, message, ctx)
            }

            fn encode_node(&self, w: &mut ::hl7_runtime::codegen::Writer) {
                <Self as ::hl7_runtime::codegen::#rule_trait>::encode(self, w);
            }

            #view_items
        }
    }
}
