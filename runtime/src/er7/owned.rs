//! A decoded, owned message tree, for building messages in code and for round-trip tests.

use super::delimiters::Delimiters;
use super::encode::Writer;
use super::segment::is_header_id;

/// A decoded, owned message tree, for building messages in code and for round-trip tests.
///
/// Encoding writes every piece that is there (trailing empty fields, repetitions, components
/// and subcomponents included), so parsing the encoded text gives the same tree back, up to
/// [`MessageTree::canonical`].
///
/// Formatting escape sequences (`\.br\`, `\H\`, ...) are kept as written in decoded text
/// (see [`escape::decode`](super::escape::decode)); as text they are escaped again on encode
/// (`\E\.br\E\`), so a parsed message with such sequences re-encodes to other bytes, which
/// parse back to the same tree. Use [`Message::encode`](super::Message::encode) for an exact
/// pass-through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTree {
    /// Delimiters used to encode (and, for a parsed message, those it had).
    pub delimiters: Delimiters,
    /// The segments, in order.
    pub segments: Vec<SegmentTree>,
}

/// One segment of a [`MessageTree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentTree {
    /// Segment id, e.g. `PID`.
    pub id: String,
    /// Field -> repetitions -> components -> subcomponents, decoded text.
    ///
    /// `fields[0]` is field 1. For `MSH` (and `FHS`/`BHS`), `fields[0]` and `fields[1]` are
    /// MSH-1 and MSH-2 as single values (`"|"`, `"^~\\&"`); [`MessageTree::encode`] ignores
    /// them and writes the tree's delimiters instead.
    pub fields: Vec<Vec<Vec<Vec<String>>>>,
}

impl SegmentTree {
    /// A segment with the given id and no field.
    pub fn new(id: impl Into<String>) -> SegmentTree {
        SegmentTree {
            id: id.into(),
            fields: Vec::new(),
        }
    }
}

impl MessageTree {
    /// Encodes the tree to ER7 text, escaping the text, each segment ended by `\r`.
    pub fn encode(&self) -> String {
        let mut w = Writer::with_capacity(self.delimiters, 256 * self.segments.len());
        for seg in &self.segments {
            w.begin_segment(&seg.id);
            let skip = if is_header_id(&seg.id) { 2 } else { 0 };
            for field in seg.fields.iter().skip(skip) {
                w.field_separator();
                for (r, rep) in field.iter().enumerate() {
                    if r > 0 {
                        w.repetition_separator();
                    }
                    for (c, comp) in rep.iter().enumerate() {
                        if c > 0 {
                            w.component_separator();
                        }
                        for (s, sub) in comp.iter().enumerate() {
                            if s > 0 {
                                w.subcomponent_separator();
                            }
                            w.text(sub);
                        }
                    }
                }
            }
            w.end_segment();
        }
        w.finish()
    }

    /// The canonical form: what a parse of [`MessageTree::encode`] gives back.
    ///
    /// - an empty list of repetitions, components or subcomponents becomes one empty value
    ///   (ER7 cannot tell `[]` from `[""]`);
    /// - for `MSH`/`FHS`/`BHS`, fields 1 and 2 are set from the delimiters (and added if
    ///   missing);
    /// - without a subcomponent separator, the subcomponents of a component are joined (the
    ///   writer has no separator to put between them).
    pub fn canonical(&self) -> MessageTree {
        let d = self.delimiters;
        let segments = self
            .segments
            .iter()
            .map(|seg| {
                let mut fields: Vec<_> = seg
                    .fields
                    .iter()
                    .map(|f| canonical_field(f, d.subcomponent.is_some()))
                    .collect();
                if is_header_id(&seg.id) {
                    let msh1 = vec![vec![vec![char::from(d.field).to_string()]]];
                    let msh2 = vec![vec![vec![d.encoding_characters()]]];
                    match fields.len() {
                        0 => fields = vec![msh1, msh2],
                        1 => fields = vec![msh1, msh2],
                        _ => {
                            fields[0] = msh1;
                            fields[1] = msh2;
                        }
                    }
                }
                SegmentTree {
                    id: seg.id.clone(),
                    fields,
                }
            })
            .collect();
        MessageTree {
            delimiters: d,
            segments,
        }
    }
}

fn one_if_empty<T: Default>(mut v: Vec<T>) -> Vec<T> {
    if v.is_empty() {
        v.push(T::default());
    }
    v
}

fn canonical_field(field: &[Vec<Vec<String>>], has_sub: bool) -> Vec<Vec<Vec<String>>> {
    one_if_empty(
        field
            .iter()
            .map(|rep| {
                one_if_empty(
                    rep.iter()
                        .map(|comp| {
                            if has_sub {
                                one_if_empty(comp.clone())
                            } else {
                                vec![comp.concat()]
                            }
                        })
                        .collect(),
                )
            })
            .collect(),
    )
}
