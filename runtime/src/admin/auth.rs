//! Bearer tokens: every request must carry one of the configured tokens.
//!
//! Tokens are kept only as SHA-256 digests. A presented token is hashed and compared with
//! every configured digest in constant time (no early exit on the first differing byte, and
//! every user checked whatever matched), so neither the time of a refusal nor of an
//! acceptance tells how much of a token was right, or which user's.
//!
//! A browser may present the dashboard's session cookie instead, made from a token by
//! `POST /login` and checked the same way ([`super::dashboard`]'s `session` module).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::dashboard::session::{self, Sessions};

/// Who made a request: the user name configured with the token it presented. Handlers find
/// it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User(pub String);

/// The configured users and their token digests.
#[derive(Clone, Default)]
pub(crate) struct Tokens {
    users: Vec<(String, [u8; 32])>,
    /// The dashboard's browser sessions.
    sessions: Arc<Sessions>,
}

impl std::fmt::Debug for Tokens {
    // The users only: not even the token digests go to a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.users.iter().map(|(u, _)| u))
            .finish()
    }
}

impl Tokens {
    pub(crate) fn add(&mut self, user: String, token: &str) {
        self.users.push((user, digest(token.as_bytes())));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The user whose token this is, checking every user in constant time.
    fn user_of(&self, presented: &[u8]) -> Option<&str> {
        let presented = digest(presented);
        let mut found = None;
        for (user, expected) in &self.users {
            if constant_time_eq(&presented, expected) {
                found = Some(user.as_str());
            }
        }
        found
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Equal digests, looking at every byte whatever the first difference.
pub(crate) fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(request: &Request) -> Option<&[u8]> {
    let value = request.headers().get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = token.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// The middleware in front of every route: a request without a configured token gets
/// `401` with `WWW-Authenticate: Bearer`.
pub(crate) async fn require_token(
    State(tokens): State<Arc<Tokens>>,
    mut request: Request,
    next: Next,
) -> Response {
    if session::is_login(&request) {
        let user_of = |token: &[u8]| tokens.user_of(token).map(str::to_owned);
        return session::login(request, user_of, &tokens.sessions).await;
    }
    let user = match bearer(&request) {
        Some(token) => tokens.user_of(token).map(str::to_owned),
        None => session::cookie(&request)
            .filter(|_| session::cookie_allowed(&request))
            .and_then(|id| tokens.sessions.user_of(id)),
    };
    match user {
        Some(_) if session::is_logout(&request) => session::logout(&request, &tokens.sessions),
        Some(user) => {
            request.extensions_mut().insert(User(user));
            next.run(request).await
        }
        None => {
            tracing::debug!(path = %request.uri().path(), "admin request refused: no valid token");
            if session::wants_page(&request) {
                return session::login_page(None);
            }
            unauthorized()
        }
    }
}

fn unauthorized() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({ "error": "a valid bearer token is required" })),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"hl7-admin\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_user() {
        let mut tokens = Tokens::default();
        tokens.add("alice".into(), "alice-token-0123456789");
        tokens.add("bob".into(), "bob-token-0123456789");
        assert_eq!(tokens.user_of(b"alice-token-0123456789"), Some("alice"));
        assert_eq!(tokens.user_of(b"bob-token-0123456789"), Some("bob"));
        assert_eq!(tokens.user_of(b"alice-token-012345678"), None);
        assert_eq!(tokens.user_of(b""), None);
    }

    #[test]
    fn bearer_header_is_read() {
        let request = |value: &str| {
            axum::http::Request::builder()
                .header(header::AUTHORIZATION, value)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert_eq!(bearer(&request("Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer(&request("bearer  abc ")), Some(&b"abc"[..]));
        assert_eq!(bearer(&request("Basic abc")), None);
        assert_eq!(bearer(&request("Bearer ")), None);
    }
}
