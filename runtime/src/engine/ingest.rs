//! The listener side of the engine: read, route, store, then acknowledge.
//!
//! For each message: decode and parse it (generic view), run the routes (typed parse,
//! validation, mappings: CPU only), hand message and outputs to the group committer, and only
//! when the commit returned build the ACK from [`decide`] and the store's receipt. A verbatim
//! resend gets its stored ACK; a message that does not parse is stored in the error state
//! and answered `AE`/`CE` with its location.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tracing::{debug, info, warn};

use super::committer::{Committer, Plan};
use super::inbound::Inbound;
use super::route::{route_all, Output, RouteError};
use super::shared::Shared;
use super::stats::{ChannelStats, Event};
use super::Channel;
use crate::ack::{
    decide, deferred_when_stored, expected_when_stored, AckAfter, AckBuilder, AckCode, ControlIds,
    DedupeKey, Fingerprint, InboundHeader, Mode, Outcome, PayloadHash, Processed,
};
use crate::er7::{self, Message};
use crate::mllp::Commit;
use crate::store::{Accepted, InboundMessage};
use crate::transport::{Handler, PeerInfo, Reply};
use crate::validate::Problem;

/// How a channel answers.
#[derive(Debug, Clone)]
pub(crate) struct AckSettings {
    pub(crate) ack_after: AckAfter,
    pub(crate) commit_blocks: bool,
    /// The destination of enhanced-mode application ACKs.
    pub(crate) application_acks: Option<String>,
}

pub(crate) struct Ingest {
    pub(crate) channel: String,
    pub(crate) settings: AckSettings,
    pub(crate) stats: Arc<ChannelStats>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) committer: Committer,
}

impl Ingest {
    pub(crate) fn new(channel: &Channel, shared: &Arc<Shared>, committer: &Committer) -> Ingest {
        Ingest {
            channel: channel.name.clone(),
            settings: AckSettings {
                ack_after: channel.ack_after,
                commit_blocks: channel.config.commit_blocks,
                application_acks: channel.application_acks.clone(),
            },
            stats: Arc::clone(&shared.channels[&channel.name]),
            shared: Arc::clone(shared),
            committer: committer.clone(),
        }
    }
}

