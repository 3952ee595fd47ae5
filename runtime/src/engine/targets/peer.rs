//! Channel-peer destinations: delivery on the connection a channel's partner opened.

use std::time::Duration;

use crate::ack::matching::control_id;
use crate::engine::{judge_ack, Deliver, DeliveryFuture, Verdict};
use crate::store::ItemId;
use crate::transport::PeerConnections;

pub(crate) struct PeerDeliver {
    pub(crate) channel: String,
    pub(crate) peers: PeerConnections,
    pub(crate) response_timeout: Duration,
}

impl Deliver for PeerDeliver {
    fn deliver<'a>(&'a mut self, _item: ItemId, payload: &'a [u8]) -> DeliveryFuture<'a> {
        Box::pin(async move {
            match self.peers.send(payload, self.response_timeout).await {
                // The connection matched MSA-2 already; the code decides the verdict.
                Ok(response) => judge_ack(&control_id(payload), &response),
                Err(e) => Verdict::Failed {
                    error: format!("to the peer of channel `{}`: {e}", self.channel),
                    response: None,
                },
            }
        })
    }
}
