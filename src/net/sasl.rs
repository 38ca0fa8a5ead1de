//! SASL authentication on SASL_PLAINTEXT and SASL_SSL listeners: the state machine the
//! connection drives before it serves anything else.
//!
//! As in Kafka, a client on a SASL listener may send, in this order:
//! 1. ApiVersions (any number of times) — served as usual;
//! 2. SaslHandshake naming a mechanism — answered with the enabled mechanisms, or
//!    UNSUPPORTED_SASL_MECHANISM (33) and the connection closes;
//! 3. with SaslHandshake v1: SaslAuthenticate requests carrying the mechanism's tokens; with
//!    SaslHandshake v0 (old clients): the tokens as bare size-prefixed frames without a Kafka
//!    header, answered the same way.
//!
//! Anything else before authentication closes the connection (Kafka's IllegalSaslState). A
//! failed exchange is answered with SASL_AUTHENTICATION_FAILED (58) and the mechanism's message
//! (on v0, where there is no error field, the connection just closes), then the connection
//! closes. Afterwards the principal is `User:<name>` and the connection serves every API; later
//! SaslHandshake/SaslAuthenticate requests reach their handlers, which answer
//! ILLEGAL_SASL_STATE. Re-authentication (KIP-368) is not supported: `session_lifetime_ms` is 0.
//!
//! This module has no I/O: `Authenticator` takes decoded requests or raw tokens and says what to
//! answer, so it can be tested without sockets. Passwords are never logged.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    ResponseKind, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::scram::{ScramCredential, ScramMechanism, ScramServer};
use crate::config::listeners::SaslSettings;
use crate::log::error::NONE;

/// Where SCRAM credentials are looked up: the broker's current metadata image.
pub type ScramStore = Arc<dyn Fn(&str, ScramMechanism) -> Option<ScramCredential> + Send + Sync>;

/// One mechanism's server side: each client token gets a challenge, success or failure.
pub trait Mechanism: Send {
    fn evaluate(&mut self, token: &[u8]) -> Exchange;
}

/// The outcome of one token.
#[derive(Debug, PartialEq, Eq)]
pub enum Exchange {
    /// Send these bytes and wait for the client's next token.
    Challenge(Vec<u8>),
    /// Authenticated as `user`; the final server bytes (empty for PLAIN) go back to the client.
    Success { response: Vec<u8>, user: String },
    /// Authentication failed with this client-facing message (Kafka's wording).
    Failure(String),
}

/// Where the exchange stands.
enum State {
    /// ApiVersions and SaslHandshake accepted.
    Handshake,
    /// After SaslHandshake v1: SaslAuthenticate requests carry the tokens.
    Authenticate(Box<dyn Mechanism>),
    /// After SaslHandshake v0: the next frames are bare tokens.
    RawTokens(Box<dyn Mechanism>),
    Authenticated,
    /// The exchange failed; the connection closes after the answer.
    Failed,
}

/// What the connection does with a request while the client is not authenticated.
pub enum Outcome {
    /// Write this response and read the next frame.
    Respond(ResponseKind),
    /// Write this response, then close the connection.
    RespondAndClose(ResponseKind),
}

/// The SASL state of one connection.
pub struct Authenticator {
    settings: SaslSettings,
    scram: ScramStore,
    state: State,
    principal: Option<String>,
}

