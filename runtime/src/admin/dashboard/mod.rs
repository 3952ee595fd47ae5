//! The operations dashboard: one page, served by the admin endpoint itself, with no build
//! step (HTML, plain JavaScript and CSS compiled into the binary with `include_str!`).
//!
//! ```no_run
//! use hl7_runtime::admin::{dashboard, Admin, AdminConfig};
//! # async fn run(engine: hl7_runtime::engine::RunningEngine) -> Result<(), Box<dyn std::error::Error>> {
//! let config = AdminConfig::new("127.0.0.1:8080").token(&std::env::var("HL7_ADMIN_TOKEN")?);
//! let admin = Admin::new(engine.handle(), config)
//!     .merge(dashboard::router())
//!     .start()
//!     .await?;
//! println!("dashboard on http://{}/", admin.local_addr());
//! # Ok(())
//! # }
//! ```
//!
//! # Signing in
//!
//! Every request is authenticated, the page and its scripts included: nothing is served
//! without a token or a session made from one. A browser opening `/` without one gets `401`
//! with a sign-in form as the body (static, no data); the form posts the token to
//! `POST /login` in the request body, which sets an `HttpOnly`, `SameSite=Strict` session
//! cookie (a random id, not the token) that the admin endpoint accepts like a bearer token:
//! compared as a SHA-256 digest in constant time, and for changes only together with the
//! header `X-HL7-Admin: 1`. `POST /logout` ends the session. Tools keep using
//! `Authorization: Bearer`. The details are in the
//! `session` module's source (`runtime/src/admin/dashboard/session.rs`).
//!
//! # Routes
//!
//! - `GET /` and `GET /dashboard`: the page (`text/html`).
//! - `GET /dashboard/app.js`, `GET /dashboard/app.css`: its script and style.
//! - `GET /dashboard/fields.json`: segment, field and component names for the message view,
//!   generated once from the bundled HL7 v2.5.1 base definitions (`hl7-spec/spec/2.5.1`,
//!   `segments.xml` and `datatypes.xml`); a test in `examples/tests/dashboard_fields.rs`
//!   checks it against them and rewrites it with `HL7_DASHBOARD_FIELDS=write`.
//! - `POST /login`, `POST /logout`: sessions (answered by the token check itself).
//!
//! Every answer carries a Content-Security-Policy that allows only this origin's script and
//! style, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//! `X-Frame-Options: DENY` and `Cache-Control: no-store` (the page shows PHI).
//!
//! # The page
//!
//! - Channels (received, rate, ACK codes, errors, duplicates) and destinations (state up,
//!   down or paused, delivered and rate, queue depth, oldest queued age, failed, dead
//!   letters) from `GET /api/status` every 1.5 s; rates are the change in the counters over
//!   the last polls. Pause and resume per destination. Firing alerts.
//! - The message browser: search by patient id, control id, type, event, state, time range
//!   and free text, 50 a page, newest first, paged by keyset (`before`) forwards and back.
//!   It only ever asks for one page, so a store of millions of messages is browsed at the
//!   cost of one page.
//! - One message: its segments with each field's and component's name, the error's
//!   locations (`PID(2)-3[1].4.1`) highlighted in place, the ACK, each destination item with
//!   its attempts and the responses, and reprocess (as stored or edited), discard (with a
//!   reason) and the audit entries. Item states refresh through the (unaudited) search, so a
//!   page left open does not fill the audit log with views.
//!
//! All data is put into the page as text (`textContent`), never as markup.

pub(crate) mod session;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");
const FIELDS: &str = include_str!("assets/fields.json");

/// The policy of the page: scripts, styles and requests of this origin only.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                           connect-src 'self'; img-src 'self' data:; form-action 'self'; \
                           frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's routes, to [`merge`](super::Admin::merge) into an admin endpoint (which
