//! Duplicate detection: MLLP is at-least-once, so the receiver dedupes.
//!
//! The key is (MSH-3, MSH-4, MSH-10), and a hash of the payload tells a verbatim resend from a
//! reused control ID (RELIABILITY.md, "Acknowledgment and control IDs"):
//!
//! | previously stored | verdict | the engine |
//! |---|---|---|
//! | nothing with this key | [`Duplicate::New`] | processes it |
//! | same key, same hash | [`Duplicate::Verbatim`] | re-sends the stored ACK, does not route again |
//! | same key, another hash | [`Duplicate::ControlIdReuse`] | processes it **and** raises an alert |
//!
//! Never drop on MSH-10 alone: real senders reuse control IDs.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::er7::Message;

/// The duplicate key of a message: MSH-3, MSH-4 and MSH-10, as written (ER7 text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupeKey {
    /// MSH-3, sending application.
    pub sending_application: String,
    /// MSH-4, sending facility.
    pub sending_facility: String,
    /// MSH-10, message control ID.
    pub control_id: String,
}

impl DedupeKey {
    /// The key of a parsed message.
    pub fn of(message: &Message<'_>) -> DedupeKey {
        let msh = message.msh();
        let raw = |n: usize| msh.field(n).map(|f| f.raw().to_owned()).unwrap_or_default();
        DedupeKey {
            sending_application: raw(3),
            sending_facility: raw(4),
            control_id: raw(10),
        }
    }

    /// False when MSH-10 is empty: such a message cannot be told from another, so it is never
    /// a duplicate.
    pub fn is_usable(&self) -> bool {
        !self.control_id.is_empty()
    }
}

/// SHA-256 of a message's bytes with segment terminators normalised (see
/// [`PayloadHash::of`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadHash([u8; 32]);

impl PayloadHash {
    /// The hash of `raw`, the bytes as received (MLLP framing removed), read as segments: a
    /// leading UTF-8 BOM is dropped, every run of CR and LF counts as one segment terminator,
    /// and the last segment counts as terminated. So `\r`, `\n`, `\r\n`, empty lines and a
    /// missing final terminator do not change the hash; any other byte does.
    pub fn of(raw: &[u8]) -> PayloadHash {
        let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        let mut hasher = Sha256::new();
        for segment in raw
            .split(|&b| b == b'\r' || b == b'\n')
            .filter(|s| !s.is_empty())
        {
            hasher.update(segment);
            hasher.update(b"\r");
        }
        PayloadHash(hasher.finalize().into())
    }

    /// A hash read back from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> PayloadHash {
        PayloadHash(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Lower-case hex, as RELIABILITY.md's checker logs it.
impl fmt::Display for PayloadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for PayloadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayloadHash({self})")
    }
}

/// What a store keeps per inbound message to recognise its resends: key and payload hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// (MSH-3, MSH-4, MSH-10).
    pub key: DedupeKey,
    /// Hash of the raw bytes.
    pub hash: PayloadHash,
}

/// The verdict on an inbound message against what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duplicate {
    /// Nothing stored has this key (or the key has no MSH-10): process it.
    New,
    /// A stored message has this key and these very bytes: re-send its stored ACK, do not
    /// route it again.
    Verbatim,
    /// Stored messages have this key but other bytes: process it and raise a "control-ID
    /// reuse" alert.
    ControlIdReuse,
}

impl Fingerprint {
    /// The fingerprint of a message parsed from `raw`.
    pub fn of(message: &Message<'_>, raw: &[u8]) -> Fingerprint {
        Fingerprint {
            key: DedupeKey::of(message),
            hash: PayloadHash::of(raw),
        }
    }

    /// The verdict against the fingerprints stored before (those the store found for this
    /// key; others are ignored): [`Duplicate::Verbatim`] when one has the same key and hash,
    /// else [`Duplicate::ControlIdReuse`] when one has the same key, else [`Duplicate::New`].
    pub fn check<'p>(&self, previous: impl IntoIterator<Item = &'p Fingerprint>) -> Duplicate {
        if !self.key.is_usable() {
            return Duplicate::New;
        }
        let mut verdict = Duplicate::New;
        for stored in previous {
            if stored.key != self.key {
                continue;
            }
            if stored.hash == self.hash {
                return Duplicate::Verbatim;
            }
            verdict = Duplicate::ControlIdReuse;
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_terminator_style_only() {
        let cr = PayloadHash::of(b"MSH|^~\\&|A\rPID|1\r");
        assert_eq!(cr, PayloadHash::of(b"MSH|^~\\&|A\r\nPID|1\r\n"));
        assert_eq!(cr, PayloadHash::of(b"MSH|^~\\&|A\nPID|1"));
        assert_eq!(
            cr,
            PayloadHash::of(b"\xEF\xBB\xBFMSH|^~\\&|A\r\r\nPID|1\n\n")
        );
        assert_ne!(cr, PayloadHash::of(b"MSH|^~\\&|A\rPID|2\r"));
        assert_ne!(cr, PayloadHash::of(b"MSH|^~\\&|A\rPID|1 \r"));
        assert_eq!(PayloadHash::from_bytes(*cr.as_bytes()), cr);
        assert_eq!(cr.to_string().len(), 64);
        assert!(format!("{cr:?}").starts_with("PayloadHash("));
    }
}
