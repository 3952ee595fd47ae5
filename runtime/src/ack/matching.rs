//! The two fields an exchange is matched by (RELIABILITY.md, "Outbound"): MSH-10 of the
//! message sent and MSA-2 of the response, which must be equal. Both are read straight from
//! the text (this runs for every delivery), with the full header reader for anything unusual.

use std::borrow::Cow;

use super::InboundHeader;

/// MSH-10 of a message about to be sent, as ER7 text; empty when it has none.
pub(crate) fn control_id(message: &[u8]) -> Cow<'_, str> {
    let line = message.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(message);
    let fast = line
        .strip_prefix(b"MSH")
        .and_then(|rest| {
            let (&separator, fields) = rest.split_first()?;
            let end = fields
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(fields.len());
            // After "MSH" and MSH-1 (the separator): MSH-2 is the first field, MSH-10 the 9th.
            fields[..end].split(|&b| b == separator).nth(8)
        })
        .and_then(|id| std::str::from_utf8(id).ok());
    match fast {
        Some(id) => Cow::Borrowed(id),
        None => Cow::Owned(
            InboundHeader::sniff(message)
                .map(|h| h.control_id().to_owned())
                .unwrap_or_default(),
        ),
    }
}

/// MSA-1 and MSA-2 of a response, as ER7 text, when it has an MSA segment.
pub(crate) fn acknowledgment(response: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(response).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The field separator is MSH-1, the byte after "MSH".
    let separator = text.strip_prefix("MSH")?.chars().next()?;
    let msa = text.split(['\r', '\n']).find(|line| {
        line.strip_prefix("MSA")
            .is_some_and(|r| r.starts_with(separator))
    })?;
    let mut fields = msa.split(separator).skip(1);
    Some((fields.next().unwrap_or(""), fields.next().unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::{acknowledgment, control_id};

    #[test]
    fn control_id_read_from_the_header_line() {
        let m = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|CTRL-1|P|2.5.1\rPID|1\r";
        assert_eq!(control_id(m), "CTRL-1");
        let bom = b"\xEF\xBB\xBFMSH#^~\\&#A#B#C#D#2024##ADT^A01#X9#P#2.3\n";
        assert_eq!(control_id(bom), "X9");
        assert_eq!(control_id(b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|\r"), "");
        // No MSH at the start: the slow path finds it after the junk.
        assert_eq!(
            control_id(b"junk\rMSH|^~\\&|A|B|C|D|2024||ADT^A01|LATE|P|2.5\r"),
            "LATE"
        );
    }

    #[test]
    fn msa_read_from_its_line() {
        let ack = b"MSH|^~\\&|B|B|A|A|2024||ACK^A01^ACK|9|P|2.5.1\rMSA|AA|CTRL-1|ok\r";
        assert_eq!(acknowledgment(ack), Some(("AA", "CTRL-1")));
        let odd = b"MSH#^~\\&#B#B#A#A#2024##ACK#9#P#2.3\nMSA#CE#X9\n";
        assert_eq!(acknowledgment(odd), Some(("CE", "X9")));
        assert_eq!(
            acknowledgment(b"MSH|^~\\&|B|B|A|A|2024||ADT^A01|9|P|2.5\r"),
            None
        );
        assert_eq!(acknowledgment(b"MSAX|AA|1\r"), None);
    }
}