impl Handler for Ingest {
    async fn handle(&self, raw: Bytes, peer: PeerInfo) -> Reply {
        let now = self.shared.clock.now();
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        self.stats
            .last_received_ms
            .store(now.unix_millis(), Ordering::Relaxed);
        let decoded = match er7::decode_bytes(&raw) {
            Ok(d) => d,
            Err(e) => return self.unreadable(&raw, &e, peer).await,
        };
        let message = match Message::parse(&decoded.text) {
            Ok(m) => m,
            Err(e) => return self.unreadable(&raw, &e, peer).await,
        };
        let header = InboundHeader::of(&message);
        let inbound = Inbound::new(&self.channel, &raw, &message, &header);
        let routed = route_all(&self.shared.routes, &inbound);
        let record = InboundMessage {
            raw: raw.to_vec(),
            channel: self.channel.clone(),
            received_at: now,
            msg_type: message
                .msh()
                .field(9)
                .map(|f| f.raw().to_owned())
                .unwrap_or_default(),
            patient_id: inbound.value("PID-3.1").map(|v| v.into_owned()),
            fingerprint: Fingerprint::of(&message, &raw),
        };
        let plan = match &routed {
            Ok(outputs) => Plan::Route(outputs.clone()),
            Err(e) => Plan::Error(e.to_string()),
        };
        let mode = Mode::of(&message);
        // The ACK text is written now and committed with the message, so a verbatim resend
        // finds it without a second write; it is sent only after the commit, and only if the
        // decision on the store's receipt gives the same code.
        let (processed, explained) = match &routed {
            Ok(_) => (Processed::Ok, Explained::Nothing),
            Err(RouteError::Invalid { problems, .. }) => {
                (Processed::Invalid, Explained::Problems(problems))
            }
            Err(RouteError::Rejected { reason, .. }) => {
                (Processed::Rejected, Explained::Reason(reason))
            }
        };
        let prebuilt = match self.settings.commit_blocks {
            true => None,
            false => expected_when_stored(mode, processed, self.settings.ack_after)
                .map(|code| (code, self.ack_text(&message, code, explained))),
        };
        let application_ack = self.application_ack(&message, mode, processed, explained);
        let accepted = self
            .committer
            .submit(
                record,
                plan,
                prebuilt.as_ref().map(|(_, text)| text.clone()),
                application_ack,
            )
            .await;
        if accepted.is_ok() {
            crate::failpoint::hit("after_store_before_ack");
        }
        let reply = match accepted {
            Err(reason) => {
                self.stats.store_failures.fetch_add(1, Ordering::Relaxed);
                warn!(channel = %self.channel, connection = peer.connection_id,
                    control_id = header.control_id(), %reason, "message not stored");
                let code = decide(mode, &Outcome::StoreFailed, self.settings.ack_after);
                if self.settings.commit_blocks {
                    return Reply::Commit(Commit::Nak);
                }
                self.ack(&message, code.immediate(), Explained::StoreFailed)
            }
            Ok(Accepted::Verbatim { receipt, ack }) => {
                self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                info!(channel = %self.channel, message = %receipt.id,
                    control_id = header.control_id(), "verbatim resend: answered from the store");
                if self.settings.commit_blocks {
                    return Reply::Commit(Commit::Ack);
                }
                match ack {
                    Some(ack) => {
                        if let Some(code) = ack_code(&ack) {
                            self.stats.count_ack(code);
                        }
                        Reply::Message(Bytes::from(ack))
                    }
                    None => {
                        let code = decide(
                            mode,
                            &Outcome::Stored(&receipt.durable),
                            self.settings.ack_after,
                        );
                        self.ack(&message, code.immediate(), Explained::Nothing)
                    }
                }
            }
            Ok(Accepted::Stored {
                receipt,
                reused,
                items,
            }) => {
                if let Some(previous) = reused {
                    self.stats.control_id_reuse.fetch_add(1, Ordering::Relaxed);
                    warn!(channel = %self.channel, message = %receipt.id, %previous,
                        control_id = header.control_id(), "control ID reused with other content");
                    self.shared.emit(Event::ControlIdReuse {
                        channel: self.channel.clone(),
                        message: receipt.id,
                        previous,
                        control_id: header.control_id().to_owned(),
                    });
                }
                let outcome = match &routed {
                    Ok(_) => Outcome::Stored(&receipt.durable),
                    Err(e @ RouteError::Invalid { problems, .. }) => {
                        self.error_state(&receipt, e);
                        Outcome::Invalid(&receipt.durable, problems)
                    }
                    Err(e @ RouteError::Rejected { reason, .. }) => {
                        self.error_state(&receipt, e);
                        Outcome::Rejected(&receipt.durable, reason)
                    }
                };
                if let Some(destination) = &self.settings.application_acks {
                    self.shared.wake([destination.as_str()]);
                }
                if let Ok(outputs) = &routed {
                    self.shared
                        .wake(outputs.iter().map(|o| o.destination.as_str()));
                    debug!(channel = %self.channel, message = %receipt.id, items = items.len(),
                        "stored and routed");
                }
                let decision = decide(mode, &outcome, self.settings.ack_after);
                if self.settings.commit_blocks {
                    return Reply::Commit(Commit::Ack);
                }
                match (decision.immediate(), prebuilt) {
                    (Some(code), Some((expected, text))) if code == expected => {
                        self.stats.count_ack(code);
                        Reply::Message(Bytes::from(text))
                    }
                    (code, _) => {
                        let reply = self.ack(&message, code, explained);
                        if let Reply::Message(ack) = &reply {
                            self.committer.record_ack(receipt.id, ack.to_vec());
                        }
                        reply
                    }
                }
            }
        };
        if self.shared.log_phi {
            debug!(channel = %self.channel, body = %String::from_utf8_lossy(&raw), "message body");
        }
        reply
    }
}