impl Authenticator {
    pub fn new(settings: SaslSettings, scram: ScramStore) -> Authenticator {
        Authenticator {
            settings,
            scram,
            state: State::Handshake,
            principal: None,
        }
    }

    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated)
    }

    /// `User:<name>` once authenticated.
    pub fn principal(&self) -> Option<&str> {
        self.principal.as_deref()
    }

    /// ApiVersions is served only before the handshake, as in Kafka.
    pub fn accepts_api_versions(&self) -> bool {
        matches!(self.state, State::Handshake)
    }

    /// True after a v0 handshake: the next frame is a bare token, not a request.
    pub fn expects_raw_token(&self) -> bool {
        matches!(self.state, State::RawTokens(_))
    }

    /// SaslHandshake: pick the mechanism or refuse it.
    pub fn handshake(&mut self, version: i16, request: &SaslHandshakeRequest) -> Outcome {
        let enabled: Vec<StrBytes> = self
            .settings
            .mechanisms
            .iter()
            .map(|m| StrBytes::from_string(m.clone()))
            .collect();
        let requested = request.mechanism.as_str();
        let mechanism = match self.state {
            State::Handshake => self.mechanism(requested),
            _ => None,
        };
        let response = SaslHandshakeResponse::default().with_mechanisms(enabled);
        let Some(mechanism) = mechanism else {
            let code = if matches!(self.state, State::Handshake) {
                ResponseError::UnsupportedSaslMechanism.code()
            } else {
                ResponseError::IllegalSaslState.code()
            };
            self.state = State::Failed;
            return Outcome::RespondAndClose(ResponseKind::SaslHandshake(
                response.with_error_code(code),
            ));
        };
        self.state = if version == 0 {
            State::RawTokens(mechanism)
        } else {
            State::Authenticate(mechanism)
        };
        Outcome::Respond(ResponseKind::SaslHandshake(response.with_error_code(NONE)))
    }

    /// SaslAuthenticate: one token of the exchange.
    pub fn authenticate(&mut self, request: &SaslAuthenticateRequest) -> Outcome {
        let response = SaslAuthenticateResponse::default();
        let State::Authenticate(mechanism) = &mut self.state else {
            self.state = State::Failed;
            return Outcome::RespondAndClose(ResponseKind::SaslAuthenticate(
                response
                    .with_error_code(ResponseError::IllegalSaslState.code())
                    .with_error_message(Some(StrBytes::from_static_str(
                        "Unexpected SaslAuthenticate request",
                    ))),
            ));
        };
        match mechanism.evaluate(&request.auth_bytes) {
            Exchange::Challenge(bytes) => Outcome::Respond(ResponseKind::SaslAuthenticate(
                response.with_auth_bytes(Bytes::from(bytes)),
            )),
            Exchange::Success {
                response: bytes,
                user,
            } => {
                self.succeed(user);
                Outcome::Respond(ResponseKind::SaslAuthenticate(
                    response.with_auth_bytes(Bytes::from(bytes)),
                ))
            }
            Exchange::Failure(message) => {
                self.state = State::Failed;
                Outcome::RespondAndClose(ResponseKind::SaslAuthenticate(
                    response
                        .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                        .with_error_message(Some(StrBytes::from_string(message))),
                ))
            }
        }
    }

    /// A bare token after a v0 handshake: `Ok(bytes)` to send back as a bare frame, `Err` with
    /// the reason when the connection must close (v0 has no way to carry an error).
    pub fn raw_token(&mut self, token: &[u8]) -> Result<Vec<u8>, String> {
        let State::RawTokens(mechanism) = &mut self.state else {
            return Err("unexpected SASL token".into());
        };
        match mechanism.evaluate(token) {
            Exchange::Challenge(bytes) => Ok(bytes),
            Exchange::Success { response, user } => {
                self.succeed(user);
                Ok(response)
            }
            Exchange::Failure(message) => {
                self.state = State::Failed;
                Err(message)
            }
        }
    }

    fn succeed(&mut self, user: String) {
        tracing::debug!("SASL client authenticated as User:{user}");
        self.principal = Some(format!("User:{user}"));
        self.state = State::Authenticated;
    }

    fn mechanism(&self, name: &str) -> Option<Box<dyn Mechanism>> {
        if !self.settings.mechanisms.iter().any(|m| m == name) {
            return None;
        }
        match name {
            "PLAIN" => Some(Box::new(Plain {
                settings: self.settings.clone(),
            })),
            _ => {
                let mechanism = ScramMechanism::from_name(name)?;
                let store = self.scram.clone();
                let lookup = Box::new(move |user: &str| store(user, mechanism));
                match ScramServer::new(mechanism, lookup) {
                    Ok(server) => Some(Box::new(server)),
                    Err(e) => {
                        tracing::error!("SASL/{name}: {e}");
                        None
                    }
                }
            }
        }
    }
}

