//! An inbound message as routes see it: the raw bytes, the generic view and the header.

use std::borrow::Cow;

use crate::ack::InboundHeader;
use crate::er7::Message;

/// One inbound message, parsed once by the engine and handed to every route.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub(crate) channel: &'a str,
    pub(crate) raw: &'a [u8],
    pub(crate) message: &'a Message<'a>,
    pub(crate) header: &'a InboundHeader,
}

impl<'a> Inbound<'a> {
    /// Bundles what the engine read of one message (also for testing routes).
    pub fn new(
        channel: &'a str,
        raw: &'a [u8],
        message: &'a Message<'a>,
        header: &'a InboundHeader,
    ) -> Inbound<'a> {
        Inbound {
            channel,
            raw,
            message,
            header,
        }
    }

    /// The channel it arrived on.
    pub fn channel(&self) -> &'a str {
        self.channel
    }

    /// The bytes as received (MLLP framing removed).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The zero-copy generic view, for any field: `inbound.message().get("PID-3[1].1")`.
    pub fn message(&self) -> &'a Message<'a> {
        self.message
    }

    /// The header fields (MSH-3/4/9/10/12, ACK mode).
    pub fn header(&self) -> &'a InboundHeader {
        self.header
    }

    /// MSH-9.1, e.g. `ADT`.
    pub fn message_type(&self) -> &'a str {
        self.header.message_type()
    }

    /// MSH-9.2, e.g. `A01`.
    pub fn event(&self) -> &'a str {
        self.header.event()
    }

    /// True when MSH-9 is `kind^event`; `event` `"*"` matches any event.
    pub fn is(&self, kind: &str, event: &str) -> bool {
        self.message_type() == kind && (event == "*" || self.event() == event)
    }

    /// MSH-4.1, the sending facility's namespace id, decoded.
    pub fn sending_facility(&self) -> Cow<'a, str> {
        self.value("MSH-4.1").unwrap_or_default()
    }

    /// MSH-3.1, the sending application's namespace id, decoded.
    pub fn sending_application(&self) -> Cow<'a, str> {
        self.value("MSH-3.1").unwrap_or_default()
    }

    /// The decoded value at an HL7 path (`PID-3[1].1`, `OBR[2]-4`), `None` when the path is
    /// not valued or not a valid path.
    pub fn value(&self, path: &str) -> Option<Cow<'a, str>> {
        self.message
            .get(path)
            .ok()
            .flatten()
            .filter(|item| !item.is_empty())
            .map(|item| item.decoded())
    }
}
