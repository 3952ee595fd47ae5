//! The HTTP client of the ops commands: one HTTP/1.1 connection (hyper's client connection,
//! over the runtime's TCP or TLS connector) kept for every request of a command, the bearer
//! token on each, JSON answers, and the failures sorted by what the operator must fix, which
//! is the exit code.

use std::fmt;
use std::io;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use hl7_runtime::transport::{Connect, TcpConnector, TlsConnector};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Target;

/// The environment variable holding the token when no `--token-file` is given.
pub(crate) const TOKEN_VAR: &str = "HL7_ADMIN_TOKEN";

/// The largest answer read (a page of 1,000 messages is far smaller).
const MAX_ANSWER: usize = 256 * 1024 * 1024;

/// Why an ops command failed; each kind has its exit code.
#[derive(Debug)]
pub(crate) enum Error {
    /// The command line asks for something impossible.
    Usage(String),
    /// A local file cannot be read.
    Input(String),
    /// No token, or the endpoint refused it.
    Unauthorized(String),
    /// The endpoint cannot be reached, or did not answer in time.
    Connect(String),
    /// The API refused or failed the request.
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's `error`, or the body.
        message: String,
    },
    /// The request was carried out but did not reach its aim (a message still in error), or
    /// the operator declined.
    NotDone(String),
    /// Standard output failed.
    Output(io::Error),
}

impl Error {
    /// The process exit code (documented in [`super::EXIT_CODES`]).
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::Api { .. } | Error::NotDone(_) => 1,
            Error::Usage(_) => 2,
            Error::Connect(_) => 3,
            Error::Input(_) | Error::Output(_) => 4,
            Error::Unauthorized(_) => 5,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Input(m) | Error::Connect(m) | Error::NotDone(m) => {
                f.write_str(m)
            }
            Error::Unauthorized(m) => write!(f, "unauthorized: {m}"),
            Error::Api { status, message } if *status >= 500 => {
                write!(f, "the admin endpoint failed (HTTP {status}): {message}")
            }
            Error::Api { status, message } => write!(f, "{message} (HTTP {status})"),
            Error::Output(err) => write!(f, "cannot write the output: {err}"),
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Error {
        Error::Output(err)
    }
}

/// `--admin`, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `https://`.
    pub(crate) https: bool,
    /// The host, without IPv6 brackets.
    pub(crate) host: String,
    /// The port (80 and 443 by default).
    pub(crate) port: u16,
    /// A path prefix without its trailing `/` (`""`, or `/hl7-admin` behind a proxy).
    pub(crate) base: String,
}

impl Endpoint {
    /// Reads `http://HOST:PORT[/prefix]`, `https://...`, or a bare `HOST:PORT` (http).
    pub(crate) fn parse(url: &str) -> Result<Endpoint, String> {
        let bad = |why: &str| format!("--admin `{url}`: {why} (e.g. http://127.0.0.1:8080)");
        let (https, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some((scheme, _)) => return Err(bad(&format!("unknown scheme `{scheme}`"))),
            None => (false, url),
        };
        if rest.contains(['?', '#']) {
            return Err(bad("no query or fragment here"));
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(bad(
                "no user name in the URL; the token goes in --token-file",
            ));
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (host, after) = inner.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => {
                    return Err(bad("write an IPv6 address in brackets"))
                }
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(port) => port.parse().map_err(|_| bad("the port is not a number"))?,
            None if https => 443,
            None => 80,
        };
        Ok(Endpoint {
            https,
            host: host.to_owned(),
            port,
            base: path.trim_end_matches('/').to_owned(),
        })
    }

    /// `HOST:PORT`, with brackets around an IPv6 address.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority(), self.base)
    }
}

