//! Browser sessions: how a page gets a credential without putting the token in a URL.
//!
//! A browser cannot add `Authorization: Bearer` to a page navigation, so:
//!
//! 1. A navigation without a credential (`GET`, `Accept: text/html`, outside `/api/` and
//!    `/metrics`) is answered `401` like any other request, with a sign-in form as the body
//!    (static, no data).
//! 2. The form posts the token in the body to `POST /login` (never in a URL, so it is not in
//!    the history, a proxy's log or a `Referer`). The token is checked like a bearer token
//!    (its digest, in constant time); a good one starts a session: 32 random bytes from the
//!    TLS library's generator, given to the browser as the cookie `hl7_admin_session`
//!    (`HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` when the form came over HTTPS), and
//!    kept here only as a SHA-256 digest with its user.
//! 3. Every request may then present the session cookie instead of a bearer token. The cookie
//!    is checked the same way: its digest compared with every session's in constant time. A
//!    request that changes something (any method but `GET` and `HEAD`) with the cookie must
//!    also carry `X-HL7-Admin: 1`, a header other sites cannot make a browser send, on top
//!    of `SameSite=Strict`.
//! 4. Sessions end after [`IDLE`] without a request, [`LIFETIME`] after sign-in, on
//!    `POST /logout`, and when the process stops. At most [`MAX_SESSIONS`] are kept; the least
//!    recently used goes first.
//!
//! The cookie is a session id, not the token: browsers send cookies to every port of a host,
//! so another web server on the same machine could see it, and a session id seen there is
//! worth less (it expires, it can be ended) than the token.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "hl7_admin_session";

/// The header a cookie-authenticated change must carry.
pub(crate) const CSRF_HEADER: &str = "x-hl7-admin";

/// A session ends after this long without a request.
pub(crate) const IDLE: Duration = Duration::from_secs(8 * 3600);

/// A session ends this long after sign-in, used or not.
pub(crate) const LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Sessions kept at most.
pub(crate) const MAX_SESSIONS: usize = 256;

/// The longest sign-in form body read.
const MAX_LOGIN_BODY: usize = 4096;

/// The sign-in page (the body of a `401` answer to a navigation).
const LOGIN_PAGE: &str = include_str!("assets/login.html");

struct Session {
    digest: [u8; 32],
    user: String,
    started: Instant,
    last_used: Instant,
}

/// The open sessions, by digest of their id.
#[derive(Default)]
pub(crate) struct Sessions {
    open: Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Sessions").field("open", &open).finish()
    }
}

impl Sessions {
    /// Starts a session for `user`; its id (hex) is the cookie's value.
    fn start(&self, user: &str) -> Option<String> {
        let mut id = [0u8; 32];
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut id)
            .ok()?;
        let hex = hex(&id);
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|s| alive(s, now));
        if open.len() >= MAX_SESSIONS {
            if let Some(oldest) = open
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(i, _)| i)
            {
                open.swap_remove(oldest);
            }
        }
        open.push(Session {
            digest: digest(hex.as_bytes()),
            user: user.to_owned(),
            started: now,
            last_used: now,
        });
        Some(hex)
    }

    /// The user of the session `id`, comparing with every open session in constant time.
    pub(crate) fn user_of(&self, id: &[u8]) -> Option<String> {
        let presented = digest(id);
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|s| alive(s, now));
        let mut found = None;
        for session in open.iter_mut() {
            if super::super::auth::constant_time_eq(&presented, &session.digest) {
                session.last_used = now;
                found = Some(session.user.clone());
            }
        }
        found
    }

    fn end(&self, id: &[u8]) {
        let presented = digest(id);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|s| !super::super::auth::constant_time_eq(&presented, &s.digest));
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last_used) < IDLE && now.duration_since(s.started) < LIFETIME
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The session id of the request's cookie, if any.
pub(crate) fn cookie(request: &Request) -> Option<&[u8]> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let value = pair.strip_prefix(COOKIE.as_bytes())?.strip_prefix(b"=")?;
            (!value.is_empty()).then_some(value)
        })
}

/// A cookie may authenticate this request: reads, or changes that carry [`CSRF_HEADER`].
pub(crate) fn cookie_allowed(request: &Request) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD)
        || request.headers().contains_key(CSRF_HEADER)
}

/// `POST /login`: the sign-in form's answer.
pub(crate) fn is_login(request: &Request) -> bool {
    request.method() == Method::POST && request.uri().path() == "/login"
}

/// `POST /logout`.
pub(crate) fn is_logout(request: &Request) -> bool {
    request.method() == Method::POST && request.uri().path() == "/logout"
}

