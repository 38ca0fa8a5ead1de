//! SaslAuthenticate (key 36), versions 0–2.
//!
//! On a SASL listener the connection's authenticator (`net::sasl`) answers SaslAuthenticate
//! until the client is authenticated, and during a re-authentication (KIP-368), where v1+
//! carries `session_lifetime_ms`. A request that reaches this handler comes after
//! authentication without a re-authentication handshake, or on a listener without SASL:
//! ILLEGAL_SASL_STATE, as Kafka answers.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    ApiKey, ResponseKind, SaslAuthenticateRequest, SaslAuthenticateResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{ApiSpec, Reply, RequestContext};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::SaslAuthenticate,
    min_version: 0,
    max_version: 2,
};

pub fn handle(_ctx: &RequestContext<'_>, _request: SaslAuthenticateRequest) -> Reply {
    Reply::message(ResponseKind::SaslAuthenticate(
        SaslAuthenticateResponse::default()
            .with_error_code(ResponseError::IllegalSaslState.code())
            .with_error_message(Some(StrBytes::from_static_str(
                "SaslAuthenticate request received after successful authentication",
            ))),
    ))
}
