//! From resolved profiles to Rust items: data plus `#[hl7(...)]` attributes; the derives of
//! `hl7-macros` write the impls.

use std::collections::BTreeMap;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::{json, Map, Value};

use hl7_spec::{Element, Group, MessageProfile, Node, Segment};

use crate::constraints::{self, Tables};
use crate::docs;
use crate::ident::{camel, snake, type_name, Scope};

/// One profile to generate, with the message type name it gets.
pub(crate) struct Input<'a> {
    pub(crate) profile: &'a MessageProfile,
    pub(crate) type_name: String,
    pub(crate) source: String,
}

/// Generates the code of one site, and its manifest: every generated type with its HL7 paths,
/// usage, cardinality and Rust field names, for derives (mappings) that check paths at compile
/// time.
pub(crate) fn site(inputs: &[Input<'_>]) -> (TokenStream, Value) {
    let mut tables = Tables::default();
    let mut modules = Vec::new();
    let mut reexports = Vec::new();
    let mut manifest = Map::new();
    for input in inputs {
        let module_name = snake(&input.type_name, "message");
        let module = format_ident!("{module_name}");
        let ty = format_ident!("{}", input.type_name);
        let (items, types) = MessageGen::new(input, &mut tables).run();
        manifest.insert(
            input.type_name.clone(),
            json!({
                "module": module_name,
                "structure": input.profile.structure_id,
                "msg_type": input.profile.msg_type,
                "event": input.profile.event_type,
                "version": input.profile.hl7_version,
                "types": Value::Object(types),
            }),
        );
        let doc = doc_attrs(&format!(
            "Types of the `{}` profile (`{}^{}`, HL7 {}): segments, groups and composites.",
            input.profile.structure_id,
            input.profile.msg_type,
            input.profile.event_type,
            input.profile.hl7_version
        ));
        modules.push(quote! {
            #doc
            // Several `#[hl7(exclude(..))]` on one struct are meant, not duplicates.
            #[allow(clippy::duplicated_attributes)]
            pub mod #module {
                #(#items)*
            }
        });
        // `#[derive(Message)]` writes the typed view beside the struct.
        let view = format_ident!("{}View", ty);
        reexports.push(quote!(pub use self::#module::{#ty, #view};));
    }
    let tables = tables_module(&tables);
    let tokens = quote! {
        #(#reexports)*
        #tables
        #(#modules)*
    };
    (tokens, json!({ "messages": Value::Object(manifest) }))
}

fn tables_module(tables: &Tables) -> TokenStream {
    let items = tables.all().map(|t| {
        let ident = table_ident(&t.id);
        let id = &t.id;
        let name = &t.name;
        let kind = match t.kind {
            hl7_runtime::rules::TableKind::Hl7 => quote!(Hl7),
            hl7_runtime::rules::TableKind::User => quote!(User),
            hl7_runtime::rules::TableKind::Site => quote!(Site),
        };
        let codes = t
            .codes
            .iter()
            .map(|(code, description)| quote!((#code, #description)));
        let doc = doc_attrs(&format!(
            "Table {id}{}: {} codes.",
            if name.is_empty() {
                String::new()
            } else {
                format!(" ({name})")
            },
            t.codes.len()
        ));
        // The hash index is built by the compiler from the codes, not written out.
        let slots = proc_macro2::Literal::usize_unsuffixed(hl7_runtime::rules::table_index_len(
            t.codes.len(),
        ));
        quote! {
            #doc
            pub static #ident: ::hl7_runtime::codegen::TableRule = {
                const CODES: &[(&str, &str)] = &[#(#codes),*];
                ::hl7_runtime::codegen::TableRule {
                    id: #id,
                    name: #name,
                    kind: ::hl7_runtime::codegen::TableKind::#kind,
                    codes: CODES,
                    index: &::hl7_runtime::codegen::table_index::<#slots>(CODES),
                }
            };
        }
    });
    quote! {
        /// Tables and value sets the site's profiles bind, with their codes.
        pub mod tables {
            #(#items)*
        }
    }
}

pub(crate) fn table_ident(id: &str) -> Ident {
    format_ident!(
        "TABLE_{}",
        snake(id, "unnamed")
            .trim_start_matches("r#")
            .trim_start_matches("f_")
            .to_ascii_uppercase()
    )
}

struct MessageGen<'a, 't> {
    input: &'a Input<'a>,
    tables: &'t mut Tables,
    scope: Scope,
    items: Vec<TokenStream>,
    /// Shape of a composite -> its type name.
    composites: BTreeMap<String, String>,
    /// Shape of a segment -> its type name.
    segments: BTreeMap<String, String>,
    /// Type name -> its manifest entry.
    manifest: Map<String, Value>,
}

impl<'a, 't> MessageGen<'a, 't> {
    fn new(input: &'a Input<'a>, tables: &'t mut Tables) -> Self {
        let mut scope = Scope::default();
        scope.claim(&input.type_name, "");
        MessageGen {
            input,
            tables,
            scope,
            items: Vec::new(),
            composites: BTreeMap::new(),
            segments: BTreeMap::new(),
            manifest: Map::new(),
        }
    }

    fn run(mut self) -> (Vec<TokenStream>, Map<String, Value>) {
        let profile = self.input.profile;
        let (fields, children) = self.nodes(&profile.children, "");
        self.manifest.insert(
            self.input.type_name.clone(),
            json!({ "kind": "message", "name": profile.structure_id, "children": children }),
        );
        let ident = format_ident!("{}", self.input.type_name);
        let doc = doc_attrs(&docs::message(profile, &self.input.source));
        let structure = &profile.structure_id;
        let msg_type = &profile.msg_type;
        let event = &profile.event_type;
        let version = &profile.hl7_version;
        let name = profile.meta.name.clone().unwrap_or_default();
        self.items.insert(
            0,
            quote! {
                #doc
                #[derive(Debug, Clone, Default, PartialEq, ::hl7_runtime::codegen::Message)]
                #[hl7(structure = #structure, msg_type = #msg_type, event = #event, version = #version, profile = #name)]
                pub struct #ident {
                    #(#fields)*
                }
            },
        );
        (self.items, self.manifest)
    }

    /// Fields of a message or group struct for its children; excluded children have none.
    fn nodes(&mut self, nodes: &[Node], parent: &str) -> (Vec<TokenStream>, Vec<Value>) {
        let mut names = Scope::default();
        let mut fields = Vec::new();
        let mut children = Vec::new();
        for node in nodes {
            if node.usage().is_excluded() {
                continue;
            }
            let (ty, doc) = match node {
                Node::Segment(segment) => (self.segment(segment, parent), docs::segment(segment)),
                Node::Group(group) => (self.group(group), docs::group(group)),
            };
            let doc = doc_attrs(&doc);
            let type_name = ty.clone();
            let ty = format_ident!("{ty}");
            let cardinality = node.cardinality();
            let required = node.usage().is_required();
            let slot = slot_of(
                cardinality.repeats(),
                required && cardinality.min > 0,
                required,
                true,
            );
            let wrapped = wrap_slot(slot, quote!(#ty));
            let field_name = names.claim(&snake(node.name(), "segment"), "_group");
            let field = field_ident(&field_name);
            let usage = constraints::usage_code(node.usage());
            children.push(json!({
                "name": node.name(),
                "kind": if matches!(node, Node::Segment(_)) { "segment" } else { "group" },
                "field": field_name,
                "type": type_name,
                "usage": usage,
                "min": cardinality.min,
                "max": cardinality.max,
                "slot": slot,
            }));
            let min = unsuffixed(cardinality.min);
            let max = max_tokens(cardinality.max);
            fields.push(quote! {
                #doc
                #[hl7(usage = #usage, min = #min, max = #max)]
                pub #field: #wrapped,
            });
        }
        (fields, children)
    }

    fn group(&mut self, group: &Group) -> String {
        let (fields, children) = self.nodes(&group.children, &group.name);
        let name = self
            .scope
            .claim(&type_name(&group.name, "Group", "Group"), "Group");
        self.manifest.insert(
            name.clone(),
            json!({ "kind": "group", "name": group.name, "children": children }),
        );
        let ident = format_ident!("{name}");
        let doc = doc_attrs(&docs::group(group));
        let group_name = &group.name;
        self.items.push(quote! {
            #doc
            #[derive(Debug, Clone, Default, PartialEq, ::hl7_runtime::codegen::Group)]
            #[hl7(group = #group_name)]
            pub struct #ident {
                #(#fields)*
            }
        });
        name
    }

    fn segment(&mut self, segment: &Segment, parent: &str) -> String {
        let shape = format!("{}|{:?}", segment.name, shape_of_all(&segment.fields));
        if let Some(name) = self.segments.get(&shape) {
            return name.clone();
        }
        let name = self.scope.claim(
            &type_name(&segment.name, "Segment", "Segment"),
            &camel(parent, ""),
        );
        self.segments.insert(shape, name.clone());
        let (fields, excluded, entries) = self.members(&segment.fields, &segment.name, true);
        self.manifest.insert(
            name.clone(),
            json!({ "kind": "segment", "name": segment.name, "elements": entries }),
        );
        let ident = format_ident!("{name}");
        let id = &segment.name;
        let long_name = segment.long_name.clone().unwrap_or_default();
        let doc = doc_attrs(&docs::segment(segment));
        self.items.push(quote! {
            #doc
            #[derive(Debug, Clone, Default, PartialEq, ::hl7_runtime::codegen::Segment)]
            #[hl7(id = #id, name = #long_name)]
            #(#excluded)*
            pub struct #ident {
                #(#fields)*
            }
        });
        name
    }

    /// The struct fields of a segment's fields (`is_field`) or a composite's components, the
    /// `exclude` attributes of the excluded ones, and their manifest entries. The manifest's slot
    /// and the generated type come from one decision, so they cannot disagree.
    fn members(
        &mut self,
        elements: &[Element],
        parent: &str,
        is_field: bool,
    ) -> (Vec<TokenStream>, Vec<TokenStream>, Vec<Value>) {
        let mut names = Scope::default();
        let mut fields = Vec::new();
        let mut excluded = Vec::new();
        let mut entries = Vec::new();
        for element in elements {
            let label = if is_field {
                format!("{parent}-{}", element.position)
            } else {
                format!("{parent}.{}", element.position)
            };
            if element.usage.is_excluded() {
                excluded.push(exclude_attr(element));
                entries.push(element_entry(element, None, None, is_field));
                continue;
            }
            let (item, item_name) = self.element_type(element, &label);
            let fallback = if is_field { "field" } else { "component" };
            let field_name = names.claim(
                &snake(&element.name, &format!("{fallback}_{}", element.position)),
                &format!("_{}", element.position),
            );
            let ident = field_ident(&field_name);
            let entry = element_entry(element, Some(&field_name), Some(&item_name), is_field);
            let wrapped = wrap_slot(entry["slot"].as_str().unwrap_or("one"), item);
            entries.push(entry);
            let attr = self.element_attr(element, is_field);
            let doc = doc_attrs(&docs::element(&label, element, is_field));
            fields.push(quote! {
                #doc
                #attr
                pub #ident: #wrapped,
            });
        }
        (fields, excluded, entries)
    }

    /// The type of one value of `element` (a field repetition, a component, a subcomponent).
    fn element_type(&mut self, element: &Element, label: &str) -> (TokenStream, String) {
        if !element.is_composite() {
            let name = constraints::primitive_type(&element.datatype);
            let ty = format_ident!("{name}");
            return (quote!(::hl7_runtime::codegen::#ty), name.to_owned());
        }
        let name = self.composite(element, label);
        let ident = format_ident!("{name}");
        (quote!(#ident), name)
    }

    fn composite(&mut self, element: &Element, label: &str) -> String {
        let shape = format!("{}|{:?}", element.datatype, shape_of_all(&element.children));
        if let Some(name) = self.composites.get(&shape) {
            return name.clone();
        }
        let site_suffix = camel(label, "");
        let name = self.scope.claim(
            &type_name(&element.datatype, "Composite", "Type"),
            &site_suffix,
        );
        self.composites.insert(shape, name.clone());
        let (fields, excluded, entries) = self.members(&element.children, label, false);
        self.manifest.insert(
            name.clone(),
            json!({ "kind": "composite", "name": element.datatype, "elements": entries }),
        );
        let ident = format_ident!("{name}");
        let datatype = &element.datatype;
        let doc = doc_attrs(&docs::composite(element, label));
        self.items.push(quote! {
            #doc
            #[derive(Debug, Clone, Default, PartialEq, ::hl7_runtime::codegen::Composite)]
            #[hl7(datatype = #datatype)]
            #(#excluded)*
            pub struct #ident {
                #(#fields)*
            }
        });
        name
    }

    fn element_attr(&mut self, element: &Element, is_field: bool) -> TokenStream {
        let position = unsuffixed(u32::from(element.position));
        let name = &element.name;
        let usage = constraints::usage_code(&element.usage);
        let datatype = &element.datatype;
        let mut parts = vec![
            quote!(position = #position),
            quote!(name = #name),
            quote!(usage = #usage),
        ];
        if is_field {
            let min = unsuffixed(element.cardinality.min);
            let max = max_tokens(element.cardinality.max);
            parts.push(quote!(min = #min));
            parts.push(quote!(max = #max));
        }
        parts.push(quote!(datatype = #datatype));
        if let Some(length) = element.length {
            if let Some(max) = length.max {
                let max = unsuffixed(max);
                parts.push(quote!(len = #max));
            }
            if length.min > 0 {
                let min = unsuffixed(length.min);
                parts.push(quote!(min_len = #min));
            }
        }
        if let Some(table) = &element.table {
            parts.push(quote!(table = #table));
            if constraints::table_checked(element)
                && self.tables.resolve(self.input.profile, table).is_some()
            {
                let ident = table_ident(table);
                parts.push(quote!(table_rule = super::tables::#ident));
            }
        }
        if let Some(constant) = &element.constant {
            parts.push(quote!(constant = #constant));
        }
        if let Some(condition) = constraints::condition_text(&element.usage) {
            parts.push(quote!(condition = #condition));
        }
        if let Some(predicate) = constraints::predicate_of(&element.usage) {
            let predicate = predicate_tokens(&predicate);
            parts.push(quote!(predicate = #predicate));
        }
        quote!(#[hl7(#(#parts),*)])
    }
}

fn usage_ident(code: &str) -> Ident {
    format_ident!("{code}")
}

fn predicate_tokens(predicate: &constraints::Pred) -> TokenStream {
    let condition = condition_tokens(&predicate.condition);
    let when_true = usage_ident(predicate.when_true);
    let when_false = usage_ident(predicate.when_false);
    quote!(::hl7_runtime::codegen::Predicate {
        condition: #condition,
        when_true: ::hl7_runtime::codegen::Usage::#when_true,
        when_false: ::hl7_runtime::codegen::Usage::#when_false,
    })
}

fn condition_tokens(condition: &constraints::Cond) -> TokenStream {
    use constraints::{Cond, PlaceRef};
    let place = |place: &PlaceRef| match place {
        PlaceRef::Sibling(n) => {
            let n = unsuffixed(u32::from(*n));
            quote!(::hl7_runtime::codegen::Place::Sibling(#n))
        }
        PlaceRef::Field {
            segment,
            field,
            component,
            subcomponent,
        } => {
            let (f, c, s) = (
                unsuffixed(u32::from(*field)),
                unsuffixed(u32::from(*component)),
                unsuffixed(u32::from(*subcomponent)),
            );
            quote!(::hl7_runtime::codegen::Place::Field { segment: #segment, field: #f, component: #c, subcomponent: #s })
        }
    };
    match condition {
        Cond::Valued(p) => {
            let p = place(p);
            quote!(::hl7_runtime::codegen::Condition::Valued(#p))
        }
        Cond::Equals(p, value) => {
            let p = place(p);
            quote!(::hl7_runtime::codegen::Condition::Equals(#p, #value))
        }
        Cond::Not(inner) => {
            let inner = condition_tokens(inner);
            quote!(::hl7_runtime::codegen::Condition::Not(&#inner))
        }
        Cond::All(all) => {
            let all = all.iter().map(condition_tokens);
            quote!(::hl7_runtime::codegen::Condition::All(&[#(#all),*]))
        }
        Cond::Any(any) => {
            let any = any.iter().map(condition_tokens);
            quote!(::hl7_runtime::codegen::Condition::Any(&[#(#any),*]))
        }
    }
}

/// The type of a slot holding `item`.
fn wrap_slot(slot: &str, item: TokenStream) -> TokenStream {
    match slot {
        "nonempty" => quote!(::hl7_runtime::codegen::NonEmpty<#item>),
        "vec" => quote!(::hl7_runtime::codegen::Vec<#item>),
        "option_box" => quote!(::hl7_runtime::codegen::Option<::hl7_runtime::codegen::Box<#item>>),
        "option" => quote!(::hl7_runtime::codegen::Option<#item>),
        _ => item,
    }
}

/// How a struct holds a child: `one` (T), `option`, `option_box`, `vec`, `nonempty`.
fn slot_of(
    repeats: bool,
    required_repeat: bool,
    required: bool,
    boxed_when_optional: bool,
) -> &'static str {
    match (repeats, required_repeat, required, boxed_when_optional) {
        (true, true, _, _) => "nonempty",
        (true, false, _, _) => "vec",
        (false, _, true, _) => "one",
        (false, _, false, true) => "option_box",
        (false, _, false, false) => "option",
    }
}

/// The manifest entry of a field or component; `field` and `ty` are absent when excluded.
fn element_entry(
    element: &Element,
    field: Option<&str>,
    ty: Option<&str>,
    is_field: bool,
) -> Value {
    let repeats = is_field && element.cardinality.repeats();
    let required = element.usage.is_required();
    let slot = slot_of(
        repeats,
        required && element.cardinality.min > 0,
        required,
        is_field && element.is_composite(),
    );
    json!({
        "position": element.position,
        "name": element.name,
        "usage": element.usage.code(),
        "min": element.cardinality.min,
        "max": element.cardinality.max,
        "datatype": element.datatype,
        "composite": element.is_composite(),
        "table": element.table,
        "length": element.length.and_then(|l| l.max),
        "field": field,
        "type": ty,
        "slot": if element.usage.is_excluded() { "excluded" } else { slot },
    })
}

fn exclude_attr(element: &Element) -> TokenStream {
    let position = unsuffixed(u32::from(element.position));
    let name = &element.name;
    let datatype = &element.datatype;
    quote!(#[hl7(exclude(position = #position, name = #name, datatype = #datatype))])
}

fn max_tokens(max: Option<u32>) -> TokenStream {
    match max {
        Some(max) => {
            let max = unsuffixed(max);
            quote!(#max)
        }
        None => quote!("*"),
    }
}

fn unsuffixed(n: u32) -> Literal {
    Literal::u32_unsuffixed(n)
}

/// One `#[doc]` per line, so the output reads as `///` comments.
fn doc_attrs(text: &str) -> TokenStream {
    let lines = text.lines().map(|line| {
        let line = if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        };
        quote!(#[doc = #line])
    });
    quote!(#(#lines)*)
}

fn field_ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// What makes two elements generate the same type: everything but spans and docs.
fn shape_of_all(elements: &[Element]) -> Vec<String> {
    elements
        .iter()
        .map(|e| {
            format!(
                "{}:{}:{}:{}:{:?}:{:?}:{:?}:{:?}:{:?}:{:?}",
                e.position,
                e.name,
                e.usage.code(),
                e.datatype,
                e.cardinality,
                e.length,
                e.table,
                e.constant,
                constraints::condition_text(&e.usage),
                shape_of_all(&e.children)
            )
        })
        .collect()
}
