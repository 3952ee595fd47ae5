//! `#[derive(Group)]` and `#[derive(Message)]`: ordered segments and groups.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, LitStr, Type};

use crate::attr::{self, ContainerKeys, Ctxt};
use crate::expand::view::{self, ViewMember};
use crate::expand::{named_fields, node_impl, usage_tokens, with_errors, NodeOf};

const NODE_KEYS: &[&str] = &["usage", "min", "max", "name"];

struct Member<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    rule: TokenStream,
}

fn members<'a>(input: &'a DeriveInput, derive: &str, cx: &mut Ctxt) -> Vec<Member<'a>> {
    let mut out = Vec::new();
    for field in named_fields(input, derive, cx) {
        let Some(ident) = field.ident.as_ref() else {
            continue;
        };
        let constraints = attr::parse_field(&field.attrs, NODE_KEYS, cx).unwrap_or_default();
        constraints.check_range(cx, ident.span());
        if constraints.usage_code() == "X" {
            cx.error_at(
                ident.span(),
                "an excluded (X) segment or group has no field: leave it out",
            );
        }
        let ty = &field.ty;
        let usage = usage_tokens(&constraints.usage_code());
        let min = constraints.min_value();
        let max = constraints.max_value();
        let kind = quote_spanned!(ty.span()=>
            <<#ty as ::hl7_runtime::codegen::NodeSlot>::Item as ::hl7_runtime::codegen::Node>::NODE
        );
        let rule = quote! {
            ::hl7_runtime::codegen::NodeRule { kind: #kind, usage: #usage, min: #min, max: #max }
        };
        out.push(Member { ident, ty, rule });
    }
    out
}

fn view_members<'a>(members: &[Member<'a>]) -> Vec<ViewMember<'a>> {
    members
        .iter()
        .enumerate()
        .map(|(i, m)| ViewMember {
            ident: m.ident,
            ty: m.ty,
            at: view::index(i),
        })
        .collect()
}