/// The token of `--token-file` (its first line), else of [`TOKEN_VAR`].
fn read_token(file: Option<&Path>) -> Result<String, Error> {
    let Some(path) = file else {
        return match std::env::var(TOKEN_VAR) {
            Ok(token) if !token.trim().is_empty() => Ok(token.trim().to_owned()),
            _ => Err(Error::Unauthorized(format!(
                "no token: give --token-file FILE or set {TOKEN_VAR}"
            ))),
        };
    };
    let text = std::fs::read_to_string(path)
        .map_err(|err| Error::Input(format!("cannot read `{}`: {err}", path.display())))?;
    warn_if_shared(path);
    let token = text.lines().next().unwrap_or_default().trim();
    if token.is_empty() {
        return Err(Error::Unauthorized(format!(
            "`{}` holds no token",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// A token file others may read is a leaked token; say so (and go on).
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "warning: `{}` can be read by other users (chmod 600 it)",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// How connections are opened.
enum Connector {
    Tcp(TcpConnector),
    Tls(TlsConnector),
}

/// A client of one admin endpoint.
pub(crate) struct Api {
    endpoint: Endpoint,
    authorization: HeaderValue,
    connector: Connector,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Api {
    /// Reads the token and TLS files and resolves the endpoint; connects at the first request.
    pub(crate) async fn new(target: &Target) -> Result<Api, Error> {
        let endpoint = Endpoint::parse(&target.url).map_err(Error::Usage)?;
        let tls = target.tls.build().map_err(Error::Input)?;
        if endpoint.https && tls.is_none() {
            return Err(Error::Usage(format!(
                "{endpoint} is https: give the CA that signed its certificate with --tls-ca FILE"
            )));
        }
        if !endpoint.https && tls.is_some() {
            return Err(Error::Usage(format!(
                "--tls-ca is for https:// endpoints; {endpoint} is plain http"
            )));
        }
        let token = read_token(target.token_file.as_deref())?;
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                Error::Unauthorized("the token holds characters an HTTP header cannot carry".into())
            })?;
        authorization.set_sensitive(true);
        let tcp = TcpConnector::resolve(endpoint.authority())
            .await
            .map_err(|err| Error::Connect(format!("cannot resolve {endpoint}: {err}")))?;
        let connector = match tls {
            None => Connector::Tcp(tcp),
            Some(tls) => {
                let name = target
                    .tls
                    .tls_server_name
                    .as_deref()
                    .unwrap_or(&endpoint.host);
                Connector::Tls(
                    TlsConnector::new(tcp, name, &tls).map_err(|e| Error::Usage(e.to_string()))?,
                )
            }
        };
        Ok(Api {
            endpoint,
            authorization,
            connector,
            timeout: target.timeout,
            sender: None,
        })
    }

    /// `GET path` (under the endpoint's prefix), as JSON.
    pub(crate) async fn get(&mut self, path: &str) -> Result<Value, Error> {
        self.request(Method::GET, path, None).await
    }

    /// `GET path`, read as `T`.
    pub(crate) async fn get_as<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, Error> {
        let value = self.get(path).await?;
        read_as(value)
    }

    /// `POST path` with a JSON body (or none), as JSON.
    pub(crate) async fn post(&mut self, path: &str, body: Option<&Value>) -> Result<Value, Error> {
        self.request(Method::POST, path, body).await
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let body = body.map(|b| Bytes::from(b.to_string()));
        // A kept connection the server has closed in the meantime fails before the request is
        // written; then (and only then, so a POST is never sent twice) it is tried afresh.
        let reused = self.sender.is_some();
        let mut sender = self.ready_sender().await?;
        let request = self.build(&method, path, body.clone())?;
        let answer = match self.exchange(&mut sender, request).await {
            Err(Failure::Closed(_)) if reused && method == Method::GET => {
                let mut fresh = self.open().await?;
                let request = self.build(&method, path, body)?;
                let answer = self.exchange(&mut fresh, request).await;
                sender = fresh;
                answer
            }
            other => other,
        };
        let (status, bytes) = answer.map_err(|failure| self.failure(&method, failure))?;
        self.sender = Some(sender);
        judge(status, &bytes)
    }

    async fn ready_sender(&mut self) -> Result<SendRequest<Full<Bytes>>, Error> {
        if let Some(mut sender) = self.sender.take() {
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
        self.open().await
    }

    fn build(
        &self,
        method: &Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>, Error> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.endpoint.base))
            .header(header::HOST, self.endpoint.authority())
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("hl7-cli/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::AUTHORIZATION, self.authorization.clone());
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|err| Error::Usage(format!("cannot form the request for `{path}`: {err}")))
    }

    /// Opens a connection (TCP, then TLS when https, then the HTTP/1.1 handshake).
    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, Error> {
        let opening = async {
            match &self.connector {
                Connector::Tcp(c) => handshake(c.connect().await?).await,
                Connector::Tls(c) => handshake(c.connect().await?).await,
            }
        };
        match tokio::time::timeout(self.timeout, opening).await {
            Ok(Ok(sender)) => Ok(sender),
            Ok(Err(err)) => Err(Error::Connect(format!(
                "cannot connect to the admin endpoint {}: {err}",
                self.endpoint
            ))),
            Err(_) => Err(Error::Connect(format!(
                "cannot connect to the admin endpoint {}: no connection within {:?}",
                self.endpoint, self.timeout
            ))),
        }
    }

    async fn exchange(
        &self,
        sender: &mut SendRequest<Full<Bytes>>,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), Failure> {
        let exchange = async {
            let response = sender.send_request(request).await.map_err(|err| {
                if err.is_canceled() || err.is_closed() || err.is_incomplete_message() {
                    Failure::Closed(err.to_string())
                } else {
                    Failure::Broken(err.to_string())
                }
            })?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|err| Failure::Broken(format!("reading the answer: {err}")))?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }

    fn failure(&self, method: &Method, failure: Failure) -> Error {
        let endpoint = &self.endpoint;
        match failure {
            Failure::Closed(err) | Failure::Broken(err) => Error::Connect(format!(
                "the admin endpoint {endpoint} failed to answer: {err}"
            )),
            Failure::Timeout if method == Method::GET => Error::Connect(format!(
                "no answer from the admin endpoint {endpoint} within {:?}",
                self.timeout
            )),
            Failure::Timeout => Error::Connect(format!(
                "no answer from the admin endpoint {endpoint} within {:?}; the request may still \
                 have been carried out (see `hl7 messages show` or the audit log)",
                self.timeout
            )),
        }
    }
}

/// Why an exchange failed.
enum Failure {
    /// The connection was closed before an answer began.
    Closed(String),
    /// The answer broke off, or HTTP failed otherwise.
    Broken(String),
    /// No answer in time.
    Timeout,
}

async fn handshake<S>(stream: S) -> io::Result<SendRequest<Full<Bytes>>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(connection);
    Ok(sender)
}

/// The answer's JSON, or the error its status means.
fn judge(status: StatusCode, bytes: &[u8]) -> Result<Value, Error> {
    let json: Option<Value> = serde_json::from_slice(bytes).ok();
    if status.is_success() {
        return json.ok_or_else(|| Error::Api {
            status: status.as_u16(),
            message: format!(
                "the answer is not JSON (is --admin the engine's admin endpoint?): {}",
                excerpt(bytes)
            ),
        });
    }
    let message = json
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str)
        .map_or_else(|| excerpt(bytes), str::to_owned);
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(Error::Unauthorized(format!(
            "the admin endpoint refused the token (HTTP {}): {message}",
            status.as_u16()
        ))),
        _ => Err(Error::Api {
            status: status.as_u16(),
            message,
        }),
    }
}