/// SASL/PLAIN (RFC 4616) against the users of the listener's PlainLoginModule.
pub struct Plain {
    settings: SaslSettings,
}

impl Mechanism for Plain {
    fn evaluate(&mut self, token: &[u8]) -> Exchange {
        let parts: Vec<&[u8]> = token.split(|b| *b == 0).collect();
        let [authzid, user, password] = parts.as_slice() else {
            return Exchange::Failure(format!(
                "Invalid SASL/PLAIN response: expected 3 tokens, got {}",
                parts.len()
            ));
        };
        let (Ok(authzid), Ok(user)) = (std::str::from_utf8(authzid), std::str::from_utf8(user))
        else {
            return Exchange::Failure("Invalid SASL/PLAIN response: not UTF-8".into());
        };
        if user.is_empty() {
            return Exchange::Failure("Authentication failed: username not specified".into());
        }
        if password.is_empty() {
            return Exchange::Failure("Authentication failed: password not specified".into());
        }
        if !authzid.is_empty() && authzid != user {
            return Exchange::Failure(
                "Authentication failed: Client requested an authorization id that is different \
                 from username"
                    .into(),
            );
        }
        let expected = self.settings.plain_password(user);
        match expected {
            Some(expected) if constant_time_eq(expected.as_bytes(), password) => {
                Exchange::Success {
                    response: Vec::new(),
                    user: user.to_string(),
                }
            }
            _ => Exchange::Failure("Authentication failed: Invalid username or password".into()),
        }
    }
}

/// Compares secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn authenticator() -> Authenticator {
        let mut map = BTreeMap::new();
        map.insert("listeners".to_string(), "SASL_PLAINTEXT://:0".to_string());
        map.insert(
            "sasl.jaas.config".to_string(),
            "org.apache.kafka.common.security.plain.PlainLoginModule required \
             user_alice=\"pw\";"
                .to_string(),
        );
        let config = crate::config::BrokerConfig::from_map(map).unwrap();
        Authenticator::new(config.first_listener().sasl.clone(), Arc::new(|_, _| None))
    }

    fn handshake(a: &mut Authenticator, version: i16) {
        let r = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
        assert!(matches!(a.handshake(version, &r), Outcome::Respond(_)));
    }

    #[test]
    fn plain_success_sets_the_principal() {
        let mut a = authenticator();
        assert!(a.accepts_api_versions());
        handshake(&mut a, 1);
        assert!(!a.accepts_api_versions());
        let r = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from("\0alice\0pw"));
        assert!(matches!(a.authenticate(&r), Outcome::Respond(_)));
        assert!(a.is_authenticated());
        assert_eq!(a.principal(), Some("User:alice"));
    }

    #[test]
    fn v0_tokens_and_plain_messages() {
        let mut a = authenticator();
        handshake(&mut a, 0);
        assert!(a.expects_raw_token());
        assert_eq!(
            a.raw_token(b"alice\0alice\0pw"),
            Ok(Vec::new()),
            "an authorization id equal to the user is fine"
        );
        assert_eq!(a.principal(), Some("User:alice"));

        let plain = |token: &[u8]| {
            let mut a = authenticator();
            handshake(&mut a, 0);
            a.raw_token(token).unwrap_err()
        };
        assert_eq!(
            plain(b"\0alice\0nope"),
            "Authentication failed: Invalid username or password"
        );
        assert_eq!(
            plain(b"\0\0pw"),
            "Authentication failed: username not specified"
        );
        assert_eq!(
            plain(b"\0alice\0"),
            "Authentication failed: password not specified"
        );
        assert!(plain(b"alice-pw").contains("expected 3 tokens, got 1"));
    }
}
