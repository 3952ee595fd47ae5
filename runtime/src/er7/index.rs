//! Bitmaps of where a message's delimiters are, for the validator's many short splits.
//!
//! The validator splits every valued field into repetitions, components and subcomponents, and
//! most pieces are a few bytes long: a search per piece (even eight bytes per step, as
//! [`scan::find`](super::scan::find)) costs more in setting up than in scanning. Here the bytes
//! of each 64-byte block are classified once (16 at a time, with `wide`'s portable SIMD), into
//! one bit per byte and delimiter, and a piece's end is the lowest set bit after its start.
//! Blocks are classified when first asked for and kept in a small direct-mapped cache: the
//! validator walks a message forward, field by field, re-reading only the field it is in, so a
//! few blocks serve it and nothing is allocated.

use std::cell::Cell;

use wide::u8x16;

use super::delimiters::Delimiters;
use super::scan::{PiecesOf, Search};

/// What a text is split into: the delimiter between the pieces, and with it the delimiters of
/// the levels below, whose absence makes a piece flat (never to be split again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Split {
    /// At the field separator; lower: repetition, component, subcomponent.
    Fields = 0,
    /// At the repetition separator; lower: component, subcomponent.
    Repetitions = 1,
    /// At the component separator; lower: subcomponent.
    Components = 2,
    /// At the subcomponent separator; every piece is flat.
    Subcomponents = 3,
}

/// Cached blocks: 16 of 64 bytes hold a kilobyte of text, more than most fields.
const SLOTS: usize = 16;
const BLOCK: usize = 64;
/// A tag that no block index reaches.
const EMPTY: usize = usize::MAX;

/// Delimiter bitmaps of one message text: bit `i` of a block's mask for a delimiter is set
/// when byte `64 * block + i` of the text is that delimiter.
#[derive(Debug)]
pub(crate) struct DelimiterIndex<'t> {
    text: &'t str,
    /// Field, repetition, component and subcomponent separators, each in every lane.
    splat: [u8x16; 4],
    /// False when the message has no subcomponent separator: that mask stays empty.
    has_subcomponent: bool,
    tags: [Cell<usize>; SLOTS],
    /// Per slot: the masks of the field, repetition, component and subcomponent separators,
    /// then the unions below each (repetition to subcomponent, component and subcomponent,
    /// subcomponent, none): a split reads words `k` and `k + 4`.
    words: [[Cell<u64>; 8]; SLOTS],
}

impl<'t> DelimiterIndex<'t> {
    /// An index of `text`, a message with `delimiters`; no block is classified yet.
    pub(crate) fn new(text: &'t str, delimiters: &Delimiters) -> Self {
        let splat = u8x16::splat;
        DelimiterIndex {
            text,
            splat: [
                splat(delimiters.field),
                splat(delimiters.repetition),
                splat(delimiters.component),
                splat(delimiters.subcomponent.unwrap_or(0)),
            ],
            has_subcomponent: delimiters.subcomponent.is_some(),
            tags: std::array::from_fn(|_| Cell::new(EMPTY)),
            words: std::array::from_fn(|_| std::array::from_fn(|_| Cell::new(0))),
        }
    }