/// The start of a body that is not the expected JSON, on one line.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None if text.is_empty() => "(empty answer)".to_owned(),
        None => text,
    }
}

/// `value` read as `T`; a shape the CLI does not know is the API's fault, exit 1.
pub(crate) fn read_as<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|err| Error::Api {
        status: 200,
        message: format!("unexpected answer from the admin API: {err}"),
    })
}

/// A query string, built from the parameters given.
#[derive(Debug, Default)]
pub(crate) struct Query(String);

impl Query {
    /// Adds `name=value`.
    pub(crate) fn push(&mut self, name: &str, value: impl fmt::Display) -> &mut Query {
        self.0.push(if self.0.is_empty() { '?' } else { '&' });
        self.0.push_str(name);
        self.0.push('=');
        self.0.push_str(&encode(&value.to_string()));
        self
    }

    /// Adds `name=value` when there is a value.
    pub(crate) fn opt(&mut self, name: &str, value: Option<impl fmt::Display>) -> &mut Query {
        if let Some(value) = value {
            self.push(name, value);
        }
        self
    }

    /// `?a=1&b=2`, or nothing.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Percent-encodes everything but the unreserved characters of RFC 3986.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (e.https, e.host.as_str(), e.port, e.base.as_str()),
            (false, "127.0.0.1", 8080, "")
        );
        let e = Endpoint::parse("HTTPS://ops.example.org/hl7-admin/").unwrap();
        assert_eq!(
            (e.https, e.port, e.base.as_str()),
            (true, 443, "/hl7-admin")
        );
        assert_eq!(e.to_string(), "https://ops.example.org:443/hl7-admin");
        let e = Endpoint::parse("[::1]:9000").unwrap();
        assert_eq!(
            (e.host.as_str(), e.authority()),
            ("::1", "[::1]:9000".to_owned())
        );
        for bad in [
            "ftp://x:1",
            "http://:8080",
            "http://x:port",
            "http://user:pw@x:1",
            "http://::1:8080",
            "http://x:1/?a=b",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_encoding() {
        let mut q = Query::default();
        q.push("text", "gluc* high")
            .push("from", "2024-11-27T02:00:00+01:00");
        q.opt("limit", None::<u32>).opt("state", Some("error"));
        assert_eq!(
            q.as_str(),
            "?text=gluc%2A%20high&from=2024-11-27T02%3A00%3A00%2B01%3A00&state=error"
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(judge(StatusCode::OK, b"{}").unwrap(), serde_json::json!({}));
        let err = judge(StatusCode::NOT_FOUND, br#"{"error":"no message 9"}"#).unwrap_err();
        assert_eq!(
            (err.exit_code(), err.to_string()),
            (1, "no message 9 (HTTP 404)".to_owned())
        );
        assert_eq!(
            judge(StatusCode::UNAUTHORIZED, b"")
                .unwrap_err()
                .exit_code(),
            5
        );
        assert_eq!(judge(StatusCode::OK, b"<html>").unwrap_err().exit_code(), 1);
    }
}
