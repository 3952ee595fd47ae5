//! Decoding context and the translation of escaped text between delimiter sets.

use std::borrow::Cow;
use std::sync::Arc;

use crate::er7::{Delimiters, SplitStr};
use crate::types::Text;

/// What decoding needs to know about the message being read.
#[derive(Debug, Clone)]
pub struct DecodeContext {
    /// The delimiters of the message being read (read once by the constructors: set them there).
    pub delimiters: Delimiters,
    /// `delimiters == Delimiters::DEFAULT`, worked out once instead of per value.
    standard: bool,
    /// The message text, when values may share it instead of copying.
    buffer: Option<Arc<String>>,
}

impl DecodeContext {
    /// A context for a message written with `delimiters`; every value is copied.
    pub fn new(delimiters: Delimiters) -> DecodeContext {
        DecodeContext {
            delimiters,
            standard: delimiters == Delimiters::DEFAULT,
            buffer: None,
        }
    }

    /// A context for the message text `buffer` written with `delimiters`: values read from
    /// slices of `buffer` share it (no copy, no allocation per value).
    pub fn shared(delimiters: Delimiters, buffer: Arc<String>) -> DecodeContext {
        DecodeContext {
            delimiters,
            standard: delimiters == Delimiters::DEFAULT,
            buffer: Some(buffer),
        }
    }

    /// Splits `raw`, a slice of the message text when the context shares it, at `separator`,
    /// searching the message's words around each piece (no byte loop near its end).
    #[inline]
    pub fn split<'a>(&'a self, raw: &'a str, separator: u8) -> impl Iterator<Item = &'a str> + 'a {
        let text = self.buffer.as_deref().map_or(raw, String::as_str);
        SplitStr::new(text, raw, Some(separator), None).map(|(piece, _)| piece)
    }

    /// The typed text of a raw value: kept as it is for the standard delimiters (the common
    /// case, shared with the message when `raw` is a slice of its text and too long to be held
    /// inline), translated to them otherwise.
    #[inline]
    pub fn text(&self, raw: &str) -> Text {
        if !self.standard {
            return Text::copied(&translate(raw, &self.delimiters, &Delimiters::DEFAULT));
        }
        if let Some(buffer) = &self.buffer {
            let start = (raw.as_ptr() as usize).wrapping_sub(buffer.as_ptr() as usize);
            if start <= buffer.len() && raw.len() <= buffer.len() - start {
                return Text::shared(buffer, start, raw.len());
            }
        }
        Text::copied(raw)
    }
}

/// Rewrites text escaped for the delimiters `from` so it means the same under `to`.
///
/// Separators of `from` become the matching separators of `to`; escape sequences keep their
/// names (`\F\` means "field separator" under any delimiters) with the escape character
/// replaced; a literal character that is a delimiter of `to` is escaped.
pub fn translate<'a>(raw: &'a str, from: &Delimiters, to: &Delimiters) -> Cow<'a, str> {
    if from == to {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len() + 8);
    let mut in_escape = false;
    for c in raw.chars() {
        let byte = u8::try_from(c).ok();
        if byte.is_some() && byte == from.escape {
            in_escape = !in_escape;
            push_delimiter(&mut out, to.escape, b'\\');
            continue;
        }
        if in_escape {
            out.push(c);
            continue;
        }
        match byte {
            Some(b) if b == from.field => push_delimiter(&mut out, Some(to.field), b'|'),
            Some(b) if b == from.component => push_delimiter(&mut out, Some(to.component), b'^'),
            Some(b) if b == from.repetition => push_delimiter(&mut out, Some(to.repetition), b'~'),
            Some(b) if Some(b) == from.subcomponent => {
                push_delimiter(&mut out, to.subcomponent, b'&')
            }
            Some(b) => match escape_name(b, to) {
                Some(name) => {
                    let esc = to.escape.unwrap_or(b'\\') as char;
                    out.push(esc);
                    out.push(name);
                    out.push(esc);
                }
                None => out.push(c),
            },
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn push_delimiter(out: &mut String, delimiter: Option<u8>, fallback: u8) {
    out.push(delimiter.unwrap_or(fallback) as char);
}

fn escape_name(byte: u8, d: &Delimiters) -> Option<char> {
    if byte == d.field {
        Some('F')
    } else if byte == d.component {
        Some('S')
    } else if byte == d.repetition {
        Some('R')
    } else if Some(byte) == d.subcomponent {
        Some('T')
    } else if Some(byte) == d.escape {
        Some('E')
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_keeps_meaning() {
        let odd = Delimiters {
            field: b'$',
            component: b'%',
            repetition: b'~',
            escape: Some(b'\\'),
            subcomponent: Some(b'&'),
            truncation: None,
        };
        assert_eq!(
            translate("a%b\\F\\c|d^e", &odd, &Delimiters::DEFAULT),
            "a^b\\F\\c\\F\\d\\S\\e"
        );
        assert_eq!(
            translate("a^b", &Delimiters::DEFAULT, &Delimiters::DEFAULT),
            "a^b"
        );
    }
}
