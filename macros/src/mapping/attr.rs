//! `#[mapping(...)]` and `#[map(...)]`: what a mapping says, with every error at its tokens.

use proc_macro2::Span;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Path};

use crate::attr::Ctxt;

/// The mapping as a whole: `#[mapping(from = site::Type, to = site::Type, ...)]`.
pub(crate) struct MappingAttr {
    pub(crate) from: Path,
    pub(crate) to: Path,
    pub(crate) from_site: Option<LitStr>,
    pub(crate) to_site: Option<LitStr>,
    pub(crate) auto: bool,
    pub(crate) finish: Option<Path>,
    pub(crate) span: Span,
}

/// What one rule does to its target.
pub(crate) enum Action {
    /// Copy (and convert types element-wise) from a source path; the default source is the
    /// target's own path.
    Copy,
    /// Call a function on the source slot.
    With(Path),
    /// Look the code up in a crosswalk.
    Crosswalk(Path),
    /// Set a constant.
    Constant(LitStr),
    /// Leave the target empty.
    Drop,
    /// A `finish` function sets it.
    Finish,
}

/// One `#[map(...)]`.
pub(crate) struct MapRule {
    pub(crate) to: LitStr,
    pub(crate) from: Option<LitStr>,
    pub(crate) action: Action,
    /// Where to point errors about the action (the function, crosswalk or constant).
    pub(crate) action_span: Span,
}

const MAPPING_KEYS: &[&str] = &["from", "to", "from_site", "to_site", "auto", "finish"];
const MAP_KEYS: &[&str] = &[
    "to",
    "from",
    "with",
    "crosswalk",
    "constant",
    "drop",
    "set_in_finish",
];

pub(crate) fn parse(
    attrs: &[Attribute],
    span: Span,
    cx: &mut Ctxt,
) -> (Option<MappingAttr>, Vec<MapRule>) {
    let mut mapping: Option<MappingAttr> = None;
    let mut rules = Vec::new();
    for attr in attrs {
        if attr.path().is_ident("mapping") {
            let mut from = None;
            let mut to = None;
            let mut from_site = None;
            let mut to_site = None;
            let mut auto = true;
            let mut finish = None;
            let result = attr.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                match key.as_str() {
                    "from" => from = Some(meta.value()?.parse::<Path>()?),
                    "to" => to = Some(meta.value()?.parse::<Path>()?),
                    "from_site" => from_site = Some(meta.value()?.parse::<LitStr>()?),
                    "to_site" => to_site = Some(meta.value()?.parse::<LitStr>()?),
                    "finish" => finish = Some(meta.value()?.parse::<Path>()?),
                    "auto" => {
                        let expr: Expr = meta.value()?.parse()?;
                        match expr {
                            Expr::Lit(ExprLit {
                                lit: Lit::Bool(b), ..
                            }) => auto = b.value,
                            other => cx.error(syn::Error::new_spanned(
                                other,
                                "expected `true` or `false`",
                            )),
                        }
                    }
                    _ => {
                        cx.error(meta.error(format!(
                            "unknown key `{key}` in `#[mapping(...)]`; expected one of: {}",
                            MAPPING_KEYS.join(", ")
                        )));
                        if meta.input.peek(syn::Token![=]) {
                            let _: Expr = meta.value()?.parse()?;
                        }
                    }
                }
                Ok(())
            });
            if let Err(error) = result {
                cx.error(error);
            }
            match (from, to) {
                (Some(from), Some(to)) => {
                    mapping = Some(MappingAttr {
                        from,
                        to,
                        from_site,
                        to_site,
                        auto,
                        finish,
                        span: attr_span(attr),
                    })
                }
                _ => cx.error_at(
                    attr_span(attr),
                    "`#[mapping(...)]` needs `from = site::Type` and `to = site::Type`",
                ),
            }
        } else if attr.path().is_ident("map") {
            if let Some(rule) = parse_rule(attr, cx) {
                rules.push(rule);
            }
        }
    }
    if mapping.is_none() && !rules.is_empty() {
        cx.error_at(
            span,
            "a mapping needs `#[mapping(from = site::Type, to = site::Type)]`",
        );
    } else if mapping.is_none() {
        cx.error_at(
            span,
            "missing `#[mapping(from = site::Type, to = site::Type)]`",
        );
    }
    (mapping, rules)
}

