//! The low-level ER7 writer used by [`owned::MessageTree::encode`](super::owned::MessageTree)
//! and by typed encoders.

use super::delimiters::Delimiters;
use super::escape;
use super::segment::is_header_id;

/// Low-level writer used by typed encoders: appends ER7 text to a `String`.
///
/// ```
/// use hl7_runtime::er7::{Delimiters, Writer};
/// let mut w = Writer::new(Delimiters::DEFAULT);
/// w.begin_segment("MSH");
/// w.field_separator();
/// w.text("A|B");
/// w.end_segment();
/// assert_eq!(w.finish(), "MSH|^~\\&|A\\F\\B\r");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    out: String,
    delimiters: Delimiters,
}

impl Writer {
    /// A writer with the given delimiters.
    pub fn new(delimiters: Delimiters) -> Writer {
        Writer::with_capacity(delimiters, 0)
    }

    /// A writer with the given delimiters and `cap` bytes reserved.
    pub fn with_capacity(delimiters: Delimiters, cap: usize) -> Writer {
        Writer {
            out: String::with_capacity(cap),
            delimiters,
        }
    }

    /// The delimiters used.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// Writes the segment id; for `MSH` (and `FHS`/`BHS`) also MSH-1 and MSH-2 from the
    /// delimiters, e.g. `MSH|^~\&`. The next call is usually [`Writer::field_separator`].
    pub fn begin_segment(&mut self, id: &str) {
        self.out.push_str(id);
        if is_header_id(id) {
            self.out.push(char::from(self.delimiters.field));
            self.out.push_str(&self.delimiters.encoding_characters());
        }
    }

    /// Writes the field separator.
    #[inline]
    pub fn field_separator(&mut self) {
        self.out.push(char::from(self.delimiters.field));
    }

    /// Writes the repetition separator.
    #[inline]
    pub fn repetition_separator(&mut self) {
        self.out.push(char::from(self.delimiters.repetition));
    }

    /// Writes the component separator.
    #[inline]
    pub fn component_separator(&mut self) {
        self.out.push(char::from(self.delimiters.component));
    }

    /// Writes the subcomponent separator (nothing when the delimiters have none).
    #[inline]
    pub fn subcomponent_separator(&mut self) {
        if let Some(sub) = self.delimiters.subcomponent {
            self.out.push(char::from(sub));
        }
    }

    /// Writes already-escaped text as it is.
    #[inline]
    pub fn raw(&mut self, raw: &str) {
        self.out.push_str(raw);
    }

    /// Writes plain text, escaping delimiters, the escape character and CR/LF.
    #[inline]
    pub fn text(&mut self, text: &str) {
        self.out.push_str(&escape::encode(text, &self.delimiters));
    }

    /// Ends the segment (writes `\r`).
    #[inline]
    pub fn end_segment(&mut self) {
        self.out.push('\r');
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The text written.
    pub fn finish(self) -> String {
        self.out
    }

    /// Length in bytes of the text written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Shortens the text to `len` bytes (lets callers drop trailing empty separators). Does
    /// nothing when `len` is not shorter; rounds down to a character boundary.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.out.len() {
            return;
        }
        let mut len = len;
        while !self.out.is_char_boundary(len) {
            len -= 1;
        }
        self.out.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_segments() {
        let d = Delimiters {
            field: b'$',
            component: b'%',
            ..Delimiters::DEFAULT
        };
        let mut w = Writer::with_capacity(d, 64);
        w.begin_segment("MSH");
        w.field_separator();
        w.text("A$B");
        w.end_segment();
        w.begin_segment("PID");
        w.field_separator();
        w.raw("1");
        w.component_separator();
        w.repetition_separator();
        w.subcomponent_separator();
        let before = w.len();
        w.field_separator();
        w.field_separator();
        w.truncate(before);
        w.end_segment();
        assert_eq!(w.as_str(), "MSH$%~\\&$A\\F\\B\rPID$1%~&\r");
        assert!(!w.is_empty());
        w.truncate(1000);
        assert_eq!(w.delimiters(), d);
    }
}
