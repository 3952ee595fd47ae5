//! The typed views the derives write beside each type: `PidView<'v>` for `Pid`, and so on.
//!
//! A view wraps the runtime's untyped view of its level and adds one accessor per member, named
//! and documented like the member, returning the member type's view (`Slot::View` and
//! `NodeSlot::View` in `hl7_runtime::typed` decide what that is).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, DeriveInput, Field, Fields, Ident, Type};

/// Names the views' own methods take; a member with one of them gets its accessor suffixed
/// with `_value` instead.
const OWN_METHODS: &[&str] = &["raw", "is_empty", "decode", "segment", "message", "parse"];

/// One member: its accessor, type, doc comment, and what locates it (position or index).
pub(crate) struct ViewMember<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) at: TokenStream,
}

/// The view type's name: `PidView` for `Pid`.
pub(crate) fn view_ident(input: &DeriveInput) -> Ident {
    format_ident!("{}View", input.ident)
}

/// Views are written for plain structs only; a generic one keeps its owned type alone.
pub(crate) fn wanted(input: &DeriveInput) -> bool {
    input.generics.params.is_empty()
}

fn field_of<'a>(input: &'a DeriveInput, ident: &Ident) -> Option<&'a Field> {
    match &input.data {
        syn::Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => fields
                .named
                .iter()
                .find(|f| f.ident.as_ref() == Some(ident)),
            _ => None,
        },
        _ => None,
    }
}

fn docs<'a>(input: &'a DeriveInput, ident: &Ident) -> Vec<&'a Attribute> {
    field_of(input, ident)
        .map(|f| {
            f.attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .collect()
        })
        .unwrap_or_default()
}

fn accessor(ident: &Ident) -> Ident {
    let name = ident.to_string();
    let bare = name.strip_prefix("r#").unwrap_or(&name);
    if OWN_METHODS.contains(&bare) {
        format_ident!("{}_value", bare)
    } else {
        ident.clone()
    }
}

/// The accessors of a view whose inner view's `method` takes the member's slot type and `at`.
fn accessors(
    input: &DeriveInput,
    members: &[ViewMember<'_>],
    method: &str,
    slot_trait: &str,
    lifetime: &TokenStream,
) -> Vec<TokenStream> {
    let method = Ident::new(method, proc_macro2::Span::call_site());
    let slot_trait = Ident::new(slot_trait, proc_macro2::Span::call_site());
    members
        .iter()
        .map(|m| {
            let docs = docs(input, m.ident);
            let name = accessor(m.ident);
            // The accessor is as visible as the member it reads.
            let vis = field_of(input, m.ident).map(|f| &f.vis);
            let (ty, at) = (m.ty, &m.at);
            quote_spanned! {ty.span()=>
                #(#docs)*
                #vis fn #name(&self) -> <#ty as ::hl7_runtime::codegen::#slot_trait>::View<#lifetime> {
                    self.0.#method::<#ty>(#at)
                }
            }
        })
        .collect()
}

fn view_doc(input: &DeriveInput, what: &str) -> String {
    format!(
        "A view of [`{}`] in a message's text: {what} found and decoded on access, nothing \
         copied. `decode()` gives the owned [`{}`].",
        input.ident, input.ident
    )
}

/// The `View` items of a composite's `Element` impl: its `XxxView`, or the untyped view of a
/// composite that has none.
pub(crate) fn element_items(input: &DeriveInput) -> TokenStream {
    if !wanted(input) {
        return no_element_view();
    }
    let view = view_ident(input);
    quote! {
        type View<'v> = #view<'v>;

        fn view(
            raw: &str,
            level: ::hl7_runtime::codegen::Level,
            delimiters: ::hl7_runtime::codegen::Delimiters,
        ) -> #view<'_> {
            #view(::hl7_runtime::codegen::CompositeView::new(raw, level, delimiters))
        }
    }
}

/// `View` items for a composite without a view of its own (a generic one, or one whose
/// derive failed).
pub(crate) fn no_element_view() -> TokenStream {
    quote! {
        type View<'v> = ::hl7_runtime::codegen::CompositeView<'v>;

        fn view(
            raw: &str,
            level: ::hl7_runtime::codegen::Level,
            delimiters: ::hl7_runtime::codegen::Delimiters,
        ) -> ::hl7_runtime::codegen::CompositeView<'_> {
            ::hl7_runtime::codegen::CompositeView::new(raw, level, delimiters)
        }
    }
}

