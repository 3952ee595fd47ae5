//! Converting between the ways structs hold values: `T`, `Option<T>`, `Option<Box<T>>`,
//! `Vec<T>` and `NonEmpty<T>`.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::attr::Ctxt;
use crate::mapping::manifest::Slot;

use super::Expander;

impl Expander<'_> {
    /// Converts a source slot into a target slot with `conv` applied to each value.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn convert_slot(
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

pub(super) fn wrap(value: TokenStream, slot: Slot) -> TokenStream {
    match slot {
        Slot::One | Slot::Excluded => value,
        Slot::Option => quote!(::core::option::Option::Some(#value)),
        Slot::OptionBox => quote!(::core::option::Option::Some(::std::boxed::Box::new(#value))),
        Slot::Vec => quote!(::std::vec![#value]),
        Slot::NonEmpty => quote!(::hl7_runtime::NonEmpty::new(#value)),
    }
}
