//! SaslHandshake (key 17), versions 0–1.
//!
//! On a SASL listener the handshake happens before any handler runs: the connection's
//! authenticator (`net::sasl`) answers it, and also a SaslHandshake that starts a
//! re-authentication (KIP-368) of a session with an expiry. A request that reaches this handler
//! comes from a client that is already authenticated and cannot re-authenticate now (no
//! session expiry, or less than a second since the last one), or from a listener without
//! SASL; Kafka answers both with ILLEGAL_SASL_STATE, and so does this.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{ApiKey, ResponseKind, SaslHandshakeRequest, SaslHandshakeResponse};

use super::{ApiSpec, Reply, RequestContext};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::SaslHandshake,
    min_version: 0,
    max_version: 1,
};

pub fn handle(_ctx: &RequestContext<'_>, _request: SaslHandshakeRequest) -> Reply {
    Reply::message(ResponseKind::SaslHandshake(
        SaslHandshakeResponse::default().with_error_code(ResponseError::IllegalSaslState.code()),
    ))
}
