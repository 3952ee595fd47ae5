//! MLLP destinations: one message in flight, the ACK judged by MSA-1 and matched by MSA-2.

use std::borrow::Cow;

use bytes::Bytes;

use crate::ack::matching::{acknowledgment, control_id};
use crate::ack::AckCode;
use crate::engine::{Deliver, DeliveryFuture, Verdict};
use crate::er7::Message;
use crate::store::ItemId;
use crate::transport::{
    ClientConfig, ClientTls, MllpClient, SendError, TcpConnector, TlsConnector,
};

/// Judges an MLLP response: MSA-1 by table 0008, and MSA-2 must be the sent MSH-10.
///
/// The two fields are read straight from the text, as the client matched them; only a negative
/// ACK is parsed whole, for its reason.
pub fn judge_ack(sent_control_id: &str, response: &[u8]) -> Verdict {
    let keep = Some(response.to_vec());
    let Some((code, echoed)) = msa_1_and_2(response) else {
        return Verdict::Failed {
            error: "the response is not an HL7 message".to_owned(),
            response: keep,
        };
    };
    if echoed != sent_control_id {
        return Verdict::Failed {
            error: format!("ACK for another message (MSA-2 `{echoed}`, sent `{sent_control_id}`)"),
            response: keep,
        };
    }
    let text_of = || {
        let text = String::from_utf8_lossy(response);
        match Message::parse(&text).ok().as_ref().and_then(why) {
            Some(why) => format!(": {why}"),
            None => String::new(),
        }
    };
    match code.parse::<AckCode>() {
        Ok(AckCode::AA | AckCode::CA) => Verdict::Delivered { response: keep },
        Ok(c @ (AckCode::AE | AckCode::CE)) => Verdict::Error {
            error: format!("{c}{}", text_of()),
            response: keep,
        },
        Ok(c @ (AckCode::AR | AckCode::CR)) => Verdict::Rejected {
            reason: format!("{c}{}", text_of()),
            response: keep,
        },
        Err(e) => Verdict::Failed {
            error: e.to_string(),
            response: keep,
        },
    }
}

/// MSA-1 and MSA-2 (empty when absent), read from the text when it is UTF-8 with an MSA
/// segment, else from the parsed message (a Latin-1 ACK, an MSA-less response); `None` when the
/// response is not a message.
fn msa_1_and_2(response: &[u8]) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
    if let Some((code, echoed)) = acknowledgment(response) {
        return Some((code.into(), echoed.into()));
    }
    let text = String::from_utf8_lossy(response);
    let ack = Message::parse(&text).ok()?;
    let field = |path: &str| {
        let value = ack
            .get(path)
            .ok()
            .flatten()
            .map(|item| item.raw().to_owned());
        Cow::Owned(value.unwrap_or_default())
    };
    Some((field("MSA-1"), field("MSA-2")))
}

/// What a negative ACK says about why: MSA-3 (the text field of 2.3 and 2.4, withdrawn later),
/// else its first ERR: ERR-8 (the user message, 2.5 and later), ERR-3 (the error code and its
/// text), or ERR-1 (the 2.3 and 2.4 error location, whose fourth component is the code).
fn why(ack: &Message<'_>) -> Option<String> {
    [
        "MSA-3",
        "ERR-8",
        "ERR-3.2",
        "ERR-3.1",
        "ERR-1.4.2",
        "ERR-1.4.1",
    ]
    .into_iter()
    .filter_map(|path| ack.get(path).ok().flatten())
    .map(|item| item.decoded().into_owned())
    .find(|text| !text.is_empty())
}

pub(crate) struct MllpDeliver {
    pub(crate) addr: String,
    pub(crate) config: ClientConfig,
    pub(crate) tls: Option<(String, ClientTls)>,
    client: Option<MllpLink>,
}

/// The MLLP client of a destination, plain or over TLS.
enum MllpLink {
    Plain(MllpClient<TcpConnector>),
    Tls(Box<MllpClient<TlsConnector>>),
}

impl MllpLink {
    async fn send(&mut self, payload: &[u8]) -> Result<Bytes, SendError> {
        match self {
            MllpLink::Plain(c) => c.send(payload).await,
            MllpLink::Tls(c) => c.send(payload).await,
        }
    }

