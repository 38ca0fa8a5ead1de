//! DescribeCluster (key 60), versions 0–2: what `kafka-configs.sh`, `kafka-topics.sh` and the
//! Java Admin's `describeCluster` ask first.
//!
//! This broker is the whole cluster and its controller. `endpoint_type` (v1+) must be 1
//! (brokers): 2 (controllers) answers ResponseError::MismatchedEndpointType.code(), anything else
//! ResponseError::UnsupportedEndpointType.code() (INVALID_REQUEST on v0, as Kafka does). Any
//! client may ask (Kafka's `AuthHelper.computeDescribeClusterResponse` authorizes nothing but
//! the authorized operations): cluster authorized operations are what the authorizer allows
//! (everything without one) when asked and the client may DESCRIBE the cluster, 0 when it may
//! not, else i32::MIN. `include_fenced_brokers` (v2) changes nothing: the broker is never fenced.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeClusterRequest, DescribeClusterResponse, ResponseKind,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, CLUSTER_NAME, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeCluster,
    min_version: 0,
    max_version: 2,
};

const BROKERS: i8 = 1;
const CONTROLLERS: i8 = 2;
pub fn handle(ctx: &RequestContext<'_>, request: DescribeClusterRequest) -> Reply {
    let endpoint_type = if ctx.version >= 1 {
        request.endpoint_type
    } else {
        BROKERS
    };
    let failed = |code: i16, message: String| {
        // Kafka refuses an endpoint type on v0 with INVALID_REQUEST.
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
            .with_cluster_authorized_operations(
                if !request.include_cluster_authorized_operations {
                    i32::MIN
                } else if ctx.authorize_cluster(AclOperation::Describe) {
                    ctx.authorized_operations(ResourceType::Cluster, CLUSTER_NAME)
                } else {
                    0
                },
            ),
    ))
}
