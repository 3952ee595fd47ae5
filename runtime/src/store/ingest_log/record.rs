//! One record of the ingest log: the new messages of one group commit, each with the ids it
//! was given, its metadata, raw bytes, disposition and queue items.
//!
//! A record is a header and a body. The header holds a magic number, the record's sequence
//! number, the body's length and a CRC-32 of all three and the body, so a torn write (a crash
//! in the middle of `write`) or the older content of a recycled segment is never read as a
//! record. The body is length-prefixed little-endian fields, read back without copying.
//!
//! The magic number names the body's format. This build writes [`Format::Packed`] and reads
//! both, so records a previous version left unapplied are applied after an upgrade.

use crate::ack::{PayloadHash, Timestamp};
use crate::store::codec::{self, Codec};
use crate::store::{Accept, Disposition};

/// The format of a record's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Format {
    /// `H7IL`: raw bytes verbatim.
    Verbatim,
    /// `H7I2`: raw bytes as the store keeps them ([`codec::pack`]), after their codec.
    Packed,
}

impl Format {
    const fn magic(self) -> u32 {
        match self {
            Format::Verbatim => u32::from_le_bytes(*b"H7IL"),
            Format::Packed => u32::from_le_bytes(*b"H7I2"),
        }
    }

    fn of_magic(magic: u32) -> Option<Format> {
        [Format::Verbatim, Format::Packed]
            .into_iter()
            .find(|f| f.magic() == magic)
    }
}

/// Magic, sequence number, body length, CRC.
pub(in crate::store) const HEADER_LEN: usize = 4 + 8 + 4 + 4;

/// A record being written: the header's room first, then the body.
pub(in crate::store) struct RecordBuf {
    bytes: Vec<u8>,
    messages: u32,
}

/// The ids a new message and its queue items were given.
pub(in crate::store) struct Assigned<'a> {
    pub(in crate::store) message: u64,
    /// One id per delivery, then the application ACK's when there is one.
    pub(in crate::store) items: &'a [u64],
}

impl RecordBuf {
    /// A record of messages queued at `now` (the queue items' creation time).
    pub(in crate::store) fn new(now: Timestamp) -> RecordBuf {
        let mut bytes = Vec::with_capacity(64 * 1024);
        bytes.resize(HEADER_LEN + 4, 0);
        put_u64(&mut bytes, now.unix_millis());
        RecordBuf { bytes, messages: 0 }
    }

    /// No message was added.
    pub(in crate::store) fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// Appends one new message. A delivery whose payload is the raw bytes is written empty,
    /// which stands for them (as in the queue table).
    pub(in crate::store) fn push(&mut self, one: &Accept<'_>, ids: &Assigned<'_>) {
        let m = one.inbound;
        let key = &m.fingerprint.key;
        let b = &mut self.bytes;
        put_u64(b, ids.message);
        put_u64(b, m.received_at.unix_millis());
        put_bytes(b, m.channel.as_bytes());
        put_bytes(b, m.msg_type.as_bytes());
        put_opt(b, m.patient_id.as_deref().map(str::as_bytes));
        put_bytes(b, key.sending_application.as_bytes());
        put_bytes(b, key.sending_facility.as_bytes());
        put_bytes(b, key.control_id.as_bytes());
        b.extend_from_slice(m.fingerprint.hash.as_bytes());
        let packed = codec::pack(&m.raw);
        b.push(packed.codec.code());
        put_bytes(b, &packed.bytes);
        let deliveries: &[_] = match one.disposition {
            Disposition::Route(deliveries) => {
                b.push(DISPOSITION_ROUTE);
                deliveries
            }
            Disposition::Error(reason) => {
                b.push(DISPOSITION_ERROR);
                put_bytes(b, reason.as_bytes());
                &[]
            }
            Disposition::Later => {
                b.push(DISPOSITION_LATER);
                &[]
            }
        };
        put_opt(b, one.ack);
        let all = deliveries.iter().chain(one.application_ack.as_ref());
        put_u32(
            b,
            len_u32(deliveries.len() + usize::from(one.application_ack.is_some())),
        );
        for (delivery, id) in all.zip(ids.items) {
            put_u64(b, *id);
            put_bytes(b, delivery.destination.as_bytes());
            put_bytes(b, stored_payload(delivery.payload, &m.raw));
        }
        self.messages += 1;
    }

    /// The finished record, header filled in, ready to be written as one piece.
    pub(in crate::store) fn seal(mut self, seq: u64) -> Vec<u8> {
        self.bytes[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&self.messages.to_le_bytes());
        write_header(&mut self.bytes, seq);
        self.bytes
    }
}