    fn disconnect(&mut self) {
        match self {
            MllpLink::Plain(c) => c.disconnect(),
            MllpLink::Tls(c) => c.disconnect(),
        }
    }
}

impl MllpDeliver {
    pub(crate) fn new(
        addr: String,
        config: ClientConfig,
        tls: Option<(String, ClientTls)>,
    ) -> Self {
        MllpDeliver {
            addr,
            config,
            tls,
            client: None,
        }
    }

    async fn client(&mut self) -> Result<&mut MllpLink, String> {
        if self.client.is_none() {
            let tcp = TcpConnector::resolve(self.addr.as_str())
                .await
                .map_err(|e| format!("cannot resolve {}: {e}", self.addr))?;
            let config = self.config.clone();
            self.client = Some(match &self.tls {
                None => MllpLink::Plain(MllpClient::with_connector(tcp, config)),
                Some((name, tls)) => MllpLink::Tls(Box::new(MllpClient::with_connector(
                    TlsConnector::new(tcp, name, tls).map_err(|e| e.to_string())?,
                    config,
                ))),
            });
        }
        Ok(self.client.as_mut().expect("set above"))
    }
}

impl Deliver for MllpDeliver {
    fn deliver<'a>(&'a mut self, _item: ItemId, payload: &'a [u8]) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let client = match self.client().await {
                Ok(client) => client,
                Err(error) => {
                    return Verdict::Failed {
                        error,
                        response: None,
                    }
                }
            };
            let control_id = control_id(payload);
            match client.send(payload).await {
                Ok(response) => {
                    let verdict = judge_ack(&control_id, &response);
                    if matches!(verdict, Verdict::Failed { .. }) {
                        // A stray or late ACK: what comes next on this connection cannot be
                        // trusted to answer the next message.
                        client.disconnect();
                    }
                    verdict
                }
                Err(e) => Verdict::Failed {
                    error: e.to_string(),
                    response: None,
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(ack: &str) -> String {
        match judge_ack("C1", ack.as_bytes()) {
            Verdict::Rejected { reason, .. } => reason,
            Verdict::Error { error, .. } => error,
            other => panic!("not a negative ACK: {other:?}"),
        }
    }

    const MSH: &str = "MSH|^~\\&|EHR|H|ENGINE|H|20261128||ACK|A1|P|2.5.1\r";

    #[test]
    fn a_negative_ack_says_why_wherever_its_version_puts_it() {
        // 2.5 and later: ERR-8, the user message, escapes decoded.
        let v25 = format!(
            "{MSH}MSA|AR|C1\rERR||PID^1^3|204^Unknown key identifier^HL70357|E||||no patient \\T\\ no visit\r"
        );
        assert_eq!(reason(&v25), "AR: no patient & no visit");
        // ERR-8 left out: the error code's text.
        let code_only =
            format!("{MSH}MSA|AE|C1\rERR||PID^1^3|204^Unknown key identifier^HL70357|E\r");
        assert_eq!(reason(&code_only), "AE: Unknown key identifier");
        // 2.3 and 2.4: MSA-3, else ERR-1's code.
        let msa3 = format!("{MSH}MSA|AE|C1|unknown patient\r");
        assert_eq!(reason(&msa3), "AE: unknown patient");
        let eld = format!("{MSH}MSA|AR|C1\rERR|PID^1^3^204&Unknown key identifier&HL70357\r");
        assert_eq!(reason(&eld), "AR: Unknown key identifier");
        assert_eq!(reason(&format!("{MSH}MSA|CR|C1\r")), "CR");
    }

    #[test]
    fn an_ack_that_is_not_utf8_is_still_judged() {
        let mut latin1 = format!("{MSH}MSA|AE|C1|").into_bytes();
        latin1.extend_from_slice(b"d\xe9j\xe0 vu\r");
        match judge_ack("C1", &latin1) {
            Verdict::Error { error, .. } => assert!(error.starts_with("AE: d"), "{error}"),
            other => panic!("an AE: {other:?}"),
        }
        assert!(matches!(
            judge_ack("C1", b"not a message"),
            Verdict::Failed { .. }
        ));
        assert!(matches!(
            judge_ack("C1", format!("{MSH}MSA|AA|C2\r").as_bytes()),
            Verdict::Failed { .. }
        ));
    }
}
