//! HL7 escape sequences: `\F\`, `\S\`, `\T\`, `\R\`, `\E\`, `\P\`, `\Xhh..\` and the
//! formatting sequences that are kept as written.
//!
//! The escape character is the one of the message's [`Delimiters`] (`\` by default); the
//! sequences are written here with `\` for readability.

use std::borrow::Cow;

use memchr::memchr;

use super::delimiters::Delimiters;

/// Decodes the escape sequences of `raw`.
///
/// `\F\ \S\ \T\ \R\ \E\ \P\` become the field, component, subcomponent, repetition, escape and
/// truncation characters; `\Xhh..\` becomes its bytes (as UTF-8 text when valid, else as
/// Latin-1 characters). `\.br\`, `\H\`, `\N\`, `\.sp\`, `\.in\`, `\.ti\`, `\.sk\`, `\.ce\`,
/// `\.fi\`, `\.nf\`, `\Zxx\`, `\Cxxyy\`, `\Mxxyyzz\` (and any other well-formed sequence that
/// is not known) are kept intact as written. A lone or unterminated escape character is kept
/// literally. Never panics. Borrowed when there is nothing to decode.
///
/// Delimiters of lower levels in `raw` stay as they are.
#[inline]
pub fn decode<'a>(raw: &'a str, delimiters: &Delimiters) -> Cow<'a, str> {
    let Some(esc) = delimiters.escape else {
        return Cow::Borrowed(raw);
    };
    let bytes = raw.as_bytes();
    let Some(first) = find_escape(esc, bytes) else {
        return Cow::Borrowed(raw);
    };
    decode_from(raw, first, esc, delimiters)
}

/// The first `esc` in `bytes`: most values are a few bytes long, too short for `memchr`'s call.
#[inline]
fn find_escape(esc: u8, bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 16 {
        bytes.iter().position(|&b| b == esc)
    } else {
        memchr(esc, bytes)
    }
}

/// [`decode`] from the first escape character, at `first`.
fn decode_from<'a>(raw: &'a str, first: usize, esc: u8, delimiters: &Delimiters) -> Cow<'a, str> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut pos = 0;
    let mut at = first;
    loop {
        // `at` is the index of an escape character at or after `pos`.
        out.push_str(&raw[pos..at]);
        let Some(len) = memchr(esc, &bytes[at + 1..]) else {
            out.push_str(&raw[at..]);
            return Cow::Owned(out);
        };
        let content = &raw[at + 1..at + 1 + len];
        let end = at + len + 2;
        match classify(content, delimiters) {
            Action::Char(c) => {
                out.push(char::from(c));
                pos = end;
            }
            Action::Hex => {
                push_hex(&mut out, content.as_bytes().get(1..).unwrap_or_default());
                pos = end;
            }
            Action::Keep => {
                out.push_str(&raw[at..end]);
                pos = end;
            }
            Action::Lone => {
                out.push(char::from(esc));
                pos = at + 1;
            }
        }
        match memchr(esc, &bytes[pos..]) {
            Some(i) => at = pos + i,
            None => {
                out.push_str(&raw[pos..]);
                return Cow::Owned(out);
            }
        }
    }
}

enum Action {
    /// Replace by this delimiter character.
    Char(u8),
    /// `\Xhh..\`: replace by the bytes.
    Hex,
    /// Keep the whole sequence as written.
    Keep,
    /// Not a sequence: keep the escape character and go on after it.
    Lone,
}

fn classify(content: &str, d: &Delimiters) -> Action {
    let c = content.as_bytes();
    match c {
        [] => Action::Lone,
        [b'F'] => Action::Char(d.field),
        [b'S'] => Action::Char(d.component),
        [b'R'] => Action::Char(d.repetition),
        [b'E'] => d.escape.map_or(Action::Lone, Action::Char),
        [b'T'] => d.subcomponent.map_or(Action::Keep, Action::Char),
        [b'P'] => d.truncation.map_or(Action::Keep, Action::Char),
        [b'X', hex @ ..] => {
            if !hex.is_empty() && hex.len() % 2 == 0 && hex.iter().all(u8::is_ascii_hexdigit) {
                Action::Hex
            } else {
                Action::Lone
            }
        }
        _ => {
            // Formatting (.br, H, N, .sp, ...), Z, C, M and unknown sequences: kept when they
            // look like a sequence (no delimiter, no space inside).
            if c.iter().all(|&b| b.is_ascii_graphic() && !d.is_special(b)) {
                Action::Keep
            } else {
                Action::Lone
            }
        }
    }
}

