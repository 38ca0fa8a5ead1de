//! ApiVersions (key 18), versions 0–4.
//!
//! The advertised table is generated from the handler registry (`handlers::APIS`), so it
//! cannot list an API without a handler. v3+ validates `client_software_name/version` as Kafka
//! does (INVALID_REQUEST when malformed). A request with a version newer than ours is answered
//! by the connection with a v0 response carrying UNSUPPORTED_VERSION and, as Kafka does, only
//! the ApiVersions range: all a client needs to retry with a version we know.
//!
//! v3+ carries the feature levels (`metadata::features`) in tagged fields, as Kafka does; as in
//! Kafka (KIP-1022) a request older than v4 is not told of supported features whose minimum is
//! 0. No tagged field is written at its default value: librdkafka 2.0 (Debian's kcat) misparses
//! responses that do, and Kafka never does.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, ResponseKind};
use kafka_protocol::protocol::StrBytes;

use super::{APIS, ApiSpec, Reply, RequestContext};
use crate::log::error::NONE;
use crate::metadata::features::{FEATURES, FINALIZED_EPOCH};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::ApiVersions,
    min_version: 0,
    max_version: 4,
};

pub fn handle(ctx: &RequestContext<'_>, request: ApiVersionsRequest) -> Reply {
    let valid = ctx.version < 3
        || (is_valid_software_field(&request.client_software_name)
            && is_valid_software_field(&request.client_software_version));
    let response = if valid {
        let mut r = supported(NONE);
        if ctx.version >= 3 {
            with_features(&mut r, ctx.version);
        }
        r
    } else {
        ApiVersionsResponse::default().with_error_code(ResponseError::InvalidRequest.code())
    };
    Reply::message(ResponseKind::ApiVersions(response))
}

/// The answer to an ApiVersions request whose version we do not know (encoded as v0).
pub fn unsupported_version_response() -> ResponseKind {
    let own = ApiVersion::default()
        .with_api_key(SPEC.key as i16)
        .with_min_version(SPEC.min_version)
        .with_max_version(SPEC.max_version);
    ResponseKind::ApiVersions(
        ApiVersionsResponse::default()
            .with_error_code(ResponseError::UnsupportedVersion.code())
            .with_api_keys(vec![own]),
    )
}

fn supported(error_code: i16) -> ApiVersionsResponse {
    let api_keys = APIS
        .iter()
        .map(|s| {
            ApiVersion::default()
                .with_api_key(s.key as i16)
                .with_min_version(s.min_version)
                .with_max_version(s.max_version)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_api_keys(api_keys)
}

/// The feature tagged fields of a v3+ answer.
fn with_features(r: &mut ApiVersionsResponse, version: i16) {
    r.supported_features = FEATURES
        .iter()
        .filter(|f| version >= 4 || f.min_version > 0)
        .map(|f| {
            SupportedFeatureKey::default()
                .with_name(StrBytes::from_static_str(f.name))
                .with_min_version(f.min_version)
                .with_max_version(f.max_version)
        })
        .collect();
    r.finalized_features_epoch = FINALIZED_EPOCH;
    r.finalized_features = FEATURES
        .iter()
        .filter(|f| f.finalized > 0)
        .map(|f| {
            FinalizedFeatureKey::default()
                .with_name(StrBytes::from_static_str(f.name))
                .with_min_version_level(f.finalized)
                .with_max_version_level(f.finalized)
        })
        .collect();
}

/// Kafka's rule: `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn is_valid_software_field(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_alphanumeric();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            edge(first)
                && edge(last)
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_field_rule() {
        assert!(is_valid_software_field("apache-kafka-java"));
        assert!(is_valid_software_field("4.3.0"));
        assert!(is_valid_software_field("a"));
        assert!(!is_valid_software_field(""));
        assert!(!is_valid_software_field("-x"));
        assert!(!is_valid_software_field("x y"));
    }

    #[test]
    fn advertises_exactly_the_registry() {
        let r = supported(0);
        assert_eq!(r.api_keys.len(), APIS.len());
        // KIP-848 groups are not implemented: advertising them would switch clients over.
        assert!(r.api_keys.iter().all(|k| {
            k.api_key != ApiKey::ConsumerGroupHeartbeat as i16
                && k.api_key != ApiKey::ConsumerGroupDescribe as i16
        }));
        assert_eq!(
            r.finalized_features_epoch, -1,
            "no default-valued tagged field is written"
        );
    }

    #[test]
    fn features_as_kafka_reports_them() {
        let mut r = supported(0);
        with_features(&mut r, 4);
        let mv = r
            .supported_features
            .iter()
            .find(|f| f.name.as_str() == "metadata.version")
            .map(|f| (f.min_version, f.max_version));
        assert_eq!(mv, Some((7, 33)));
        assert_eq!(r.finalized_features_epoch, FINALIZED_EPOCH);
        assert!(
            r.finalized_features
                .iter()
                .all(|f| f.min_version_level == f.max_version_level)
        );
    }
}
