//! DeleteTopics (key 20), versions 1–6.
//!
//! v1–5 name topics in `topic_names`; v6 uses `topics`, each with a name or an id (both or
//! neither: INVALID_REQUEST). Unknown names answer UNKNOWN_TOPIC_OR_PARTITION, unknown ids
//! UNKNOWN_TOPIC_ID, each with the error's own text (v5+). A deleted topic's partitions stop
//! serving at once and their directories are removed in the background; recreating the name
//! gives a new topic id. With `delete.topic.enable=false` every topic answers
//! TOPIC_DELETION_DISABLED (INVALID_REQUEST before v3), as Kafka does.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    ApiKey, DeleteTopicsRequest, DeleteTopicsResponse, ResponseKind, TopicName,
};
use uuid::Uuid;

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DeleteTopics,
    min_version: 1,
    max_version: 6,
};

pub async fn handle(ctx: &RequestContext<'_>, request: DeleteTopicsRequest) -> Reply {
    let targets: Vec<(Option<String>, Uuid)> = if ctx.version >= 6 {
        request
            .topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .iter()
            .map(|n| (Some(n.0.to_string()), Uuid::nil()))
            .collect()
    };
    // `delete.topic.enable` (Kafka's default: true).
    let deletion_enabled = ctx
        .broker
        .effective_config()
        .setting("delete.topic.enable", true);
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let result = |name: Option<String>, id: Uuid, code: i16, message: Option<String>| {
            DeletableTopicResult::default()
                .with_name(name.map(|n| TopicName(owned_str(&n))))
                .with_topic_id(id)
                .with_error_code(code)
                .with_error_message(message.map(|m| owned_str(&m)))
        };
        if !deletion_enabled {
            // Kafka: TopicDeletionDisabledException from v3, InvalidRequestException before.
            let code = if ctx.version >= 3 {
                ResponseError::TopicDeletionDisabled.code()
            } else {
                ResponseError::InvalidRequest.code()
            };
            let message = (ctx.version >= 5).then(|| "Topic deletion is disabled.".to_string());
            responses.push(result(name, id, code, message));
            continue;
        }
        let topic = match (&name, id.is_nil()) {
            (Some(_), false) | (None, true) => {
                responses.push(result(
                    name,
                    id,
                    ResponseError::InvalidRequest.code(),
                    Some("Exactly one of topic name or topic id must be set".into()),
                ));
                continue;
            }
            (Some(n), true) => ctx.broker.topics.get(n),
            (None, false) => ctx.broker.topics.get_by_id(&id),
        };
        // Kafka: DESCRIBE decides whether the client may learn the topic exists, DELETE whether
        // it may delete it; both refusals are TOPIC_AUTHORIZATION_FAILED.
        let refused = |name: Option<String>| {
            let message = (ctx.version >= 5).then(|| "Topic authorization failed.".to_string());
            result(
                name,
                id,
                ResponseError::TopicAuthorizationFailed.code(),
                message,
            )
        };
        let may = |op, n: &str| ctx.authorize(op, ResourceType::Topic, n);
        if let Some(n) = &name
            && !may(AclOperation::Describe, n)
        {
            responses.push(refused(name));
            continue;
        }
        if let Some(t) = &topic
            && !(may(AclOperation::Describe, &t.name) && may(AclOperation::Delete, &t.name))
        {
            responses.push(refused(name));
            continue;
        }
        let Some(topic) = topic else {
            // Kafka explains these with the errors' own texts.
            let (code, message) = if name.is_some() {
                (
                    ResponseError::UnknownTopicOrPartition.code(),
                    "This server does not host this topic-partition.",
                )
            } else {
                (
                    ResponseError::UnknownTopicId.code(),
                    "This server does not host this topic ID.",
                )
            };
            let message = (ctx.version >= 5).then(|| message.to_string());
            responses.push(result(name, id, code, message));
            continue;
        };
        // UNKNOWN_TOPIC_OR_PARTITION only when the topic is gone; a journal failure is a
        // storage error, with its message (it used to be reported as an unknown topic).
        let (code, message) = match ctx.broker.metadata.delete_topic(&topic.name).await {
            Ok(_) => (NONE, None),
            Err(e) => (e.code().code(), (ctx.version >= 5).then(|| e.to_string())),
        };
        responses.push(result(
            Some(topic.name.to_string()),
            topic.id,
            code,
            message,
        ));
    }
    Reply::message(ResponseKind::DeleteTopics(
        DeleteTopicsResponse::default().with_responses(responses),
    ))
}