/// A browser navigating to a page (answered with the sign-in form when it has no
/// credential).
pub(crate) fn wants_page(request: &Request) -> bool {
    let path = request.uri().path();
    matches!(*request.method(), Method::GET | Method::HEAD)
        && !path.starts_with("/api/")
        && path != "/metrics"
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// The sign-in form, with `401` and `WWW-Authenticate`.
pub(crate) fn login_page(problem: Option<&str>) -> Response {
    let notice = match problem {
        Some(p) => format!("<p class=\"problem\" role=\"alert\">{p}</p>"),
        None => String::new(),
    };
    let mut response = (
        StatusCode::UNAUTHORIZED,
        LOGIN_PAGE.replace("<!--notice-->", &notice),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"hl7-admin\""),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    super::secure_headers(headers);
    // The form's post then says where it comes from (`Origin`), which the sign-in checks.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Answers `POST /login`: a good token in the form body starts a session and sends the
/// browser to the dashboard; anything else gets the form again.
pub(crate) async fn login(
    request: Request,
    user_of: impl FnOnce(&[u8]) -> Option<String>,
    sessions: &Sessions,
) -> Response {
    let headers = request.headers();
    if !same_origin(headers) {
        return login_page(Some("Sign in from the dashboard's own page."));
    }
    let https = headers
        .get(header::ORIGIN)
        .is_some_and(|o| o.as_bytes().starts_with(b"https://"));
    let form = headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    });
    if !form {
        return login_page(Some("Sign in with the form."));
    }
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_LOGIN_BODY).await else {
        return login_page(Some("That token is too long."));
    };
    let token = form_value(&body, b"token").unwrap_or_default();
    let user = user_of(token.trim_ascii());
    let Some(user) = user else {
        tracing::debug!("admin sign-in refused: not a valid token");
        return login_page(Some("That token is not valid."));
    };
    let Some(id) = sessions.start(&user) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no random numbers").into_response();
    };
    tracing::info!(%user, "admin sign-in");
    let secure = if https { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}");
    redirect_home(&cookie)
}

/// Answers `POST /logout` (of a signed-in request): ends the session, clears the cookie.
pub(crate) fn logout(request: &Request, sessions: &Sessions) -> Response {
    if let Some(id) = cookie(request) {
        sessions.end(id);
    }
    redirect_home(&format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    ))
}

fn redirect_home(cookie: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/"));
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    super::secure_headers(headers);
    response
}

/// A form post from this very host (no sign-in forms on other sites): `Sec-Fetch-Site` says
/// `same-origin` when the browser sends it, and `Origin`, when sent, names the host the
/// request was sent to.
fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

/// The decoded value of `name` in an `application/x-www-form-urlencoded` body.
fn form_value(body: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3).and_then(|h| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                });
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = axum::http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn sessions_name_their_user_and_end() {
        let sessions = Sessions::default();
        let alice = sessions.start("alice").unwrap();
        let bob = sessions.start("bob").unwrap();
        assert_eq!(alice.len(), 64);
        assert_ne!(alice, bob);
        assert_eq!(sessions.user_of(alice.as_bytes()).as_deref(), Some("alice"));
        assert_eq!(sessions.user_of(bob.as_bytes()).as_deref(), Some("bob"));
        assert_eq!(sessions.user_of(&alice.as_bytes()[1..]), None);
        sessions.end(alice.as_bytes());
        assert_eq!(sessions.user_of(alice.as_bytes()), None);
        assert_eq!(sessions.user_of(bob.as_bytes()).as_deref(), Some("bob"));
    }

    #[test]
    fn sessions_are_bounded() {
        let sessions = Sessions::default();
        let first = sessions.start("u").unwrap();
        for _ in 0..MAX_SESSIONS {
            sessions.start("u").unwrap();
        }
        assert_eq!(sessions.user_of(first.as_bytes()), None);
        assert_eq!(
            sessions.open.lock().unwrap().len(),
            MAX_SESSIONS,
            "the least recently used went"
        );
    }

    #[test]
    fn cookie_is_found_among_others() {
        let r = request(
            Method::GET,
            "/",
            &[("cookie", "a=1; hl7_admin_session=abc; b=2")],
        );
        assert_eq!(cookie(&r), Some(&b"abc"[..]));
        let r = request(Method::GET, "/", &[("cookie", "hl7_admin_sessionx=abc")]);
        assert_eq!(cookie(&r), None);
        let r = request(Method::GET, "/", &[("cookie", "hl7_admin_session=")]);
        assert_eq!(cookie(&r), None);
    }

    #[test]
    fn cookie_changes_need_the_header() {
        assert!(cookie_allowed(&request(Method::GET, "/api/status", &[])));
        assert!(!cookie_allowed(&request(
            Method::POST,
            "/api/messages/1/reprocess",
            &[]
        )));
        assert!(cookie_allowed(&request(
            Method::POST,
            "/api/messages/1/reprocess",
            &[("x-hl7-admin", "1")]
        )));
    }

    #[test]
    fn pages_are_navigations_outside_the_api() {
        let html = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
        assert!(wants_page(&request(Method::GET, "/", &html)));
        assert!(wants_page(&request(Method::GET, "/dashboard", &html)));
        assert!(!wants_page(&request(Method::GET, "/api/status", &html)));
        assert!(!wants_page(&request(Method::GET, "/metrics", &html)));
        assert!(!wants_page(&request(Method::POST, "/", &html)));
        assert!(!wants_page(&request(
            Method::GET,
            "/",
            &[("accept", "application/json")]
        )));
    }

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(
            form_value(b"a=1&token=ab%2Bc+d%3D", b"token").as_deref(),
            Some(&b"ab+c d="[..])
        );
        assert_eq!(form_value(b"token", b"token").as_deref(), Some(&b""[..]));
        assert_eq!(form_value(b"x=1", b"token"), None);
        assert_eq!(percent_decode(b"%zz%4"), b"%zz%4");
    }

    #[test]
    fn origin_must_be_this_host() {
        let mut headers = axum::http::HeaderMap::new();
        assert!(same_origin(&headers));
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://evil.test"));
        assert!(!same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&headers));
    }
}