    /// The text indexed.
    #[inline]
    pub(crate) fn text(&self) -> &'t str {
        self.text
    }

    /// The pieces of `raw`, a slice of the indexed text, as `split` says (one piece when
    /// `None`), each with whether it is flat.
    #[inline]
    pub(crate) fn split<'i>(&'i self, raw: &'t str, split: Option<Split>) -> SplitIndexed<'i, 't> {
        let start = (raw.as_ptr() as usize).wrapping_sub(self.text.as_ptr() as usize);
        // A slice of the text by construction; anything else is one piece, never split.
        let inside = start <= self.text.len() && raw.len() <= self.text.len() - start;
        debug_assert!(inside, "{raw:?} is not a slice of the indexed text");
        let (start, split) = if inside { (start, split) } else { (0, None) };
        SplitIndexed {
            text: self.text,
            fallback: (!inside).then_some(raw),
            inner: self.pieces(start, start + raw.len(), split),
        }
    }

    /// The mask of `split`'s separator in `block`, and the union of the masks below it;
    /// the block is classified now if the cache does not hold it.
    #[inline(always)]
    fn masks(&self, block: usize, split: Split) -> (u64, u64) {
        let slot = block % SLOTS;
        // `slot < SLOTS`: the `else` is never taken.
        let (Some(tag), Some(words)) = (self.tags.get(slot), self.words.get(slot)) else {
            return (0, 0);
        };
        if tag.get() != block {
            self.fill(words, block);
            tag.set(block);
        }
        let k = split as usize;
        let word = |i: usize| words.get(i).map_or(0, Cell::get);
        (word(k), word(k + 4))
    }

    /// Classifies `block` into a slot's words.
    #[inline(never)]
    fn fill(&self, words: &[Cell<u64>; 8], block: usize) {
        let [field, repetition, component, subcomponent] = self.classify(block);
        let all = [
            field,
            repetition,
            component,
            subcomponent,
            repetition | component | subcomponent,
            component | subcomponent,
            subcomponent,
            0,
        ];
        for (word, value) in words.iter().zip(all) {
            word.set(value);
        }
    }

    /// Classifies the 64 bytes of `block` (zeros past the end of the text, never asked for).
    #[inline(always)]
    fn classify(&self, block: usize) -> [u64; 4] {
        let start = block.saturating_mul(BLOCK);
        let text = self.text.as_bytes();
        let mut bytes = [0u8; BLOCK];
        match text
            .get(start..)
            .and_then(|rest| rest.first_chunk::<BLOCK>())
        {
            Some(chunk) => bytes = *chunk,
            None => {
                for (d, &b) in bytes.iter_mut().zip(text.get(start..).unwrap_or_default()) {
                    *d = b;
                }
            }
        }
        let mut masks = [0u64; 4];
        for (j, chunk) in bytes.chunks_exact(16).enumerate() {
            let mut lanes = [0u8; 16];
            lanes.copy_from_slice(chunk);
            let lanes = u8x16::new(lanes);
            for (mask, &delimiter) in masks.iter_mut().zip(&self.splat) {
                let found = u64::from(lanes.cmp_eq(delimiter).move_mask() as u16);
                *mask |= found << (16 * j);
            }
        }
        if !self.has_subcomponent {
            masks[3] = 0;
        }
        masks
    }

    /// Searches `text[pos..end]` for the separator of `split`. Returns its index, or `None`,
    /// and whether a delimiter of a lower level occurs before it (before `end` when there is
    /// none): as [`scan::find`](super::scan::find), by level instead of by byte.
    #[inline(always)]
    pub(crate) fn find(&self, pos: usize, end: usize, split: Split) -> (Option<usize>, bool) {
        let mut block = pos / BLOCK;
        let mut valid = u64::MAX << (pos % BLOCK);
        let mut seen = false;
        while block * BLOCK < end {
            let upto = end - block * BLOCK;
            if upto < BLOCK {
                valid &= (1u64 << upto) - 1;
            }
            let (sep, lower) = self.masks(block, split);
            let hit = sep & valid;
            let low = lower & valid;
            if hit != 0 {
                // Bits below the first hit: the bytes before it.
                let before = (hit & hit.wrapping_neg()) - 1;
                let at = block * BLOCK + hit.trailing_zeros() as usize;
                return (Some(at), seen || low & before != 0);
            }
            seen |= low != 0;
            block += 1;
            valid = u64::MAX;
        }
        (None, seen)
    }
}

/// A split through a [`DelimiterIndex`], as a [`Search`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexSearch<'i, 't> {
    index: &'i DelimiterIndex<'t>,
    split: Split,
}

impl Search for IndexSearch<'_, '_> {
    #[inline(always)]
    fn find(&self, pos: usize, end: usize) -> (Option<usize>, bool) {
        self.index.find(pos, end, self.split)
    }
}

