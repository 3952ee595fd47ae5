//! Character sets (MSH-18): wire bytes to text and back.

use std::borrow::Cow;
use std::fmt;

use super::delimiters::Delimiters;
use super::error::ParseError;
use super::location::Location;

/// Character set from MSH-18.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Charset {
    /// 7-bit ASCII (`ASCII`, also `ISO IR6`).
    Ascii,
    /// ISO 8859-1 (`8859/1`, also `ISO IR100`).
    Latin1,
    /// UTF-8 (`UNICODE UTF-8`, also `UTF-8`).
    Utf8,
}

impl Charset {
    /// The MSH-18 code of the character set.
    pub fn code(self) -> &'static str {
        match self {
            Charset::Ascii => "ASCII",
            Charset::Latin1 => "8859/1",
            Charset::Utf8 => "UNICODE UTF-8",
        }
    }

    /// Reads an MSH-18 value; `Ok(None)` for an empty value (the default applies).
    pub fn from_code(code: &str) -> Result<Option<Charset>, CharsetCodeError> {
        let code = code.trim();
        let found = match code.to_ascii_uppercase().as_str() {
            "" => return Ok(None),
            "ASCII" | "ISO IR6" => Charset::Ascii,
            "8859/1" | "ISO IR100" => Charset::Latin1,
            "UNICODE UTF-8" | "UTF-8" => Charset::Utf8,
            "8859/2" | "8859/3" | "8859/4" | "8859/5" | "8859/6" | "8859/7" | "8859/8"
            | "8859/9" | "8859/15" | "ISO IR14" | "ISO IR87" | "ISO IR159" | "GB 18030-2000"
            | "KS X 1001" | "CNS 11643-1992" | "BIG-5" | "UNICODE" | "UNICODE UTF-16"
            | "UNICODE UTF-32" => return Err(CharsetCodeError::Unsupported),
            _ => return Err(CharsetCodeError::Unknown),
        };
        Ok(Some(found))
    }
}

