//! For the admin endpoint tests: a small HTTP client, and an engine with its admin endpoint.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hl7_runtime::admin::{Admin, AdminConfig, RunningAdmin};
use hl7_runtime::engine::{EngineBuilder, RunningEngine};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The token the tests configure (user `admin`).
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Full::new(Bytes::from(v.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let response = sender
        .send_request(builder.body(body).unwrap())
        .await
        .expect("response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

/// A client of one admin endpoint with the test token.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    pub addr: SocketAddr,
}

impl Api {
    pub async fn get(&self, path: &str) -> Answer {
        request(self.addr, "GET", path, Some(TOKEN), None).await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let answer = self.get(path).await;
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.text());
        answer.json()
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> Answer {
        request(self.addr, "POST", path, Some(TOKEN), body.as_ref()).await
    }

    pub async fn post_json(&self, path: &str, body: Option<Value>) -> Value {
        let answer = self.post(path, body).await;
        assert_eq!(answer.status, 200, "POST {path}: {}", answer.text());
        answer.json()
    }
}

/// Starts the engine and its admin endpoint on loopback.
pub async fn start(
    builder: EngineBuilder,
    config: impl FnOnce(AdminConfig) -> AdminConfig,
) -> (RunningEngine, RunningAdmin, Api) {
    let engine = builder
        .build()
        .expect("engine config")
        .start()
        .await
        .expect("engine starts");
    let admin = Admin::new(
        engine.handle(),
        config(AdminConfig::new("127.0.0.1:0").token(TOKEN)),
    )
    .start()
    .await
    .expect("admin starts");
    let api = Api {
        addr: admin.local_addr(),
    };
    (engine, admin, api)
}

/// Polls `check` (an async condition) every 50 ms until it holds or `limit` passes.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The store behind an engine, for assertions.
pub fn store_of(engine: &RunningEngine) -> Arc<dyn hl7_runtime::store::Store> {
    Arc::clone(engine.store())
}
