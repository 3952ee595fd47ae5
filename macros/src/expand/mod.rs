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