/// Why an MSH-18 value was refused by [`Charset::from_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CharsetCodeError {
    /// Not a value of HL7 table 0211.
    Unknown,
    /// A value of table 0211 that this reader does not decode.
    Unsupported,
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Text of a wire message, see [`decode_bytes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The message text, without BOM.
    pub text: Cow<'a, str>,
    /// The character set the bytes were read in.
    pub charset: Charset,
    /// Whether the bytes started with a UTF-8 byte order mark (dropped from `text`).
    pub bom: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Text of a wire message: strips a UTF-8 BOM, reads MSH-18 (first repetition; `ASCII`,
/// `8859/1`, `UNICODE UTF-8` (also `UTF-8`), empty = default) and decodes to UTF-8.
///
/// Default when MSH-18 is empty: UTF-8 if the bytes are valid UTF-8, else ISO 8859-1.
/// Zero-copy (`Cow::Borrowed`) when the bytes are already valid UTF-8 and the charset allows
/// it. For files and batches (`FHS`/`BHS` first) the MSH-18 of the first `MSH` applies.
pub fn decode_bytes(bytes: &[u8]) -> Result<Decoded<'_>, ParseError> {
    let (bytes, bom) = match bytes.strip_prefix(BOM) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    let (start, first) = first_line(bytes, 0).ok_or(ParseError::Empty)?;
    let id = &first[..first.len().min(3)];
    if !matches!(id, b"MSH" | b"FHS" | b"BHS") {
        return Err(ParseError::MissingHeader {
            expected: "MSH, FHS or BHS",
            found: String::from_utf8_lossy(&first[..first.len().min(8)]).into_owned(),
            location: Box::new(Location::at_byte(start)),
        });
    }
    let declared = match find_msh(bytes, start) {
        Some((msh_start, msh)) => read_msh18(bytes, msh, msh_start)?,
        None => None,
    };
    let charset = declared.unwrap_or_else(|| {
        if std::str::from_utf8(bytes).is_ok() {
            Charset::Utf8
        } else {
            Charset::Latin1
        }
    });
    let text = match charset {
        Charset::Ascii => match bytes.iter().position(|b| !b.is_ascii()) {
            None => Cow::Borrowed(ascii_str(bytes)),
            Some(at) => return Err(invalid(bytes, at, "ASCII")),
        },
        Charset::Utf8 => match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(e) => return Err(invalid(bytes, e.valid_up_to(), "UNICODE UTF-8")),
        },
        Charset::Latin1 => {
            if bytes.is_ascii() {
                Cow::Borrowed(ascii_str(bytes))
            } else {
                Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())
            }
        }
    };
    Ok(Decoded { text, charset, bom })
}

/// Back to wire bytes in `charset`; a character that `charset` cannot represent is an error
/// located at its byte offset in `text`. Borrowed when the text is already valid as it is.
pub fn encode_text(text: &str, charset: Charset) -> Result<Cow<'_, [u8]>, ParseError> {
    if charset == Charset::Utf8 || text.is_ascii() {
        return Ok(Cow::Borrowed(text.as_bytes()));
    }
    let limit = if charset == Charset::Ascii {
        0x7F
    } else {
        0xFF
    };
    let mut out = Vec::with_capacity(text.len());
    for (i, ch) in text.char_indices() {
        match u8::try_from(u32::from(ch)) {
            Ok(b) if u32::from(b) <= limit => out.push(b),
            _ => {
                return Err(ParseError::Unencodable {
                    ch,
                    charset: charset_name(charset),
                    location: Box::new(locate(text.as_bytes(), i)),
                })
            }
        }
    }
    Ok(Cow::Owned(out))
}

fn charset_name(charset: Charset) -> &'static str {
    match charset {
        Charset::Ascii => "ASCII",
        Charset::Latin1 => "8859/1",
        Charset::Utf8 => "UNICODE UTF-8",
    }
}

fn ascii_str(bytes: &[u8]) -> &str {
    // ASCII bytes are always valid UTF-8; the fallback is never taken.
    std::str::from_utf8(bytes).unwrap_or_default()
}

fn invalid(bytes: &[u8], at: usize, charset: &'static str) -> ParseError {
    ParseError::InvalidBytes {
        charset,
        location: Box::new(locate(bytes, at)),
    }
}

/// The first non-empty line at or after `from`: (its start, its bytes).
fn first_line(bytes: &[u8], mut from: usize) -> Option<(usize, &[u8])> {
    while from < bytes.len() {
        let end = memchr::memchr2(b'\r', b'\n', &bytes[from..]).map_or(bytes.len(), |i| from + i);
        if end > from {
            return Some((from, &bytes[from..end]));
        }
        from = end + 1;
    }
    None
}

fn find_msh(bytes: &[u8], mut from: usize) -> Option<(usize, &[u8])> {
    while let Some((start, line)) = first_line(bytes, from) {
        if line.starts_with(b"MSH") {
            return Some((start, line));
        }
        from = start + line.len();
    }
    None
}

/// Reads MSH-18 (first repetition, first component) of an MSH line.
fn read_msh18(whole: &[u8], line: &[u8], line_start: usize) -> Result<Option<Charset>, ParseError> {
    let (d, msh2_end) = Delimiters::from_header(line).map_err(|e| e.shifted(line_start, 0))?;
    let mut pos = msh2_end;
    for _ in 0..15 {
        match line.get(pos) {
            Some(_) => {
                pos = line[pos + 1..]
                    .iter()
                    .position(|&b| b == d.field)
                    .map_or(line.len(), |i| pos + 1 + i);
            }
            None => return Ok(None),
        }
    }
    if pos >= line.len() {
        return Ok(None);
    }
    let field = &line[pos + 1..];
    let end = field
        .iter()
        .position(|&b| b == d.field || b == d.repetition || b == d.component)
        .unwrap_or(field.len());
    let value = String::from_utf8_lossy(&field[..end]).into_owned();
    let location = Location {
        field: Some(18),
        repetition: Some(1),
        ..locate(whole, line_start + pos + 1)
    };
    Charset::from_code(&value).map_err(|e| match e {
        CharsetCodeError::Unknown => ParseError::UnknownCharset {
            name: value.clone(),
            location: Box::new(location.clone()),
        },
        CharsetCodeError::Unsupported => ParseError::UnsupportedCharset {
            name: value.clone(),
            location: Box::new(location.clone()),
        },
    })
}

/// Location of byte `at` of a wire text: segment index and id, and field where it can tell.
pub(crate) fn locate(bytes: &[u8], at: usize) -> Location {
    let mut index = 0;
    let mut from = 0;
    while let Some((start, line)) = first_line(bytes, from) {
        index += 1;
        let end = start + line.len();
        if at < end || end == bytes.len() {
            let id_len = line.len().min(3);
            let id = String::from_utf8_lossy(&line[..id_len]).into_owned();
            let field = line.get(3).and_then(|&sep| {
                if at < start + 3 {
                    return None;
                }
                let seps = line[..at.min(end) - start]
                    .iter()
                    .filter(|&&b| b == sep)
                    .count();
                let header = matches!(&line[..id_len], b"MSH" | b"FHS" | b"BHS");
                match (header, seps) {
                    (_, 0) => None,
                    (true, n) => Some(n + 1),
                    (false, n) => Some(n),
                }
            });
            return Location {
                segment_index: index,
                segment_id: id.into(),
                field,
                byte_offset: at,
                ..Location::default()
            };
        }
        from = end;
    }
    Location::at_byte(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_default_is_borrowed() {
        let d = decode_bytes("MSH|^~\\&|é\r".as_bytes()).unwrap();
        assert!(matches!(d.text, Cow::Borrowed(_)));
        assert_eq!(d.charset, Charset::Utf8);
        assert!(!d.bom);
    }

    #[test]
    fn bom_is_stripped() {
        let d = decode_bytes(b"\xEF\xBB\xBFMSH|^~\\&|A\n").unwrap();
        assert!(d.bom);
        assert_eq!(d.text, "MSH|^~\\&|A\n");
    }

    #[test]
    fn latin1_declared_and_default() {
        let msg = b"MSH|^~\\&||||||||||||||||8859/1\rPID|||M\xfcller\r";
        let d = decode_bytes(msg).unwrap();
        assert_eq!(d.charset, Charset::Latin1);
        assert!(d.text.contains("Müller"));
        assert_eq!(encode_text(&d.text, Charset::Latin1).unwrap(), &msg[..]);
        // Not valid UTF-8, nothing declared: Latin-1.
        let d = decode_bytes(b"MSH|^~\\&\rPID|||M\xfcller\r").unwrap();
        assert_eq!(d.charset, Charset::Latin1);
        // Declared UTF-8 but Latin-1 bytes: error at the byte.
        let err =
            decode_bytes(b"MSH|^~\\&||||||||||||||||UNICODE UTF-8\rPID|||M\xfcller\r").unwrap_err();
        let loc = err.location().unwrap();
        assert_eq!((loc.segment_index, loc.segment_id.as_str()), (2, "PID"));
        assert_eq!(loc.field, Some(3));
        assert_eq!(loc.byte_offset, 45);
    }

    #[test]
    fn ascii_refuses_high_bytes() {
        let err = decode_bytes(b"MSH|^~\\&||||||||||||||||ASCII\rPID|\xe9\r").unwrap_err();
        assert!(matches!(err, ParseError::InvalidBytes { .. }));
        let err = encode_text("PID|é", Charset::Ascii).unwrap_err();
        assert_eq!(err.location().unwrap().byte_offset, 4);
        assert!(encode_text("漢", Charset::Latin1).is_err());
    }

    #[test]
    fn repeating_msh18_first_repetition() {
        let d = decode_bytes(b"MSH|^~\\&||||||||||||||||UNICODE UTF-8~8859/1\r").unwrap();
        assert_eq!(d.charset, Charset::Utf8);
        let err = decode_bytes(b"MSH|^~\\&||||||||||||||||x~y\rPID\r").unwrap_err();
        match err {
            ParseError::UnknownCharset { name, location } => {
                assert_eq!(name, "x");
                assert_eq!(location.field, Some(18));
            }
            other => panic!("{other:?}"),
        }
        let err = decode_bytes(b"MSH|^~\\&||||||||||||||||ISO IR87\r").unwrap_err();
        assert!(matches!(err, ParseError::UnsupportedCharset { .. }));
    }

    #[test]
    fn headers_and_empty() {
        assert_eq!(decode_bytes(b"").unwrap_err(), ParseError::Empty);
        assert_eq!(decode_bytes(b"\r\n\r\n").unwrap_err(), ParseError::Empty);
        assert!(matches!(
            decode_bytes(b"PID|1\r").unwrap_err(),
            ParseError::MissingHeader { .. }
        ));
        let d = decode_bytes(b"FHS|^~\\&\rMSH|^~\\&||||||||||||||||ASCII\r").unwrap();
        assert_eq!(d.charset, Charset::Ascii);
    }
}