fn attr_span(attr: &Attribute) -> Span {
    use syn::spanned::Spanned;
    attr.span()
}

fn parse_rule(attr: &Attribute, cx: &mut Ctxt) -> Option<MapRule> {
    let mut to: Option<LitStr> = None;
    let mut from: Option<LitStr> = None;
    let mut actions: Vec<(Action, Span)> = Vec::new();
    let mut unknown = false;
    let result = attr.parse_nested_meta(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let key_span = meta
            .path
            .get_ident()
            .map_or_else(Span::call_site, |i| i.span());
        match key.as_str() {
            "to" => to = Some(meta.value()?.parse()?),
            "from" => from = Some(meta.value()?.parse()?),
            "with" => {
                let path: Path = meta.value()?.parse()?;
                let span = path_span(&path);
                actions.push((Action::With(path), span));
            }
            "crosswalk" => {
                let path: Path = meta.value()?.parse()?;
                let span = path_span(&path);
                actions.push((Action::Crosswalk(path), span));
            }
            "constant" => {
                let value: LitStr = meta.value()?.parse()?;
                let span = value.span();
                actions.push((Action::Constant(value), span));
            }
            // `drop = "PATH"` is `to = "PATH", drop`: one value per attribute keeps lints that
            // flag repeated attribute words (clippy's `duplicated_attributes`) quiet.
            "drop" | "set_in_finish" => {
                if meta.input.peek(syn::Token![=]) {
                    let path: LitStr = meta.value()?.parse()?;
                    if to.replace(path).is_some() {
                        cx.error_at(
                            key_span,
                            format!("`{key} = \"PATH\"` names the target: leave out `to`"),
                        );
                    }
                }
                let action = if key == "drop" {
                    Action::Drop
                } else {
                    Action::Finish
                };
                actions.push((action, key_span));
            }
            _ => {
                unknown = true;
                cx.error(meta.error(format!(
                    "unknown key `{key}` in `#[map(...)]`; expected one of: {}",
                    MAP_KEYS.join(", ")
                )));
                if meta.input.peek(syn::Token![=]) {
                    let _: Expr = meta.value()?.parse()?;
                }
            }
        }
        Ok(())
    });
    if let Err(error) = result {
        cx.error(error);
        return None;
    }
    let Some(to) = to else {
        cx.error_at(
            attr_span(attr),
            "`#[map(...)]` needs `to = \"PATH\"`, the target element",
        );
        return None;
    };
    if actions.len() > 1 {
        cx.error_at(actions[1].1, "one rule does one thing: `with`, `crosswalk`, `constant`, `drop` and `set_in_finish` exclude each other");
    }
    let (action, action_span) = actions
        .into_iter()
        .next()
        .unwrap_or((Action::Copy, to.span()));
    if from.is_some() && matches!(action, Action::Constant(_) | Action::Drop | Action::Finish) {
        cx.error_at(
            from.as_ref().map_or(to.span(), LitStr::span),
            "`from` has no meaning with `constant`, `drop` or `set_in_finish`",
        );
    }
    if matches!(action, Action::Copy) && from.is_none() && !unknown {
        cx.error_at(to.span(), "this rule does nothing: give `from`, `with`, `crosswalk`, `constant`, `drop` or `set_in_finish`");
    }
    Some(MapRule {
        to,
        from,
        action,
        action_span,
    })
}

fn path_span(path: &Path) -> Span {
    use syn::spanned::Spanned;
    path.span()
}
