//! Word-at-a-time (SWAR) delimiter search, in safe code: eight bytes per step.
//!
//! Pieces of an HL7 message are short (a few bytes to a few dozen), too short for `memchr`'s
//! vector loop to pay off, and the splitter also wants to know whether a lower-level delimiter
//! comes before the separator (a flat piece is never scanned again). Both answers come from
//! one pass over 64-bit words.

/// The low bit of every byte.
const LO: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte.
const HI: u64 = 0x8080_8080_8080_8080;

/// `b` in every byte of a word.
#[inline(always)]
fn splat(b: u8) -> u64 {
    LO.wrapping_mul(u64::from(b))
}

/// The high bit of each byte of the result is set where `x` has a zero byte, and may be set
/// above such a byte (a borrow runs up from it): the lowest set bit is exact, and a set bit
/// always has an exact one at or below it.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// The eight bytes of `text` from `pos` (zeros past its end) as a little-endian word.
#[inline(always)]
fn load(text: &[u8], pos: usize) -> u64 {
    match text.get(pos..).and_then(|rest| rest.first_chunk::<8>()) {
        Some(chunk) => u64::from_le_bytes(*chunk),
        None => load_padded(text, pos),
    }
}

/// [`load`] near the end of the text.
#[cold]
#[inline(never)]
fn load_padded(text: &[u8], pos: usize) -> u64 {
    let mut buf = [0u8; 8];
    for (d, &b) in buf.iter_mut().zip(text.get(pos..).unwrap_or_default()) {
        *d = b;
    }
    u64::from_le_bytes(buf)
}

/// Searches `text[pos..end]` for `sep`; bytes of `text` past `end` may be read, never matched.
///
/// Returns the index (in `text`) of the first `sep`, or `None`, and whether one of `lower`
/// occurs before it (before `end` when there is no `sep`). When `check_lower` is false, `lower`
/// is not looked at and the flag is false.
#[inline(always)]
pub(crate) fn find(
    text: &[u8],
    mut pos: usize,
    end: usize,
    sep: u8,
    lower: [u8; 3],
    check_lower: bool,
) -> (Option<usize>, bool) {
    let s = splat(sep);
    let [l0, l1, l2] = lower.map(splat);
    let mut seen = false;
    while pos < end {
        let w = load(text, pos);
        // The high bit of the bytes before `end`.
        let valid = HI >> (8 * 8usize.saturating_sub(end - pos));
        // Only the first hit is used, and a byte of `lower` is only looked for before it (or
        // anywhere when there is none): the inexact bits of `zero_bytes` never count.
        let hit = zero_bytes(w ^ s) & valid;
        let low = if check_lower {
            (zero_bytes(w ^ l0) | zero_bytes(w ^ l1) | zero_bytes(w ^ l2)) & valid
        } else {
            0
        };
        if hit != 0 {
            // Bits below the first hit: the bytes before it.
            let before = (hit & hit.wrapping_neg()) - 1;
            let at = pos + (hit.trailing_zeros() / 8) as usize;
            return (Some(at), seen || low & before != 0);
        }
        seen |= low != 0;
        pos += 8;
    }
    (None, seen)
}

/// Where the next separator of a split is, and whether a delimiter of a lower level comes
/// before it: the answer of [`find`] (here, [`ByteSearch`]) or of a delimiter index.
pub(crate) trait Search {
    /// The separator's index in `pos..end` or `None`, and whether a lower-level delimiter
    /// occurs before it (before `end` when there is none).
    fn find(&self, pos: usize, end: usize) -> (Option<usize>, bool);
}

/// [`find`] as a [`Search`]: a separator byte and the bytes of the levels below it.
#[derive(Debug, Clone)]
pub(crate) struct ByteSearch<'a> {
    text: &'a [u8],
    sep: u8,
    /// Separators of lower levels: a piece holding none of them is flat.
    lower: [u8; 3],
    /// Whether the flatness of pieces is wanted (else it is reported as `false`).
    check_lower: bool,
}

impl Search for ByteSearch<'_> {
    #[inline(always)]
    fn find(&self, pos: usize, end: usize) -> (Option<usize>, bool) {
        find(self.text, pos, end, self.sep, self.lower, self.check_lower)
    }
}

/// Splits `pos..end` where `S` finds separators (no splitting without one), numbering pieces
/// from 1. Yields (start, end, number, flat: no separator of a lower level inside).
#[derive(Debug, Clone)]
pub(crate) struct PiecesOf<S> {
    search: Option<S>,
    pos: usize,
    end: usize,
    number: u32,
    done: bool,
}

/// Pieces found by the byte search.
pub(crate) type Pieces<'a> = PiecesOf<ByteSearch<'a>>;