/// Pieces found through an index: as [`Pieces`](super::scan::Pieces), by level.
pub(crate) type IndexedPieces<'i, 't> = PiecesOf<IndexSearch<'i, 't>>;

impl<'i, 't> DelimiterIndex<'t> {
    /// Pieces of the text from `start` to `end`, split as `split` says (one piece when `None`).
    #[inline]
    pub(crate) fn pieces(
        &'i self,
        start: usize,
        end: usize,
        split: Option<Split>,
    ) -> IndexedPieces<'i, 't> {
        let search = split.map(|split| IndexSearch { index: self, split });
        PiecesOf::with(search, start, end)
    }
}

/// Iterator of [`DelimiterIndex::split`]: (piece, flat).
#[derive(Debug, Clone)]
pub(crate) struct SplitIndexed<'i, 't> {
    text: &'t str,
    /// The piece itself when it is not a slice of the indexed text.
    fallback: Option<&'t str>,
    inner: IndexedPieces<'i, 't>,
}

impl<'t> Iterator for SplitIndexed<'_, 't> {
    type Item = (&'t str, bool);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (start, end, _, flat) = self.inner.next()?;
        let piece = match self.fallback {
            Some(raw) => raw,
            None => self.text.get(start..end).unwrap_or_default(),
        };
        Some((piece, flat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::er7::scan::{find, Pieces};

    /// A text many times the cache, searched in a scattered order: blocks are evicted and
    /// classified again, and every answer still agrees with the byte-wise search.
    #[test]
    fn evicted_blocks_are_classified_again() {
        let alphabet = b"|^~&abcdefgh";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let text: String = (0..SLOTS * BLOCK * 5)
            .map(|_| char::from(alphabet[(next() % alphabet.len() as u64) as usize]))
            .collect();
        let d = Delimiters::default();
        let index = DelimiterIndex::new(&text, &d);
        for _ in 0..5_000 {
            let start = (next() % text.len() as u64) as usize;
            let end = (start + (next() % 300) as usize).min(text.len());
            let lower = [d.repetition, d.component, d.subcomponent.unwrap_or(0)];
            assert_eq!(
                index.find(start, end, Split::Fields),
                find(text.as_bytes(), start, end, d.field, lower, true),
                "{start}..{end}"
            );
        }
    }

    /// Every split of every window of pseudo-random texts agrees with the byte-wise search.
    #[test]
    fn agrees_with_the_byte_search() {
        let alphabet = b"|^~&\\a\r\x00\x7f\xc3";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for round in 0..400 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 300) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| alphabet[((state >> (i % 50)) as usize + i * 13) % alphabet.len()])
                .collect();
            // Any bytes will do for the index; the text is bytes behind a `str` only by type.
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let bytes = text.as_bytes();
            let mut delimiters = Delimiters::default();
            if round % 3 == 0 {
                delimiters.subcomponent = None;
            }
            let d = delimiters;
            let sub = d.subcomponent.unwrap_or(d.component);
            let index = DelimiterIndex::new(&text, &d);
            let levels = [
                (Split::Fields, d.field, [d.repetition, d.component, sub]),
                (Split::Repetitions, d.repetition, [d.component, sub, sub]),
                (Split::Components, d.component, [sub; 3]),
            ];
            for start in (0..=bytes.len()).step_by(7) {
                for end in (start..=bytes.len()).step_by(5) {
                    for (split, sep, lower) in levels {
                        assert_eq!(
                            index.find(start, end, split),
                            find(bytes, start, end, sep, lower, true),
                            "{split:?} {start}..{end} of {text:?}"
                        );
                    }
                    if let Some(sub) = d.subcomponent {
                        let found = index.find(start, end, Split::Subcomponents);
                        assert_eq!(found, find(bytes, start, end, sub, [sub; 3], false));
                    }
                    let split = Pieces::new(bytes, start, end, Some(d.field), Some(levels[0].2));
                    let indexed = index.pieces(start, end, Some(Split::Fields));
                    assert!(split.eq(indexed));
                }
            }
        }
    }
}