fn decode_body(members: &[Member<'_>]) -> TokenStream {
    let fields = members.iter().enumerate().map(|(i, m)| {
        let (ident, ty) = (m.ident, m.ty);
        quote_spanned! {ty.span()=>
            #ident: <#ty as ::hl7_runtime::codegen::NodeSlot>::decode_slot(
                matched.child(#i),
                message,
                ctx,
            ),
        }
    });
    quote!(Self { #(#fields)* })
}

fn encode_body(members: &[Member<'_>]) -> TokenStream {
    let calls = members.iter().map(|m| {
        let (ident, ty) = (m.ident, m.ty);
        quote!(<#ty as ::hl7_runtime::codegen::NodeSlot>::encode_slot(&self.#ident, w);)
    });
    quote!(#(#calls)*)
}

/// `#[derive(Group)]`.
pub(crate) fn group(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let container = attr::parse_container(&input.attrs, &ContainerKeys(&["group"]), &mut cx);
    let ident = &input.ident;
    let name = container.group.clone().unwrap_or_else(|| {
        cx.error_at(
            ident.span(),
            "missing `#[hl7(group = \"NAME\")]` on the group",
        );
        LitStr::new("", ident.span())
    });
    let members = members(input, "Group", &mut cx);
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let rules = members.iter().map(|m| &m.rule);
    let decode = decode_body(&members);
    let encode = encode_body(&members);
    let node = |view_items: TokenStream| node_impl(input, NodeOf::Group, view_items);
    let body = quote! {
        impl #impl_generics ::hl7_runtime::codegen::GroupType for #ident #ty_generics #where_clause {
            const RULE: ::hl7_runtime::codegen::GroupRule = ::hl7_runtime::codegen::GroupRule {
                name: #name,
                children: &[#(#rules),*],
            };

            fn decode(
                matched: ::hl7_runtime::codegen::MatchedGroup<'_>,
                message: &::hl7_runtime::codegen::Er7Message<'_>,
                ctx: &::hl7_runtime::codegen::DecodeContext,
            ) -> Self {
                #decode
            }

            fn encode(&self, w: &mut ::hl7_runtime::codegen::Writer) {
                #encode
            }
        }
    };
    let view = view::group(input, &view_members(&members));
    match cx.finish() {
        Ok(()) => {
            let node = node(view::group_node_items(input));
            quote!(#body #node #view)
        }
        Err(error) => {
            let fallback_node = node(view::no_node_view());
            with_errors(
                error,
                quote! {
                    impl #impl_generics ::hl7_runtime::codegen::GroupType for #ident #ty_generics #where_clause {
                        const RULE: ::hl7_runtime::codegen::GroupRule =
                            ::hl7_runtime::codegen::GroupRule { name: #name, children: &[] };
                        fn decode(
                            _: ::hl7_runtime::codegen::MatchedGroup<'_>,
                            _: &::hl7_runtime::codegen::Er7Message<'_>,
                            _: &::hl7_runtime::codegen::DecodeContext,
                        ) -> Self {
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

/// `#[derive(Message)]`.
pub(crate) fn message(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let keys = ContainerKeys(&["structure", "msg_type", "event", "version", "profile"]);
    let container = attr::parse_container(&input.attrs, &keys, &mut cx);
    let ident = &input.ident;
    let mut required = |value: &Option<LitStr>, key: &str| {
        value.clone().unwrap_or_else(|| {
            cx.error_at(
                ident.span(),
                format!("missing `{key} = \"...\"` in `#[hl7(...)]` on the message"),
            );
            LitStr::new("", ident.span())
        })
    };
    let structure = required(&container.structure, "structure");
    let msg_type = required(&container.msg_type, "msg_type");
    let event = required(&container.event, "event");
    let version = required(&container.version, "version");
    let profile = container
        .profile
        .clone()
        .unwrap_or_else(|| LitStr::new("", ident.span()));
    let members = members(input, "Message", &mut cx);
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let rules = members.iter().map(|m| &m.rule);
    let decode = decode_body(&members);
    let encode = encode_body(&members);
    let inherent = quote! {
        impl #impl_generics #ident #ty_generics #where_clause {
            /// Parses and validates an ER7 message; any error-level problem fails the parse.
            pub fn parse(bytes: &[u8]) -> ::core::result::Result<Self, ::hl7_runtime::codegen::ReadError> {
                ::hl7_runtime::typed::parse::<Self>(bytes)
            }

            /// Parses an ER7 message, keeping going past profile problems and returning them.
            pub fn parse_lenient(
                bytes: &[u8],
            ) -> ::core::result::Result<::hl7_runtime::codegen::Parsed<Self>, ::hl7_runtime::codegen::ParseError> {
                ::hl7_runtime::typed::parse_lenient::<Self>(bytes)
            }

            /// Encodes the message as ER7 text (standard delimiters, segments ended by `\r`).
            pub fn to_er7(&self) -> ::std::string::String {
                ::hl7_runtime::typed::to_er7(self)
            }

            /// Checks the message against its profile, as a receiver would.
            pub fn validate(&self) -> ::hl7_runtime::codegen::Vec<::hl7_runtime::codegen::Problem> {
                ::hl7_runtime::typed::validate(self)
            }
        }
    };
    let body = quote! {
        impl #impl_generics ::hl7_runtime::codegen::MessageType for #ident #ty_generics #where_clause {
            const RULE: ::hl7_runtime::codegen::MessageRule = ::hl7_runtime::codegen::MessageRule {
                profile: #profile,
                version: #version,
                msg_type: #msg_type,
                event: #event,
                structure: #structure,
                children: &[#(#rules),*],
            };

            fn decode(
                matched: ::hl7_runtime::codegen::MatchedGroup<'_>,
                message: &::hl7_runtime::codegen::Er7Message<'_>,
                ctx: &::hl7_runtime::codegen::DecodeContext,
            ) -> Self {
                #decode
            }

            fn encode(&self, w: &mut ::hl7_runtime::codegen::Writer) {
                #encode
            }
        }
    };
    let view = view::message(input, &view_members(&members));
    match cx.finish() {
        Ok(()) => quote!(#body #inherent #view),
        Err(error) => with_errors(
            error,
            quote! {
                impl #impl_generics ::hl7_runtime::codegen::MessageType for #ident #ty_generics #where_clause {
                    const RULE: ::hl7_runtime::codegen::MessageRule = ::hl7_runtime::codegen::MessageRule {
                        profile: "",
                        version: "",
                        msg_type: "",
                        event: "",
                        structure: "",
                        children: &[],
                    };
                    fn decode(
                        _: ::hl7_runtime::codegen::MatchedGroup<'_>,
                        _: &::hl7_runtime::codegen::Er7Message<'_>,
                        _: &::hl7_runtime::codegen::DecodeContext,
                    ) -> Self {
                        <Self as ::hl7_runtime::codegen::Default>::default()
                    }
                    fn encode(&self, _: &mut ::hl7_runtime::codegen::Writer) {}
                }
                #inherent
            },
        ),
    }
}