impl<S> PiecesOf<S> {
    /// Pieces of `start..end`, split where `search` finds separators (one piece without).
    #[inline]
    pub(crate) fn with(search: Option<S>, start: usize, end: usize) -> Self {
        PiecesOf {
            search,
            pos: start,
            end,
            number: 0,
            done: false,
        }
    }

    /// No pieces at all.
    #[inline]
    pub(crate) fn empty() -> Self {
        PiecesOf {
            done: true,
            ..PiecesOf::with(None, 0, 0)
        }
    }

    /// Starts numbering after `number` (the next piece gets `number + 1`).
    #[inline]
    pub(crate) fn numbered_after(mut self, number: u32) -> Self {
        self.number = number;
        self
    }
}

impl<'a> Pieces<'a> {
    /// Pieces of `text[start..end]` split at `sep` (none when `None`); `lower`, when given, are
    /// the separators of the levels below, for the flatness flag.
    #[inline]
    pub(crate) fn new(
        text: &'a [u8],
        start: usize,
        end: usize,
        sep: Option<u8>,
        lower: Option<[u8; 3]>,
    ) -> Self {
        let search = sep.map(|sep| ByteSearch {
            text,
            sep,
            lower: lower.unwrap_or_default(),
            check_lower: lower.is_some(),
        });
        PiecesOf::with(search, start, end)
    }
}

impl<S: Search> Iterator for PiecesOf<S> {
    /// (start, end, number, flat).
    type Item = (usize, usize, u32, bool);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.number += 1;
        let start = self.pos;
        let Some(search) = &self.search else {
            self.done = true;
            return Some((start, self.end, self.number, true));
        };
        // One pass finds the separator and notes whether lower levels need splitting at all;
        // flat pieces are never scanned again.
        match search.find(start, self.end) {
            (Some(i), lower) => {
                self.pos = i + 1;
                Some((start, i, self.number, !lower))
            }
            (None, lower) => {
                self.done = true;
                Some((start, self.end, self.number, !lower))
            }
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (1, Some(self.end.saturating_sub(self.pos) + 1))
        }
    }
}

/// Splits `raw` at `sep`, yielding each piece and whether it is flat (holds none of `lower`).
///
/// When `raw` is a slice of `text` (the message), the search reads whole words of `text` around
/// the piece instead of a byte loop near its end; otherwise `raw` is searched alone.
#[derive(Debug, Clone)]
pub(crate) struct SplitStr<'a> {
    text: &'a str,
    inner: Pieces<'a>,
}

impl<'a> SplitStr<'a> {
    /// Pieces of `raw` split at `sep` (no split when `sep` is `None`). The flatness of a piece
    /// is only known when `lower` is given; without it every piece is reported flat.
    #[inline]
    pub(crate) fn new(
        text: &'a str,
        raw: &'a str,
        sep: Option<u8>,
        lower: Option<[u8; 3]>,
    ) -> Self {
        let start = (raw.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        let (text, start) = if start <= text.len() && raw.len() <= text.len() - start {
            (text, start)
        } else {
            (raw, 0)
        };
        SplitStr {
            text,
            inner: Pieces::new(text.as_bytes(), start, start + raw.len(), sep, lower),
        }
    }
}

impl<'a> Iterator for SplitStr<'a> {
    /// (piece, flat).
    type Item = (&'a str, bool);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (start, end, _, flat) = self.inner.next()?;
        Some((self.text.get(start..end).unwrap_or_default(), flat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious byte loop.
    fn naive(bytes: &[u8], sep: u8, lower: [u8; 3], check: bool) -> (Option<usize>, bool) {
        let at = bytes.iter().position(|&b| b == sep);
        let upto = &bytes[..at.unwrap_or(bytes.len())];
        (at, check && upto.iter().any(|b| lower.contains(b)))
    }

    #[test]
    fn matches_the_byte_loop() {
        let alphabet = b"|^~&\\a\x00\x01\x7f\x80\xff";
        let mut state = 0x1234_5678_9abc_def1_u64;
        for _ in 0..2_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| alphabet[((state >> (i % 60)) as usize + i * 7) % alphabet.len()])
                .collect();
            for (sep, lower) in [
                (b'|', [b'~', b'^', b'&']),
                (b'~', [b'^', b'&', b'&']),
                (b'^', [b'&'; 3]),
                (0, [1, 0x7f, 0x80]),
                (0xff, [0x80, 0, 0]),
            ] {
                for check in [true, false] {
                    // Every window of the text, read with the bytes around it.
                    for start in 0..=bytes.len().min(9) {
                        for end in start..=bytes.len() {
                            let found = find(&bytes, start, end, sep, lower, check);
                            let (at, low) = naive(&bytes[start..end], sep, lower, check);
                            assert_eq!(
                                found,
                                (at.map(|i| start + i), low),
                                "{bytes:?} {start}..{end} {sep} {lower:?}"
                            );
                        }
                    }
                }
            }
        }
    }
}
