//! The delimiters of a message, read from MSH-1 and MSH-2 (or FHS/BHS).

use super::error::ParseError;
use super::location::Location;

/// Delimiters from MSH-1/MSH-2 (FHS/BHS likewise). All ASCII bytes; any characters allowed,
/// e.g. `$%~\&` or `^~|\&`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delimiters {
    /// Field separator (MSH-1), `|` by default.
    pub field: u8,
    /// Component separator (MSH-2, 1st character), `^` by default.
    pub component: u8,
    /// Repetition separator (MSH-2, 2nd character), `~` by default.
    pub repetition: u8,
    /// Escape character (MSH-2, 3rd character), `\` by default.
    pub escape: Option<u8>,
    /// Subcomponent separator (MSH-2, 4th character), `&` by default.
    pub subcomponent: Option<u8>,
    /// Truncation character (MSH-2, 5th character, HL7 2.7 and later), usually `#`.
    pub truncation: Option<u8>,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters::DEFAULT
    }
}

impl Delimiters {
    /// The standard delimiters `|^~\&`.
    pub const DEFAULT: Delimiters = Delimiters {
        field: b'|',
        component: b'^',
        repetition: b'~',
        escape: Some(b'\\'),
        subcomponent: Some(b'&'),
        truncation: None,
    };

    /// The text of MSH-2: component, repetition, escape, subcomponent and truncation
    /// characters, in that order; absent ones are left out.
    pub fn encoding_characters(&self) -> String {
        let mut s = String::with_capacity(5);
        s.push(char::from(self.component));
        s.push(char::from(self.repetition));
        for c in [self.escape, self.subcomponent, self.truncation]
            .into_iter()
            .flatten()
        {
            s.push(char::from(c));
        }
        s
    }

    /// Whether `b` is one of the delimiters or the escape character.
    #[inline]
    pub fn is_special(&self, b: u8) -> bool {
        b == self.field
            || b == self.component
            || b == self.repetition
            || Some(b) == self.escape
            || Some(b) == self.subcomponent
            || Some(b) == self.truncation
    }

    /// Reads the delimiters of a header segment (`MSH`, `FHS` or `BHS`) at the start of `bytes`.
    ///
    /// Returns them with the byte length of the header's id, MSH-1 and MSH-2 (where MSH-3
    /// starts, less its separator). MSH-2 ends at the next field separator, segment terminator
    /// or end of input; it must hold 2 to 5 distinct ASCII characters, none equal to MSH-1.
    pub fn from_header(bytes: &[u8]) -> Result<(Delimiters, usize), ParseError> {
        let id = String::from_utf8_lossy(&bytes[..bytes.len().min(3)]).into_owned();
        let loc = |field: usize, offset: usize| Location {
            segment_index: 1,
            segment_id: id.as_str().into(),
            field: Some(field),
            byte_offset: offset,
            ..Location::default()
        };
        let bad = |reason: &'static str, field: usize, offset: usize| ParseError::BadDelimiters {
            reason,
            location: Box::new(loc(field, offset)),
        };
        let field = match bytes.get(3) {
            None | Some(b'\r' | b'\n') => return Err(bad("MSH-1 is missing", 1, 3)),
            Some(&b) => b,
        };
        if !is_usable(field) {
            return Err(bad("MSH-1 is not a printable ASCII character", 1, 3));
        }
        let rest = &bytes[4..];
        let len = rest
            .iter()
            .position(|&b| b == field || b == b'\r' || b == b'\n')
            .unwrap_or(rest.len());
        let enc = &rest[..len];
        if enc.len() < 2 {
            return Err(bad(
                "MSH-2 is too short (needs at least 2 characters)",
                2,
                4,
            ));
        }
        if enc.len() > 5 {
            return Err(bad("MSH-2 is too long (at most 5 characters)", 2, 4));
        }
        for (i, &c) in enc.iter().enumerate() {
            if !is_usable(c) {
                return Err(bad(
                    "MSH-2 holds a character that is not printable ASCII",
                    2,
                    4 + i,
                ));
            }
            if enc[..i].contains(&c) {
                return Err(bad("MSH-2 repeats a character", 2, 4 + i));
            }
        }
        let d = Delimiters {
            field,
            component: enc[0],
            repetition: enc[1],
            escape: enc.get(2).copied(),
            subcomponent: enc.get(3).copied(),
            truncation: enc.get(4).copied(),
        };
        Ok((d, 4 + len))
    }
}

/// Printable ASCII other than space and the alphanumerics that would make segment ids ambiguous
/// are allowed; we only refuse control characters, space and non-ASCII bytes.
fn is_usable(b: u8) -> bool {
    b.is_ascii_graphic()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_encoding_characters() {
        assert_eq!(Delimiters::DEFAULT.encoding_characters(), "^~\\&");
        let (d, end) = Delimiters::from_header(b"MSH|^~\\&|A").unwrap();
        assert_eq!(d, Delimiters::DEFAULT);
        assert_eq!(end, 8);
    }

    #[test]
    fn unusual_delimiters() {
        let (d, _) = Delimiters::from_header(b"MSH$%~\\&$GHH").unwrap();
        assert_eq!((d.field, d.component, d.repetition), (b'$', b'%', b'~'));
        let (d, _) = Delimiters::from_header(b"MSH^~|\\&^X").unwrap();
        assert_eq!((d.field, d.component, d.repetition), (b'^', b'~', b'|'));
        assert_eq!(d.encoding_characters(), "~|\\&");
    }

    #[test]
    fn truncation_and_short_msh2() {
        let (d, end) = Delimiters::from_header(b"MSH|^~\\&#|A").unwrap();
        assert_eq!(d.truncation, Some(b'#'));
        assert_eq!(end, 9);
        assert_eq!(d.encoding_characters(), "^~\\&#");
        let (d, _) = Delimiters::from_header(b"MSH|^~\\|A").unwrap();
        assert_eq!(d.subcomponent, None);
        assert_eq!(d.escape, Some(b'\\'));
        // MSH-2 at the end of the segment.
        let (d, end) = Delimiters::from_header(b"MSH|^~\\&\rPID").unwrap();
        assert_eq!(d, Delimiters::DEFAULT);
        assert_eq!(end, 8);
    }

    #[test]
    fn bad_delimiters() {
        for bad in [
            &b"MSH"[..],
            b"MSH|",
            b"MSH|^|",
            b"MSH|^~\\\\|",
            b"MSH|^~\\&#!|",
            b"MSH|^|\\&|",
            b"MSH|^\xc3\xa9|",
            b"MSH ^~\\&",
        ] {
            let err = Delimiters::from_header(bad).unwrap_err();
            assert!(err.location().is_some(), "{err}");
        }
    }
}