impl Ingest {
    fn error_state(&self, receipt: &crate::store::Receipt, error: &RouteError) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        if self.shared.log_phi {
            warn!(channel = %self.channel, message = %receipt.id, %error, "message in error state");
        } else {
            // The reason quotes field values (PHI): the store and the admin API show it.
            warn!(channel = %self.channel, message = %receipt.id, problems = error.problems().len(),
                "message in error state; the reason is kept with the message");
        }
        self.shared.emit(Event::MessageError {
            channel: self.channel.clone(),
            message: receipt.id,
            reason: error.to_string(),
        });
    }

    /// The application ACK enhanced mode asks for, as an output to the channel's
    /// application-ACK destination: queued with the message, delivered once it is stored.
    fn application_ack(
        &self,
        message: &Message<'_>,
        mode: Mode,
        processed: Processed,
        explained: Explained<'_>,
    ) -> Option<Output> {
        let code = deferred_when_stored(mode, processed)?;
        let Some(destination) = &self.settings.application_acks else {
            warn!(channel = %self.channel, control_id = InboundHeader::of(message).control_id(),
                "the sender asks for an application ACK (MSH-16) and the channel has no \
                 destination for them (Channel::application_acks_to): none is sent");
            return None;
        };
        let builder = AckBuilder::new(message)
            .code(code)
            .control_id(self.shared.ack_ids.next())
            .timestamp(self.shared.clock.now())
            .own_message();
        let payload = explained.explain(builder).build().into_bytes();
        Some(Output {
            destination: destination.clone(),
            payload,
        })
    }

    /// The ACK for a parsed message, or nothing when the sender asked for none.
    fn ack(&self, message: &Message<'_>, code: Option<AckCode>, explained: Explained<'_>) -> Reply {
        let Some(code) = code else {
            return Reply::Nothing;
        };
        self.stats.count_ack(code);
        Reply::Message(Bytes::from(self.ack_text(message, code, explained)))
    }

    fn ack_text(&self, message: &Message<'_>, code: AckCode, explained: Explained<'_>) -> Vec<u8> {
        let builder = AckBuilder::new(message)
            .code(code)
            .control_id(self.shared.ack_ids.next())
            .timestamp(self.shared.clock.now());
        explained.explain(builder).build().into_bytes()
    }

    /// Bytes that are not a readable message: stored in the error state (nothing is lost),
    /// answered `AE`/`CE` with the error's location.
    async fn unreadable(&self, raw: &Bytes, error: &er7::ParseError, peer: PeerInfo) -> Reply {
        warn!(channel = %self.channel, connection = peer.connection_id, %error,
            "unreadable message");
        let header = InboundHeader::sniff(raw);
        let record = InboundMessage {
            raw: raw.to_vec(),
            channel: self.channel.clone(),
            received_at: self.shared.clock.now(),
            msg_type: String::new(),
            patient_id: None,
            // No key: an unreadable message is never taken for a resend of another.
            fingerprint: Fingerprint {
                key: DedupeKey {
                    sending_application: String::new(),
                    sending_facility: String::new(),
                    control_id: String::new(),
                },
                hash: PayloadHash::of(raw),
            },
        };
        let stored = self
            .committer
            .submit(
                record,
                Plan::Error(format!("unreadable: {error}")),
                None,
                None,
            )
            .await;
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        let mode = header.as_ref().map_or(Mode::Original, InboundHeader::mode);
        let decision = decide(mode, &Outcome::Unparseable(error), self.settings.ack_after);
        if self.settings.commit_blocks {
            return Reply::Commit(if stored.is_ok() {
                Commit::Ack
            } else {
                Commit::Nak
            });
        }
        let Some(code) = decision.immediate() else {
            return Reply::Nothing;
        };
        self.stats.count_ack(code);
        let ack = AckBuilder::for_raw(raw)
            .code(code)
            .control_id(self.shared.ack_ids.next())
            .timestamp(self.shared.clock.now())
            .parse_error(error)
            .build();
        Reply::Message(Bytes::from(ack.into_bytes()))
    }
}

/// MSA-1 of a stored ACK, for the counters.
fn ack_code(ack: &[u8]) -> Option<AckCode> {
    let text = std::str::from_utf8(ack).ok()?;
    let msa = text.split(['\r', '\n']).find(|l| l.starts_with("MSA"))?;
    msa.get(4..6)?.parse().ok()
}

/// What the ERR segments of an ACK explain. A positive code gets none of them (see
/// [`AckBuilder::build`]), so the explanation can be given before the code is known.
#[derive(Debug, Clone, Copy)]
enum Explained<'a> {
    /// Nothing went wrong.
    Nothing,
    /// The validator's problems, each at its HL7 location.
    Problems(&'a [Problem]),
    /// Why a route's filter or transform refused the message.
    Reason(&'a str),
    /// The store did not take the message: the sender should send it again.
    StoreFailed,
}

impl Explained<'_> {
    fn explain<'m>(self, builder: AckBuilder<'m>) -> AckBuilder<'m> {
        match self {
            Explained::Nothing => builder,
            Explained::Problems(problems) => builder.problems(problems),
            Explained::Reason(reason) => builder.internal_error(reason),
            Explained::StoreFailed => builder.outcome(&Outcome::StoreFailed),
        }
    }
}
