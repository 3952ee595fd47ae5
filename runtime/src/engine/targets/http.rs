//! HTTP destinations: each item POSTed; the status decides the verdict.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use crate::engine::{Deliver, DeliveryFuture, Verdict};
use crate::store::ItemId;

pub(crate) struct HttpDeliver {
    pub(crate) url: String,
    pub(crate) timeout: Duration,
    pub(crate) client: Client<HttpConnector, Full<Bytes>>,
}

impl Deliver for HttpDeliver {
    fn deliver<'a>(&'a mut self, _item: ItemId, payload: &'a [u8]) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let request = hyper::Request::post(&self.url)
                .header("content-type", "application/hl7-v2; charset=utf-8")
                .body(Full::new(Bytes::copy_from_slice(payload)));
            let request = match request {
                Ok(r) => r,
                Err(e) => {
                    return Verdict::Rejected {
                        reason: format!("bad HTTP request for {}: {e}", self.url),
                        response: None,
                    }
                }
            };
            let exchange = async {
                let response = self.client.request(request).await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
            };
            match tokio::time::timeout(self.timeout, exchange).await {
                Err(_) => Verdict::Failed {
                    error: format!("no HTTP response within {:?}", self.timeout),
                    response: None,
                },
                Ok(Err(e)) => Verdict::Failed {
                    error: format!("HTTP: {e}"),
                    response: None,
                },
                Ok(Ok((status, body))) => {
                    let response = Some(body.to_vec());
                    let error = format!("HTTP {status}");
                    if status.is_success() {
                        Verdict::Delivered { response }
                    } else if status.is_server_error()
                        || status == hyper::StatusCode::REQUEST_TIMEOUT
                        || status == hyper::StatusCode::TOO_MANY_REQUESTS
                    {
                        Verdict::Failed { error, response }
                    } else {
                        Verdict::Error { error, response }
                    }
                }
            }
        })
    }
}