/// The `View` items of a segment's `Node` impl.
pub(crate) fn segment_node_items(input: &DeriveInput) -> TokenStream {
    node_items(
        input,
        quote! {
            let segment = match matched {
                ::hl7_runtime::codegen::Option::Some(::hl7_runtime::codegen::Matched::Segment(index)) => {
                    message.segment_at(index)
                }
                _ => ::hl7_runtime::codegen::Option::None,
            };
            ::hl7_runtime::codegen::SegmentView::new(segment, message.delimiters())
        },
    )
}

/// The `View` items of a group's `Node` impl.
pub(crate) fn group_node_items(input: &DeriveInput) -> TokenStream {
    node_items(
        input,
        quote! {
            let group = match matched {
                ::hl7_runtime::codegen::Option::Some(::hl7_runtime::codegen::Matched::Group(group)) => {
                    ::hl7_runtime::codegen::Option::Some(group)
                }
                _ => ::hl7_runtime::codegen::Option::None,
            };
            ::hl7_runtime::codegen::GroupView::new(message, group)
        },
    )
}

/// A `Node` impl's `View` items, `inner` building the runtime view from `matched` and
/// `message`; `()` for a node without a view.
fn node_items(input: &DeriveInput, inner: TokenStream) -> TokenStream {
    if !wanted(input) {
        return no_node_view();
    }
    let view = view_ident(input);
    quote! {
        type View<'v> = #view<'v>;

        fn view_node<'v>(
            matched: ::hl7_runtime::codegen::Option<::hl7_runtime::codegen::Matched<'v>>,
            message: &'v ::hl7_runtime::codegen::Er7Message<'v>,
        ) -> #view<'v> {
            #view({ #inner })
        }
    }
}

/// `View` items for a node without a view (a generic type, or one whose derive failed).
pub(crate) fn no_node_view() -> TokenStream {
    quote! {
        type View<'v> = ();

        fn view_node<'v>(
            _: ::hl7_runtime::codegen::Option<::hl7_runtime::codegen::Matched<'v>>,
            _: &'v ::hl7_runtime::codegen::Er7Message<'v>,
        ) {}
    }
}

/// What a view struct wraps and reads its members with.
struct Inner {
    /// The runtime's view type, in `::hl7_runtime::codegen`.
    ty: &'static str,
    /// Its method that reads a member, and the slot trait of the member's type.
    method: &'static str,
    slot_trait: &'static str,
    /// What the members are, for the doc comment.
    members: &'static str,
}

/// `XxxView` of a composite, segment or group: the accessors, `extra` methods, and `decode()`.
fn view_struct(
    input: &DeriveInput,
    members: &[ViewMember<'_>],
    inner: &Inner,
    extra: TokenStream,
) -> TokenStream {
    if !wanted(input) {
        return TokenStream::new();
    }
    let (ident, vis, view) = (&input.ident, &input.vis, view_ident(input));
    let doc = view_doc(input, inner.members);
    let accessors = accessors(input, members, inner.method, inner.slot_trait, &quote!('v));
    let inner = Ident::new(inner.ty, proc_macro2::Span::call_site());
    quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug)]
        #vis struct #view<'v>(::hl7_runtime::codegen::#inner<'v>);

        // Unused accessors of a private type are not dead code to warn about.
        #[allow(dead_code)]
        impl<'v> #view<'v> {
            #(#accessors)*

            #extra

            /// As the owned type (its default when the message leaves it out).
            #vis fn decode(&self) -> #ident {
                self.0.decode::<#ident>()
            }
        }
    }
}