fn push_hex(out: &mut String, hex: &[u8]) {
    let bytes: Vec<u8> = hex
        .chunks_exact(2)
        .map(|pair| (hex_val(pair[0]) << 4) | hex_val(pair[1]))
        .collect();
    match std::str::from_utf8(&bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.extend(bytes.iter().map(|&b| char::from(b))),
    }
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// Escapes the delimiter characters (and the escape character) of plain text: `|` -> `\F\`,
/// `^` -> `\S\`, `&` -> `\T\`, `~` -> `\R\`, `\` -> `\E\`, the truncation character -> `\P\`,
/// and CR/LF -> `\X0D\`/`\X0A\` (they would end the segment). Borrowed when nothing to escape.
///
/// Without an escape character nothing can be escaped and `text` is returned as it is.
pub fn encode<'a>(text: &'a str, delimiters: &Delimiters) -> Cow<'a, str> {
    let Some(esc) = delimiters.escape else {
        return Cow::Borrowed(text);
    };
    // All special bytes are ASCII: one bit each in a 128-bit mask.
    let mut mask: u128 = (1 << b'\r') | (1 << b'\n');
    for b in [
        delimiters.field,
        delimiters.component,
        delimiters.repetition,
        esc,
    ]
    .into_iter()
    .chain(delimiters.subcomponent)
    .chain(delimiters.truncation)
    {
        mask |= 1u128 << (b & 0x7F);
    }
    let needs = |b: u8| b < 0x80 && (mask >> b) & 1 != 0;
    let bytes = text.as_bytes();
    let Some(first) = bytes.iter().position(|&b| needs(b)) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    let mut pos = first;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if !needs(b) {
            continue;
        }
        out.push_str(&text[pos..i]);
        out.push(char::from(esc));
        out.push_str(escape_code(b, delimiters));
        out.push(char::from(esc));
        pos = i + 1;
    }
    out.push_str(&text[pos..]);
    Cow::Owned(out)
}

fn escape_code(b: u8, d: &Delimiters) -> &'static str {
    if b == d.field {
        "F"
    } else if b == d.component {
        "S"
    } else if b == d.repetition {
        "R"
    } else if Some(b) == d.escape {
        "E"
    } else if Some(b) == d.subcomponent {
        "T"
    } else if Some(b) == d.truncation {
        "P"
    } else if b == b'\r' {
        "X0D"
    } else {
        "X0A"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Delimiters = Delimiters::DEFAULT;

    fn dec(s: &str) -> String {
        decode(s, &D).into_owned()
    }

    #[test]
    fn delimiter_escapes() {
        assert_eq!(dec(r"a\F\b\S\c\T\d\R\e\E\f"), r"a|b^c&d~e\f");
        assert!(matches!(decode("plain", &D), Cow::Borrowed(_)));
    }

    #[test]
    fn hex_escapes() {
        assert_eq!(dec(r"line1\X0D0A\line2"), "line1\r\nline2");
        assert_eq!(dec(r"caf\XC3A9\"), "café");
        assert_eq!(dec(r"caf\XE9\"), "café");
        assert_eq!(dec(r"odd \X0\ end"), r"odd \X0\ end");
        assert_eq!(dec(r"bad \XZZ\ end"), r"bad \XZZ\ end");
    }

    #[test]
    fn formatting_kept() {
        for s in [
            r"a\.br\b",
            r"\H\bold\N\",
            r"\.sp2\x",
            r"\.in+4\",
            r"\.ti-2\",
            r"\.sk3\",
            r"\.ce\",
            r"\.fi\\.nf\",
            r"\Zabc\",
            r"\C2842\",
            r"\M2842A1\",
        ] {
            assert_eq!(dec(s), s);
        }
    }

    #[test]
    fn lenient() {
        assert_eq!(dec(r"C:\temp"), r"C:\temp");
        assert_eq!(dec(r"\"), r"\");
        assert_eq!(dec(r"\\"), r"\\");
        assert_eq!(dec(r"a\\F\b"), r"a\|b");
        assert_eq!(dec(r"a\b c\F\"), r"a\b c|");
        assert_eq!(dec("\\é\\"), "\\é\\");
    }

    #[test]
    fn encode_round_trip() {
        let text = "a|b^c&d~e\\f\r\ng\\E\\";
        let enc = encode(text, &D);
        assert_eq!(enc, r"a\F\b\S\c\T\d\R\e\E\f\X0D\\X0A\g\E\E\E\");
        assert_eq!(decode(&enc, &D), text);
        assert!(matches!(encode("plain é", &D), Cow::Borrowed(_)));
        let odd = Delimiters {
            field: b'$',
            component: b'%',
            truncation: Some(b'#'),
            ..D
        };
        let text = "$%|^#";
        let enc = encode(text, &odd);
        assert_eq!(enc, r"\F\\S\|^\P\");
        assert_eq!(decode(&enc, &odd), text);
    }
}
