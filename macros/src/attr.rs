//! Parsing of `#[hl7(...)]` attributes, with every error collected (serde's `Ctxt`).

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Path};

/// Collects errors so all of them are reported at once.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Option<syn::Error>,
}

impl Ctxt {
    pub(crate) fn error(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(error),
            None => self.errors = Some(error),
        }
    }

    pub(crate) fn error_at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.error(syn::Error::new(span, message));
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.errors.map_or(Ok(()), Err)
    }
}

/// A maximum: a number or `"*"`.
#[derive(Clone, Copy)]
pub(crate) enum Max {
    Bounded(u32),
    Unbounded,
}

impl Max {
    pub(crate) fn value(self) -> u32 {
        match self {
            Max::Bounded(n) => n,
            Max::Unbounded => u32::MAX,
        }
    }
}

pub(crate) const USAGES: &[&str] = &["R", "RE", "O", "C", "CE", "X", "B", "W"];

/// Constraints common to elements (fields, components) and nodes (segments, groups).
#[derive(Default)]
pub(crate) struct Constraints {
    pub(crate) position: Option<u16>,
    pub(crate) name: Option<LitStr>,
    pub(crate) usage: Option<LitStr>,
    pub(crate) min: Option<u32>,
    pub(crate) max: Option<Max>,
    pub(crate) datatype: Option<LitStr>,
    pub(crate) len: Option<u32>,
    pub(crate) min_len: Option<u32>,
    pub(crate) table: Option<LitStr>,
    pub(crate) table_rule: Option<Path>,
    pub(crate) constant: Option<LitStr>,
    pub(crate) condition: Option<LitStr>,
    pub(crate) predicate: Option<Expr>,
}

impl Constraints {
    pub(crate) fn usage_code(&self) -> String {
        self.usage
            .as_ref()
            .map_or_else(|| "O".to_owned(), LitStr::value)
    }

    pub(crate) fn min_value(&self) -> u32 {
        self.min
            .unwrap_or(if self.usage_code() == "R" { 1 } else { 0 })
    }

    pub(crate) fn max_value(&self) -> u32 {
        self.max.map_or(1, Max::value)
    }

    /// Parses one `key = value` of an element or node attribute; false when the key is not one
    /// of these constraints.
    pub(crate) fn parse_key(
        &mut self,
        meta: &ParseNestedMeta<'_>,
        cx: &mut Ctxt,
    ) -> syn::Result<bool> {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "position" => set(cx, meta, &mut self.position, parse_int(meta)?)?,
            "name" => set(cx, meta, &mut self.name, meta.value()?.parse()?)?,
            "usage" => {
                let usage: LitStr = meta.value()?.parse()?;
                if !USAGES.contains(&usage.value().as_str()) {
                    cx.error_at(
                        usage.span(),
                        format!(
                            "unknown usage `{}`; expected one of R, RE, O, C, CE, X, B, W",
                            usage.value()
                        ),
                    );
                }
                set(cx, meta, &mut self.usage, usage)?
            }
            "min" => set(cx, meta, &mut self.min, parse_int(meta)?)?,
            "max" => {
                let max = parse_max(meta)?;
                set(cx, meta, &mut self.max, max)?
            }
            "datatype" => set(cx, meta, &mut self.datatype, meta.value()?.parse()?)?,
            "len" => set(cx, meta, &mut self.len, parse_int(meta)?)?,
            "min_len" => set(cx, meta, &mut self.min_len, parse_int(meta)?)?,
            "table" => set(cx, meta, &mut self.table, meta.value()?.parse()?)?,
            "table_rule" => set(cx, meta, &mut self.table_rule, meta.value()?.parse()?)?,
            "constant" => set(cx, meta, &mut self.constant, meta.value()?.parse()?)?,
            "condition" => set(cx, meta, &mut self.condition, meta.value()?.parse()?)?,
            "predicate" => set(cx, meta, &mut self.predicate, meta.value()?.parse()?)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub(crate) fn check_range(&self, cx: &mut Ctxt, span: Span) {
        if let Some(Max::Bounded(max)) = self.max {
            if self.min_value() > max {
                cx.error_at(
                    span,
                    format!("min {} is greater than max {max}", self.min_value()),
                );
            }
        }
    }
}

fn set<T>(
    cx: &mut Ctxt,
    meta: &ParseNestedMeta<'_>,
    slot: &mut Option<T>,
    value: T,
) -> syn::Result<()> {
    if slot.is_some() {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        cx.error(meta.error(format!("duplicate `{key}`")));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_int<T: std::str::FromStr>(meta: &ParseNestedMeta<'_>) -> syn::Result<T>
where
    T::Err: std::fmt::Display,
{
    let expr: Expr = meta.value()?.parse()?;
    match &expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse(),
        other => Err(syn::Error::new_spanned(other, "expected an integer")),
    }
}

fn parse_max(meta: &ParseNestedMeta<'_>) -> syn::Result<Max> {
    let expr: Expr = meta.value()?.parse()?;
    match &expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => Ok(Max::Bounded(int.base10_parse()?)),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) if s.value() == "*" => Ok(Max::Unbounded),
        other => Err(syn::Error::new_spanned(
            other,
            "expected an integer or \"*\"",
        )),
    }
}

/// Attributes of a struct (`#[hl7(id = "PID")]` and friends).
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) id: Option<LitStr>,
    pub(crate) name: Option<LitStr>,
    pub(crate) datatype: Option<LitStr>,
    pub(crate) group: Option<LitStr>,
    pub(crate) structure: Option<LitStr>,
    pub(crate) msg_type: Option<LitStr>,
    pub(crate) event: Option<LitStr>,
    pub(crate) version: Option<LitStr>,
    pub(crate) profile: Option<LitStr>,
    pub(crate) excluded: Vec<Constraints>,
}