/// `XxxView` of a `#[derive(Composite)]` type.
pub(crate) fn composite(input: &DeriveInput, members: &[ViewMember<'_>]) -> TokenStream {
    let vis = &input.vis;
    let inner = Inner {
        ty: "CompositeView",
        method: "child",
        slot_trait: "Slot",
        members: "components are",
    };
    let extra = quote! {
        /// The whole value as written, escaped for the message's delimiters.
        #vis fn raw(&self) -> &'v str {
            self.0.raw()
        }

        /// True when the message leaves the value empty.
        #vis fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    };
    view_struct(input, members, &inner, extra)
}

/// `XxxView` of a `#[derive(Segment)]` type.
pub(crate) fn segment(input: &DeriveInput, members: &[ViewMember<'_>]) -> TokenStream {
    let vis = &input.vis;
    let inner = Inner {
        ty: "SegmentView",
        method: "field",
        slot_trait: "Slot",
        members: "fields are",
    };
    let extra = quote! {
        /// The generic view of the segment (`None` when the message leaves it out), for what
        /// the profile does not name.
        #vis fn segment(&self) -> ::hl7_runtime::codegen::Option<::hl7_runtime::codegen::Er7Segment<'v>> {
            self.0.segment()
        }
    };
    view_struct(input, members, &inner, extra)
}

/// `XxxView` of a `#[derive(Group)]` type.
pub(crate) fn group(input: &DeriveInput, members: &[ViewMember<'_>]) -> TokenStream {
    let inner = Inner {
        ty: "GroupView",
        method: "child",
        slot_trait: "NodeSlot",
        members: "segments are",
    };
    view_struct(input, members, &inner, TokenStream::new())
}

/// `XxxView` of a `#[derive(Message)]` type, with its parse functions, and `view` on the owned
/// type.
pub(crate) fn message(input: &DeriveInput, members: &[ViewMember<'_>]) -> TokenStream {
    if !wanted(input) {
        return TokenStream::new();
    }
    let (ident, vis, view) = (&input.ident, &input.vis, view_ident(input));
    let doc = format!(
        "A view of a [`{ident}`] message in its text: parsed and validated like \
         `{ident}::parse`, but no struct is filled and no value copied; segments and values are \
         found and decoded on access. `decode()` gives the owned [`{ident}`]."
    );
    let accessors = accessors(input, members, "child", "NodeSlot", &quote!('_));
    let view_fn_doc =
        format!("Views and validates ER7 text without building the struct: see [`{view}`].");
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug)]
        #vis struct #view<'m>(::hl7_runtime::codegen::MessageView<'m>);

        #[allow(dead_code)]
        impl<'m> #view<'m> {
            /// Views and validates ER7 text (already decoded, see
            /// `hl7_runtime::er7::decode_bytes`); any error-level problem fails.
            #vis fn parse(text: &'m str) -> ::core::result::Result<Self, ::hl7_runtime::codegen::ReadError> {
                let parsed = Self::parse_lenient(text)?;
                if parsed.problems.iter().any(::hl7_runtime::codegen::Problem::is_error) {
                    return ::core::result::Result::Err(::hl7_runtime::codegen::ReadError::Invalid {
                        problems: parsed.problems,
                    });
                }
                ::core::result::Result::Ok(parsed.message)
            }

            /// Views ER7 text, keeping going past profile problems and returning them.
            #vis fn parse_lenient(
                text: &'m str,
            ) -> ::core::result::Result<::hl7_runtime::codegen::Parsed<Self>, ::hl7_runtime::codegen::ParseError> {
                let parsed = ::hl7_runtime::typed::view_lenient::<#ident>(text)?;
                ::core::result::Result::Ok(::hl7_runtime::codegen::Parsed {
                    message: #view(parsed.message),
                    problems: parsed.problems,
                })
            }

            #(#accessors)*

            /// The generic view of the message, for what the profile does not name.
            #vis fn message(&self) -> &::hl7_runtime::codegen::Er7Message<'m> {
                self.0.message()
            }

            /// The message as the owned type.
            #vis fn decode(&self) -> #ident {
                self.0.decode::<#ident>()
            }
        }

        #[allow(dead_code)]
        impl #ident {
            #[doc = #view_fn_doc]
            #vis fn view(text: &str) -> ::core::result::Result<#view<'_>, ::hl7_runtime::codegen::ReadError> {
                #view::parse(text)
            }
        }
    }
}

/// What locates a node member: its index in rule order.
pub(crate) fn index(i: usize) -> TokenStream {
    quote!(#i)
}