/// puts its token check in front of them).
pub fn router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/dashboard", get(index))
        .route("/dashboard/app.js", get(script))
        .route("/dashboard/app.css", get(style))
        .route("/dashboard/fields.json", get(fields))
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn fields() -> Response {
    asset("application/json", FIELDS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    secure_headers(headers);
    response
}

/// The headers of every dashboard answer.
fn secure_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_linked_from_the_page() {
        assert!(INDEX.contains("/dashboard/app.js"));
        assert!(INDEX.contains("/dashboard/app.css"));
        assert!(SCRIPT.contains("/dashboard/fields.json"));
        assert!(
            !INDEX.contains("<script>"),
            "no inline script (the policy forbids it)"
        );
    }

    /// One HTTP/1.1 exchange; the status line and headers, and the body.
    async fn exchange(addr: std::net::SocketAddr, request: String) -> (String, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        (head.to_owned(), body.to_owned())
    }

    fn request(method: &str, path: &str, headers: &[&str], body: &str) -> String {
        let mut text =
            format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for h in headers {
            text.push_str(h);
            text.push_str("\r\n");
        }
        format!("{text}Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[tokio::test]
    async fn sign_in_with_a_token_then_use_the_session() {
        use std::sync::Arc;

        use axum::routing::post;

        let token = "dashboard-unit-test-token-0123456789";
        let mut tokens = super::super::auth::Tokens::default();
        tokens.add("alice".into(), token);
        let app = Router::new()
            .route("/api/status", get(|| async { "status" }))
            .route("/api/change", post(|| async { "changed" }))
            .merge(router())
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(tokens),
                super::super::auth::require_token,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let html = "Accept: text/html,application/xhtml+xml,*/*;q=0.8";
        let form = "Content-Type: application/x-www-form-urlencoded";

        // Without a credential: the page is the sign-in form, the API a 401 in JSON.
        let (head, body) = exchange(addr, request("GET", "/", &[html], "")).await;
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
        assert!(
            body.contains("action=\"/login\"") && !body.contains("app.js"),
            "{body}"
        );
        let (head, body) = exchange(addr, request("GET", "/dashboard/app.js", &[], "")).await;
        assert!(
            head.starts_with("HTTP/1.1 401") && body.contains("bearer token"),
            "{head}"
        );

        // A wrong token, or a form from another site, starts no session.
        let (head, body) = exchange(
            addr,
            request("POST", "/login", &[form], "token=wrong-token-0123456789"),
        )
        .await;
        assert!(
            head.starts_with("HTTP/1.1 401") && body.contains("not valid"),
            "{head}"
        );
        assert!(!head.to_ascii_lowercase().contains("set-cookie"), "{head}");
        let body = format!("token={token}");
        let evil = "Origin: http://evil.test";
        let (head, _) = exchange(addr, request("POST", "/login", &[form, evil], &body)).await;
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");

        // The right token: a session cookie that is not the token.
        let (head, _) = exchange(addr, request("POST", "/login", &[form], &body)).await;
        assert!(head.starts_with("HTTP/1.1 303"), "{head}");
        let set_cookie = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .unwrap_or_else(|| panic!("a cookie: {head}"));
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
        assert!(!set_cookie.contains(token));
        let id = set_cookie.split(';').next().unwrap();
        let cookie = format!("Cookie: {id}");

        // The session reads the page and the API; changes need the header too.
        let (head, body) = exchange(addr, request("GET", "/", &[html, &cookie], "")).await;
        assert!(
            head.starts_with("HTTP/1.1 200") && body.contains("app.js"),
            "{head}"
        );
        assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self'"));
        let (head, _) = exchange(addr, request("GET", "/api/status", &[&cookie], "")).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let (head, _) = exchange(addr, request("POST", "/api/change", &[&cookie], "")).await;
        assert!(
            head.starts_with("HTTP/1.1 401"),
            "a change without the header: {head}"
        );
        let csrf = "X-HL7-Admin: 1";
        let (head, body) =
            exchange(addr, request("POST", "/api/change", &[&cookie, csrf], "")).await;
        assert!(
            head.starts_with("HTTP/1.1 200") && body == "changed",
            "{head}"
        );

        // Signing out ends the session.
        let (head, _) = exchange(addr, request("POST", "/logout", &[&cookie, csrf], "")).await;
        assert!(
            head.starts_with("HTTP/1.1 303") && head.contains("Max-Age=0"),
            "{head}"
        );
        let (head, _) = exchange(addr, request("GET", "/api/status", &[&cookie], "")).await;
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    }

    #[test]
    fn field_table_is_json() {
        let table: serde_json::Value = serde_json::from_str(FIELDS).unwrap();
        assert_eq!(
            table["segments"]["PID"]["fields"][2][0],
            "Patient Identifier List"
        );
        assert_eq!(table["datatypes"]["CX"][0][0], "ID Number");
    }
}