/// An item's payload as the store keeps it: a pass-through copy of the message's raw bytes is
/// not written again, an empty payload stands for them (fan-out to three systems stores the
/// message once).
pub(in crate::store) fn stored_payload<'a>(payload: &'a [u8], raw: &[u8]) -> &'a [u8] {
    match payload == raw {
        true => &[],
        false => payload,
    }
}

/// Fills in the header of `record` (its first [`HEADER_LEN`] bytes; the body follows) for
/// record `seq`: magic, sequence number, body length and the CRC of those and the body.
pub(super) fn write_header(record: &mut [u8], seq: u64) {
    let body_len = len_u32(record.len() - HEADER_LEN);
    record[0..4].copy_from_slice(&Format::Packed.magic().to_le_bytes());
    record[4..12].copy_from_slice(&seq.to_le_bytes());
    record[12..16].copy_from_slice(&body_len.to_le_bytes());
    let crc = crc(&record[4..16], &record[HEADER_LEN..]);
    record[16..20].copy_from_slice(&crc.to_le_bytes());
}

const DISPOSITION_ROUTE: u8 = 0;
const DISPOSITION_ERROR: u8 = 1;
const DISPOSITION_LATER: u8 = 2;

fn crc(header: &[u8], body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header);
    hasher.update(body);
    hasher.finalize()
}

/// A length for the format's `u32` fields. A record holds at most one group commit of
/// messages within the listener's frame limit (64 MiB at most), far below 4 GiB.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).expect("an ingest log field under 4 GiB")
}

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(b: &mut Vec<u8>, v: &[u8]) {
    put_u32(b, len_u32(v.len()));
    b.extend_from_slice(v);
}

fn put_opt(b: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => b.push(0),
        Some(v) => {
            b.push(1);
            put_bytes(b, v);
        }
    }
}

/// What a record header says, once its CRC matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) seq: u64,
    pub(super) body_len: usize,
    pub(super) format: Format,
}

/// The header at the start of `bytes`, if it is one: magic right and the length fitting.
/// The CRC is checked by [`check`] once the body is read.
pub(super) fn header(bytes: &[u8]) -> Option<(Header, u32)> {
    let field = |at: usize, len: usize| bytes.get(at..at + len);
    let format = Format::of_magic(u32::from_le_bytes(field(0, 4)?.try_into().ok()?))?;
    let seq = u64::from_le_bytes(field(4, 8)?.try_into().ok()?);
    let body_len = u32::from_le_bytes(field(12, 4)?.try_into().ok()?);
    let crc = u32::from_le_bytes(field(16, 4)?.try_into().ok()?);
    let body_len = usize::try_from(body_len).ok()?;
    Some((
        Header {
            seq,
            body_len,
            format,
        },
        crc,
    ))
}

/// Whether `body` is the one the header at the start of `head` was written with.
pub(super) fn check(head: &[u8], body: &[u8], expected: u32) -> bool {
    head.len() >= HEADER_LEN && crc(&head[4..16], body) == expected
}

/// A message read back from a record body, borrowing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::store) struct Logged<'a> {
    pub(in crate::store) id: u64,
    pub(in crate::store) received_at: Timestamp,
    pub(in crate::store) channel: &'a str,
    pub(in crate::store) msg_type: &'a str,
    pub(in crate::store) patient_id: Option<&'a str>,
    pub(in crate::store) sending_application: &'a str,
    pub(in crate::store) sending_facility: &'a str,
    pub(in crate::store) control_id: &'a str,
    pub(in crate::store) hash: PayloadHash,
    /// The raw bytes as the store keeps them, encoded with `raw_codec`.
    pub(in crate::store) raw: &'a [u8],
    pub(in crate::store) raw_codec: Codec,
    pub(in crate::store) disposition: LoggedDisposition<'a>,
    pub(in crate::store) ack: Option<&'a [u8]>,
    /// Every queue item (deliveries, then the application ACK): id, destination, payload
    /// (empty for the raw bytes).
    pub(in crate::store) items: Vec<(u64, &'a str, &'a [u8])>,
}

/// A logged message's disposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum LoggedDisposition<'a> {
    Route,
    Error(&'a str),
    Later,
}

