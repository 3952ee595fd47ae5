//! The few header fields an ACK needs, from a parsed message or, best effort, from raw bytes.

use memchr::memmem;

use crate::er7::{Delimiters, Field, Message, Segment, Writer};

use super::mode::Mode;

/// How many `MSH` candidates [`InboundHeader::sniff`] tries before giving up.
const MAX_CANDIDATES: usize = 16;

/// The header fields of an inbound message that its ACK echoes, as ER7 text in
/// [`InboundHeader::delimiters`].
///
/// These are the inbound delimiters, except when the inbound field separator is a letter or a
/// digit: then segment ids like `MSA` would not read back, so the ACK uses `|^~\&` and the
/// fields are re-encoded for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundHeader {
    delimiters: Delimiters,
    /// MSH-3, MSH-4, MSH-5, MSH-6 as ER7 text.
    parties: [String; 4],
    /// MSH-9.1 and MSH-9.2 as ER7 text.
    message_type: String,
    event: String,
    /// MSH-10 as ER7 text.
    control_id: String,
    /// MSH-11 and MSH-12 as ER7 text.
    processing_id: String,
    version: String,
    mode: Mode,
    /// The 1-based index of the MSH segment in the text it was found in.
    segment_index: usize,
}

impl InboundHeader {
    /// The header of a parsed message.
    pub fn of(message: &Message<'_>) -> InboundHeader {
        InboundHeader::from_msh(message.msh(), Mode::of(message), 1)
    }

    /// Best effort for bytes that may not parse as a message: finds the first line that reads
    /// as an `MSH` segment (junk before it is skipped; invalid UTF-8 is replaced) and reads
    /// that. `None` when there is none. Never panics.
    pub fn sniff(raw: &[u8]) -> Option<InboundHeader> {
        let text = String::from_utf8_lossy(raw);
        let bytes = text.as_bytes();
        for at in memmem::find_iter(bytes, b"MSH").take(MAX_CANDIDATES) {
            let end = bytes[at..]
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .map_or(bytes.len(), |n| at + n);
            let Some(line) = text.get(at..end) else {
                continue;
            };
            if let Ok(message) = Message::parse(line) {
                let index = crate::ack::builder::line_index(&text, at);
                return Some(InboundHeader::from_msh(
                    message.msh(),
                    Mode::of(&message),
                    index,
                ));
            }
        }
        None
    }

    fn from_msh(msh: Segment<'_>, mode: Mode, segment_index: usize) -> InboundHeader {
        let inbound = msh.delimiters();
        let delimiters = if inbound.field.is_ascii_alphanumeric() {
            Delimiters::DEFAULT
        } else {
            inbound
        };
        let same = delimiters == inbound;
        let field = |n: usize| copy_field(msh.field(n), delimiters, same);
        let component = |n: usize| {
            msh.field(9)
                .and_then(|f| f.repetition(1))
                .and_then(|r| r.component(n))
                .map(|c| {
                    if same {
                        c.raw().to_owned()
                    } else {
                        encode_with(delimiters, |w| {
                            for (i, sub) in c.subcomponents().enumerate() {
                                if i > 0 {
                                    w.subcomponent_separator();
                                }
                                w.text(&sub.decoded());
                            }
                        })
                    }
                })
                .unwrap_or_default()
        };
        InboundHeader {
            delimiters,
            parties: [field(3), field(4), field(5), field(6)],
            message_type: component(1),
            event: component(2),
            control_id: field(10),
            processing_id: field(11),
            version: field(12),
            mode,
            segment_index,
        }
    }

    /// The delimiters of the ACK, and of the ER7 text of the fields.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// MSH-3, sending application, as ER7 text.
    pub fn sending_application(&self) -> &str {
        &self.parties[0]
    }

    /// MSH-4, sending facility, as ER7 text.
    pub fn sending_facility(&self) -> &str {
        &self.parties[1]
    }

    /// MSH-5, receiving application, as ER7 text.
    pub fn receiving_application(&self) -> &str {
        &self.parties[2]
    }

    /// MSH-6, receiving facility, as ER7 text.
    pub fn receiving_facility(&self) -> &str {
        &self.parties[3]
    }

    /// MSH-9.1, the message type, as ER7 text.
    pub fn message_type(&self) -> &str {
        &self.message_type
    }

    /// MSH-9.2, the trigger event, as ER7 text.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// MSH-10, the message control ID, as ER7 text.
    pub fn control_id(&self) -> &str {
        &self.control_id
    }

    /// MSH-11, the processing ID, as ER7 text.
    pub fn processing_id(&self) -> &str {
        &self.processing_id
    }

    /// MSH-12, the version ID, as ER7 text.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The acknowledgment mode MSH-15/16 ask for.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// 1-based position of the MSH segment among the lines it was read from (1 for a parsed
    /// message).
    pub(crate) fn segment_index(&self) -> usize {
        self.segment_index
    }
}

fn encode_with(delimiters: Delimiters, write: impl FnOnce(&mut Writer)) -> String {
    let mut w = Writer::new(delimiters);
    write(&mut w);
    w.finish()
}

/// A field as ER7 text in `delimiters`: its raw text when they are the field's own (`same`),
/// else re-encoded piece by piece.
fn copy_field(field: Option<Field<'_>>, delimiters: Delimiters, same: bool) -> String {
    let Some(field) = field else {
        return String::new();
    };
    if same {
        return field.raw().to_owned();
    }
    encode_with(delimiters, |w| {
        for (r, rep) in field.repetitions().enumerate() {
            if r > 0 {
                w.repetition_separator();
            }
            for (c, comp) in rep.components().enumerate() {
                if c > 0 {
                    w.component_separator();
                }
                for (s, sub) in comp.subcomponents().enumerate() {
                    if s > 0 {
                        w.subcomponent_separator();
                    }
                    w.text(&sub.decoded());
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_past_junk_and_broken_bodies() {
        let raw = b"\x0bjunk\rMSH|^~\\&|A|B|C|D|||ADT^A01|X1|P|2.5|||NE|AL\rPID|1\r12\xff\r";
        let header = InboundHeader::sniff(raw).expect("an MSH is there");
        assert_eq!(header.control_id(), "X1");
        assert_eq!(header.sending_application(), "A");
        assert_eq!(header.event(), "A01");
        assert_eq!(header.segment_index(), 2);
        assert!(header.mode().is_enhanced());
        assert_eq!(InboundHeader::sniff(b"PID|1\rMSH|\r"), None);
        assert_eq!(InboundHeader::sniff(b""), None);
    }

    #[test]
    fn letter_field_separator_falls_back_to_default_delimiters() {
        let msg = Message::parse("MSHQ^~\\&Qapp^ns|xQfacQQQQQADT^A01Q1|2QPQ2.5\r").expect("parses");
        let header = InboundHeader::of(&msg);
        assert_eq!(header.delimiters(), Delimiters::DEFAULT);
        assert_eq!(header.sending_application(), "app^ns\\F\\x");
        assert_eq!(header.control_id(), "1\\F\\2");
        assert_eq!(header.event(), "A01");
    }
}
