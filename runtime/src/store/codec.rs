//! How a message's raw bytes are kept: LZ4-compressed when that makes them smaller, verbatim
//! otherwise, with the choice beside them (the `raw_codec` column, a byte of the ingest log
//! record).
//!
//! HL7 v2 text shrinks to about half with LZ4 (a quarter when segments repeat, as OBX do),
//! and the bytes of the messages are most of what the store writes: each one goes to the
//! ingest log, to SQLite's WAL and, at the checkpoint, to the database file. Fewer bytes there
//! make the applier's and the checkpointer's work smaller and the ingest log's `fdatasync`
//! shorter, which is on the path of every ACK. LZ4 because it costs a microsecond or two per
//! message either way; what the store hands back is always the message as received, byte for
//! byte.

use std::borrow::Cow;

use super::error::{Error, Result};

/// How stored bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Codec {
    /// As received.
    Verbatim,
    /// An LZ4 block after its uncompressed length (`u32`, little-endian).
    Lz4,
}

impl Codec {
    /// The value in the `raw_codec` column and the ingest log.
    pub(super) fn code(self) -> u8 {
        match self {
            Codec::Verbatim => 0,
            Codec::Lz4 => 1,
        }
    }

    /// The codec of a stored value, `None` for a code this build does not know.
    pub(super) fn from_code(code: i64) -> Option<Codec> {
        match code {
            0 => Some(Codec::Verbatim),
            1 => Some(Codec::Lz4),
            _ => None,
        }
    }
}

/// Bytes as the store keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Packed<'a> {
    pub(super) codec: Codec,
    pub(super) bytes: Cow<'a, [u8]>,
}

/// Messages shorter than this are kept verbatim: they would save less than a few bytes.
const MIN_COMPRESSED: usize = 64;

/// `raw` as the store keeps it: compressed if that is smaller.
pub(super) fn pack(raw: &[u8]) -> Packed<'_> {
    if raw.len() >= MIN_COMPRESSED {
        let compressed = lz4_flex::block::compress_prepend_size(raw);
        if compressed.len() < raw.len() {
            return Packed {
                codec: Codec::Lz4,
                bytes: Cow::Owned(compressed),
            };
        }
    }
    Packed {
        codec: Codec::Verbatim,
        bytes: Cow::Borrowed(raw),
    }
}

/// The message `messages.raw` holds, its codec being `code`.
pub(super) fn unpack(code: i64, stored: Vec<u8>) -> Result<Vec<u8>> {
    decode(code, stored).map_err(|detail| Error::Corrupt {
        column: "messages.raw",
        detail,
    })
}

/// The bytes a stored value stands for; `Err` says what is wrong with a value this store
/// cannot have written (an unknown codec, a block that does not decode).
fn decode(code: i64, stored: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    match Codec::from_code(code) {
        Some(Codec::Verbatim) => Ok(stored),
        Some(Codec::Lz4) => {
            let (size, block) = stored
                .split_first_chunk::<4>()
                .ok_or("an LZ4 value shorter than its length prefix")?;
            let size = u32::from_le_bytes(*size) as usize;
            // LZ4 expands at most 255-fold: a larger length is damage, and allocating it
            // could take the engine's memory.
            if size > block.len().saturating_mul(255) {
                return Err(format!(
                    "an LZ4 value of {} bytes claims {size} bytes decoded",
                    block.len()
                ));
            }
            lz4_flex::block::decompress(block, size).map_err(|e| format!("LZ4: {e}"))
        }
        None => Err(format!("unknown raw_codec {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADT: &[u8] = b"MSH|^~\\&|ADT|HOSP|LAB|HOSP|20240501120000||ADT^A01^ADT_A01|MSG00001|P|2.5.1\r\
EVN|A01|20240501120000\rPID|1||12345^^^HOSP^MR||DOE^JOHN^Q||19800101|M|||1 MAIN ST^^TOWN^ST^12345\r\
PV1|1|I|WARD^101^A^HOSP||||1234^SMITH^JANE^^^DR|||MED||||ADM|||1234^SMITH^JANE^^^DR|IN||||||||||||||||||||||||20240501120000\r";

    #[test]
    fn a_message_comes_back_byte_for_byte_and_smaller() {
        let packed = pack(ADT);
        assert_eq!(packed.codec, Codec::Lz4);
        assert!(packed.bytes.len() < ADT.len());
        let back = decode(i64::from(packed.codec.code()), packed.bytes.into_owned());
        assert_eq!(back.as_deref(), Ok(ADT));
    }

    #[test]
    fn short_or_incompressible_bytes_stay_verbatim() {
        let short = b"MSH|^~\\&|A|B\r";
        assert_eq!(pack(short).codec, Codec::Verbatim);
        // Every byte value once: nothing for LZ4 to find.
        let noise: Vec<u8> = (0..=255u8).collect();
        let packed = pack(&noise);
        assert_eq!(packed.codec, Codec::Verbatim);
        assert_eq!(packed.bytes, Cow::Borrowed(&noise[..]));
        assert_eq!(decode(0, noise.clone()), Ok(noise));
        assert!(matches!(
            unpack(7, vec![]),
            Err(Error::Corrupt {
                column: "messages.raw",
                ..
            })
        ));
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let mut packed = pack(ADT).bytes.into_owned();
        assert!(decode(2, packed.clone())
            .unwrap_err()
            .contains("unknown raw_codec 2"));
        assert!(decode(1, vec![1, 0])
            .unwrap_err()
            .contains("shorter than its length"));
        packed[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(1, packed.clone())
            .unwrap_err()
            .contains("claims 4294967295"));
        packed[..4].copy_from_slice(&(ADT.len() as u32).to_le_bytes());
        packed.truncate(packed.len() - 8);
        assert!(decode(1, packed).unwrap_err().starts_with("LZ4: "));
    }
}
