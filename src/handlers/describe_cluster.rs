//! DescribeCluster (key 60), versions 0–2: what `kafka-configs.sh`, `kafka-topics.sh` and the
//! Java Admin's `describeCluster` ask first.
//!
//! This broker is the whole cluster and its controller. `endpoint_type` (v1+) must be 1
//! (brokers): 2 (controllers) answers ResponseError::MismatchedEndpointType.code(), anything else
//! ResponseError::UnsupportedEndpointType.code() (INVALID_REQUEST on v0, as Kafka does). Cluster authorized
//! operations are everything a broker without an authorizer allows when asked, else
//! i32::MIN. `include_fenced_brokers` (v2) changes nothing: the broker is never fenced.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeClusterRequest, DescribeClusterResponse, ResponseKind,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeCluster,
    min_version: 0,
    max_version: 2,
};

const BROKERS: i8 = 1;
const CONTROLLERS: i8 = 2;
/// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE:
/// what Kafka 4.4 reports for the cluster without an authorizer (also in Metadata v8–10).
/// CREATE_TOKENS and DESCRIBE_TOKENS are not among them.
pub const CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

pub fn handle(ctx: &RequestContext<'_>, request: DescribeClusterRequest) -> Reply {
    let endpoint_type = if ctx.version >= 1 {
        request.endpoint_type
    } else {
        BROKERS
    };
    let failed = |code: i16, message: String| {
        let code = if ctx.version == 0 {
            ResponseError::InvalidRequest.code()
        } else {
            code
        };
        Reply::message(ResponseKind::DescribeCluster(
            DescribeClusterResponse::default()
                .with_error_code(code)
                .with_error_message(Some(owned_str(&message)))
                .with_endpoint_type(BROKERS)
                .with_controller_id(BrokerId(-1))
                .with_cluster_authorized_operations(i32::MIN),
        ))
    };
    if endpoint_type == CONTROLLERS {
        return failed(
            ResponseError::MismatchedEndpointType.code(),
            "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER".into(),
        );
    }
    if endpoint_type != BROKERS {
        return failed(
            ResponseError::UnsupportedEndpointType.code(),
            format!("Unsupported endpoint type {endpoint_type}"),
        );
    }
    let broker = ctx.broker;
    let node = BrokerId(broker.config.node_id);
    let advertised = broker.config.advertised_for(ctx.listener);
    Reply::message(ResponseKind::DescribeCluster(
        DescribeClusterResponse::default()
            .with_error_code(NONE)
            .with_endpoint_type(BROKERS)
            .with_cluster_id(owned_str(&broker.cluster_id))
            .with_controller_id(node)
            .with_brokers(vec![
                DescribeClusterBroker::default()
                    .with_broker_id(node)
                    .with_host(owned_str(&advertised.host))
                    .with_port(i32::from(advertised.port))
                    .with_rack(None)
                    .with_is_fenced(false),
            ])
            .with_cluster_authorized_operations(if request.include_cluster_authorized_operations {
                CLUSTER_OPERATIONS
            } else {
                i32::MIN
            }),
    ))
}
