//! Alert notifications POSTed as JSON to a webhook, in order, with a few retries.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::rules::Notification;
use crate::admin::time;

/// Attempts per notification before it is given up (logged).
const ATTEMPTS: u32 = 3;

/// A webhook URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alert webhook `{url}`: {reason}")]
pub struct WebhookError {
    url: String,
    reason: String,
}

/// Where notifications go.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    uri: hyper::Uri,
    timeout: Duration,
}

impl Webhook {
    /// An `http://` URL (TLS is not built in: put a relay on loopback in front of an
    /// `https://` receiver).
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<Webhook, WebhookError> {
        let error = |reason: &str| WebhookError {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: hyper::Uri = url.parse().map_err(|_| error("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(error("only http:// URLs are supported"));
        }
        if uri.host().is_none() {
            return Err(error("no host"));
        }
        Ok(Webhook { uri, timeout })
    }

    /// Posts what arrives on `rx`, in order, until every sender is gone.
    pub(crate) async fn run(self, mut rx: mpsc::Receiver<Notification>) {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        while let Some(note) = rx.recv().await {
            let body = Bytes::from(body(&note).to_string());
            let mut delay = Duration::from_millis(500);
            for attempt in 1..=ATTEMPTS {
                match self.post(&client, body.clone()).await {
                    Ok(()) => {
                        debug!(rule = %note.rule, subject = %note.subject, "alert webhook sent");
                        break;
                    }
                    Err(error) if attempt == ATTEMPTS => {
                        warn!(rule = %note.rule, subject = %note.subject, %error,
                            "alert webhook failed; notification dropped");
                    }
                    Err(error) => {
                        debug!(%error, attempt, "alert webhook failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
            }
        }
    }

    async fn post(
        &self,
        client: &Client<HttpConnector, Full<Bytes>>,
        body: Bytes,
    ) -> Result<(), String> {
        let request = hyper::Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "hl7-engine-alerts")
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(self.timeout, client.request(request))
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", response.status()))
        }
    }
}

/// `{rule, subject, state, value, threshold, at}`.
pub(crate) fn body(note: &Notification) -> serde_json::Value {
    serde_json::json!({
        "rule": note.rule,
        "subject": note.subject,
        "state": note.state.as_str(),
        "value": note.value,
        "threshold": note.threshold,
        "at": time::format(note.at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls() {
        assert!(Webhook::new("http://127.0.0.1:9/hook", Duration::from_secs(1)).is_ok());
        assert!(Webhook::new("https://example.invalid/hook", Duration::from_secs(1)).is_err());
        assert!(Webhook::new("not a url", Duration::from_secs(1)).is_err());
    }
}