/// Which keys a derive accepts on its struct.
pub(crate) struct ContainerKeys(pub(crate) &'static [&'static str]);

pub(crate) fn parse_container(
    attrs: &[Attribute],
    keys: &ContainerKeys,
    cx: &mut Ctxt,
) -> Container {
    let mut out = Container::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("hl7")) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            if !keys.0.contains(&key.as_str()) {
                cx.error(meta.error(format!(
                    "unknown key `{}` here; expected one of: {}",
                    meta.path.get_ident().map(ToString::to_string).unwrap_or_else(|| "?".into()),
                    keys.0.join(", ")
                )));
                // Skip the value so the next keys still parse.
                if meta.input.peek(syn::Token![=]) {
                    let _: Expr = meta.value()?.parse()?;
                } else if meta.input.peek(syn::token::Paren) {
                    let _ = meta.parse_nested_meta(|inner| {
                        if inner.input.peek(syn::Token![=]) {
                            let _: Expr = inner.value()?.parse()?;
                        }
                        Ok(())
                    });
                }
                return Ok(());
            }
            match key.as_str() {
                "exclude" => {
                    let mut excluded = Constraints::default();
                    meta.parse_nested_meta(|inner| {
                        if !excluded.parse_key(&inner, cx)? {
                            cx.error(
                                inner.error("expected `position` or `name` in `exclude(...)`"),
                            );
                        }
                        Ok(())
                    })?;
                    if excluded.position.is_none() {
                        cx.error(meta.error("`exclude(...)` needs a `position`"));
                    }
                    out.excluded.push(excluded);
                }
                "id" => set(cx, &meta, &mut out.id, meta.value()?.parse()?)?,
                "name" => set(cx, &meta, &mut out.name, meta.value()?.parse()?)?,
                "datatype" => set(cx, &meta, &mut out.datatype, meta.value()?.parse()?)?,
                "group" => set(cx, &meta, &mut out.group, meta.value()?.parse()?)?,
                "structure" => set(cx, &meta, &mut out.structure, meta.value()?.parse()?)?,
                "msg_type" => set(cx, &meta, &mut out.msg_type, meta.value()?.parse()?)?,
                "event" => set(cx, &meta, &mut out.event, meta.value()?.parse()?)?,
                "version" => set(cx, &meta, &mut out.version, meta.value()?.parse()?)?,
                "profile" => set(cx, &meta, &mut out.profile, meta.value()?.parse()?)?,
                _ => {}
            }
            Ok(())
        });
        if let Err(error) = result {
            cx.error(error);
        }
    }
    out
}

/// Parses the `#[hl7(...)]` of one struct field.
pub(crate) fn parse_field(
    attrs: &[Attribute],
    allowed: &[&str],
    cx: &mut Ctxt,
) -> Option<Constraints> {
    let mut out: Option<Constraints> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("hl7")) {
        let constraints = out.get_or_insert_with(Constraints::default);
        let result = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            if !allowed.contains(&key.as_str()) {
                cx.error(meta.error(format!(
                    "unknown key `{key}` here; expected one of: {}",
                    allowed.join(", ")
                )));
                if meta.input.peek(syn::Token![=]) {
                    let _: Expr = meta.value()?.parse()?;
                }
                return Ok(());
            }
            constraints.parse_key(&meta, cx)?;
            Ok(())
        });
        if let Err(error) = result {
            cx.error(error);
        }
    }
    out
}