/// The time a record's items were queued, and its messages; `Err` with what is wrong when the
/// body (whose CRC matched) does not have this format's shape, which only a bug or another
/// program's file can cause.
pub(in crate::store) fn messages(
    format: Format,
    body: &[u8],
) -> Result<(Timestamp, Vec<Logged<'_>>), &'static str> {
    let mut r = Reader { rest: body };
    let count = r.u32()?;
    let now = Timestamp::from_unix_millis(r.u64()?);
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(4096));
    for _ in 0..count {
        let id = r.u64()?;
        let received_at = Timestamp::from_unix_millis(r.u64()?);
        let channel = r.str()?;
        let msg_type = r.str()?;
        let patient_id = match r.flag()? {
            false => None,
            true => Some(r.str()?),
        };
        let sending_application = r.str()?;
        let sending_facility = r.str()?;
        let control_id = r.str()?;
        let hash: [u8; 32] = r.take(32)?.try_into().map_err(|_| "hash")?;
        let raw_codec = match format {
            Format::Verbatim => Codec::Verbatim,
            Format::Packed => Codec::from_code(i64::from(r.byte()?)).ok_or("unknown raw codec")?,
        };
        let raw = r.bytes()?;
        let disposition = match r.byte()? {
            DISPOSITION_ROUTE => LoggedDisposition::Route,
            DISPOSITION_ERROR => LoggedDisposition::Error(r.str()?),
            DISPOSITION_LATER => LoggedDisposition::Later,
            _ => return Err("unknown disposition"),
        };
        let ack = match r.flag()? {
            false => None,
            true => Some(r.bytes()?),
        };
        let n = r.u32()?;
        let mut items = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(64));
        for _ in 0..n {
            items.push((r.u64()?, r.str()?, r.bytes()?));
        }
        out.push(Logged {
            id,
            received_at,
            channel,
            msg_type,
            patient_id,
            sending_application,
            sending_facility,
            control_id,
            hash: PayloadHash::from_bytes(hash),
            raw,
            raw_codec,
            disposition,
            ack,
            items,
        });
    }
    if !r.rest.is_empty() {
        return Err("bytes after the last message");
    }
    Ok((now, out))
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.rest.len() < n {
            return Err("truncated field");
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    fn flag(&mut self) -> Result<bool, &'static str> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err("bad flag"),
        }
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| "u32")?,
        ))
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "u64")?,
        ))
    }

    fn bytes(&mut self) -> Result<&'a [u8], &'static str> {
        let len = usize::try_from(self.u32()?).map_err(|_| "length")?;
        self.take(len)
    }

    fn str(&mut self) -> Result<&'a str, &'static str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| "text that is not UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::{DedupeKey, Fingerprint};
    use crate::store::{Delivery, InboundMessage};

    fn inbound(raw: &[u8], patient: Option<&str>) -> InboundMessage {
        InboundMessage {
            raw: raw.to_vec(),
            channel: "in".to_owned(),
            received_at: Timestamp::from_unix_millis(1_764_000_000_123),
            msg_type: "ADT^A01".to_owned(),
            patient_id: patient.map(str::to_owned),
            fingerprint: Fingerprint {
                key: DedupeKey {
                    sending_application: "APP".to_owned(),
                    sending_facility: "FAC".to_owned(),
                    control_id: "C1".to_owned(),
                },
                hash: PayloadHash::of(raw),
            },
        }
    }

    /// A record of `m` alone, left for routing, sealed for `seq`.
    fn sealed_unrouted(m: &InboundMessage, seq: u64) -> Vec<u8> {
        let mut buf = RecordBuf::new(Timestamp::from_unix_millis(5));
        buf.push(
            &Accept {
                inbound: m,
                disposition: Disposition::Later,
                ack: None,
                application_ack: None,
            },
            &Assigned {
                message: 1,
                items: &[],
            },
        );
        buf.seal(seq)
    }

    #[test]
    fn a_sealed_record_reads_back_field_for_field() {
        let routed = inbound(b"MSH|^~\\&|APP|FAC\rPID|1\r", Some("881234"));
        let errored = inbound(b"MSH|^~\\&|APP|FAC\rPID|2\r", None);
        let deliveries = [
            Delivery {
                destination: "ehr",
                payload: &routed.raw,
            },
            Delivery {
                destination: "billing",
                payload: b"MSH|mapped\r",
            },
        ];
        let queued_at = Timestamp::from_unix_millis(1_764_000_000_456);
        let mut buf = RecordBuf::new(queued_at);
        assert!(buf.is_empty());
        buf.push(
            &Accept {
                inbound: &routed,
                disposition: Disposition::Route(&deliveries),
                ack: Some(b"MSH|ack\r"),
                application_ack: Some(Delivery {
                    destination: "acks",
                    payload: b"MSH|app ack\r",
                }),
            },
            &Assigned {
                message: 7,
                items: &[10, 11, 12],
            },
        );
        buf.push(
            &Accept {
                inbound: &errored,
                disposition: Disposition::Error("PID-3 missing"),
                ack: None,
                application_ack: None,
            },
            &Assigned {
                message: 8,
                items: &[],
            },
        );
        let record = buf.seal(42);
        let (head, crc) = header(&record).expect("a header");
        assert_eq!(head.seq, 42);
        assert_eq!(head.body_len, record.len() - HEADER_LEN);
        let body = &record[HEADER_LEN..];
        assert!(check(&record, body, crc));
        assert_eq!(head.format, Format::Packed);
        let (now, read) = messages(head.format, body).expect("the body's messages");
        assert_eq!(now, queued_at);
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].id, 7);
        assert_eq!(read[0].received_at, routed.received_at);
        assert_eq!(read[0].patient_id, Some("881234"));
        assert_eq!(read[0].raw, routed.raw.as_slice());
        assert_eq!(read[0].raw_codec, Codec::Verbatim, "too short to compress");
        assert_eq!(read[0].hash, routed.fingerprint.hash);
        assert_eq!(read[0].disposition, LoggedDisposition::Route);
        assert_eq!(read[0].ack, Some(&b"MSH|ack\r"[..]));
        // The pass-through copy is written empty: it stands for the raw bytes.
        assert_eq!(
            read[0].items,
            vec![
                (10, "ehr", &b""[..]),
                (11, "billing", &b"MSH|mapped\r"[..]),
                (12, "acks", &b"MSH|app ack\r"[..]),
            ]
        );
        assert_eq!(read[1].id, 8);
        assert_eq!(read[1].patient_id, None);
        assert_eq!(
            read[1].disposition,
            LoggedDisposition::Error("PID-3 missing")
        );
        assert!(read[1].items.is_empty());
    }

    #[test]
    fn a_long_message_is_logged_compressed() {
        let obx: String = (1..=20)
            .map(|i| {
                format!(
                    "OBX|{i}|NM|2345-7^GLUCOSE^LN||{}|mg/dL|70-99|N|||F\r",
                    80 + i
                )
            })
            .collect();
        let m = inbound(format!("MSH|^~\\&|APP|FAC\r{obx}").as_bytes(), None);
        let record = sealed_unrouted(&m, 1);
        let (_, read) = messages(Format::Packed, &record[HEADER_LEN..]).expect("messages");
        assert_eq!(read[0].raw_codec, Codec::Lz4);
        assert!(read[0].raw.len() * 2 < m.raw.len());
        let back = codec::unpack(i64::from(read[0].raw_codec.code()), read[0].raw.to_vec());
        assert_eq!(back.expect("decoded"), m.raw);
    }

    #[test]
    fn a_record_of_the_verbatim_format_still_reads() {
        // As the builds before `H7I2` wrote it: no codec byte before the raw bytes.
        let raw = b"MSH|^~\\&|APP|FAC\rPID|1\r";
        let mut b = Vec::new();
        put_u32(&mut b, 1);
        put_u64(&mut b, 5);
        put_u64(&mut b, 9);
        put_u64(&mut b, 6);
        for field in ["in", "ADT^A01"] {
            put_bytes(&mut b, field.as_bytes());
        }
        put_opt(&mut b, Some(b"881234"));
        for field in ["APP", "FAC", "C1"] {
            put_bytes(&mut b, field.as_bytes());
        }
        b.extend_from_slice(PayloadHash::of(raw).as_bytes());
        put_bytes(&mut b, raw);
        b.push(DISPOSITION_ROUTE);
        put_opt(&mut b, None);
        put_u32(&mut b, 1);
        put_u64(&mut b, 10);
        put_bytes(&mut b, b"ehr");
        put_bytes(&mut b, b"");
        let mut record = vec![0; HEADER_LEN];
        record.extend_from_slice(&b);
        write_header(&mut record, 3);
        // The CRC does not cover the magic number.
        record[0..4].copy_from_slice(b"H7IL");

        let (head, crc) = header(&record).expect("an H7IL header");
        assert_eq!(head.format, Format::Verbatim);
        assert!(check(&record, &record[HEADER_LEN..], crc));
        let (now, read) = messages(head.format, &record[HEADER_LEN..]).expect("messages");
        assert_eq!(now, Timestamp::from_unix_millis(5));
        assert_eq!(read[0].id, 9);
        assert_eq!(
            (read[0].raw, read[0].raw_codec),
            (&raw[..], Codec::Verbatim)
        );
        assert_eq!(read[0].items, vec![(10, "ehr", &b""[..])]);
        // Read as the new format, the same body is refused rather than misread.
        assert!(messages(Format::Packed, &record[HEADER_LEN..]).is_err());
    }

    #[test]
    fn any_changed_byte_fails_the_crc() {
        let m = inbound(b"MSH|^~\\&|APP|FAC\r", None);
        let record = sealed_unrouted(&m, 3);
        for at in 0..record.len() {
            let mut torn = record.clone();
            torn[at] ^= 0x20;
            let ok = header(&torn).is_some_and(|(h, crc)| {
                torn.len() >= HEADER_LEN + h.body_len
                    && check(&torn, &torn[HEADER_LEN..HEADER_LEN + h.body_len], crc)
            });
            assert!(!ok, "a flipped byte at {at} went unnoticed");
        }
    }
}
