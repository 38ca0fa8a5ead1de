//! CreateAcls (key 30), versions 1–3 (Kafka 4.4's range).
//!
//! Without an authorizer every creation fails with SECURITY_DISABLED ("No Authorizer is
//! configured."). With one, the caller needs ALTER on the cluster (else every creation gets
//! CLUSTER_AUTHORIZATION_FAILED). Each binding is checked as Kafka checks it (`AclApis`, then
//! `AclControlManager.validateNewAcl`, then the principal parse), failing alone with
//! INVALID_REQUEST and Kafka's message: a CLUSTER resource not named `kafka-cluster`, an empty
//! name, resource type ANY, pattern type ANY or MATCH, operation ANY, permission ANY, a
//! principal without `Type:`. Valid bindings become `Acl` metadata records (journaled, then
//! applied); a binding identical to an existing one succeeds without a new record. An
//! UNKNOWN element fails Kafka's request parsing, which closes the connection.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{ApiKey, CreateAclsRequest, CreateAclsResponse, ResponseKind};

use super::{ApiSpec, CLUSTER_AUTHORIZATION_MESSAGE, Reply, RequestContext, owned_str};
use crate::metadata::acls::{
    AclBinding, AclOperation, CLUSTER_NAME, PatternType, Permission, ResourceType,
};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::CreateAcls,
    min_version: 1,
    max_version: 3,
};

pub async fn handle(ctx: &RequestContext<'_>, request: CreateAclsRequest) -> Reply {
    if request.creations.iter().any(has_unknown_element) {
        return Reply::Close;
    }
    let count = request.creations.len();
    let refuse_all = |code: ResponseError, message: &str| {
        let result = AclCreationResult::default()
            .with_error_code(code.code())
            .with_error_message(Some(owned_str(message)));
        Reply::message(ResponseKind::CreateAcls(
            CreateAclsResponse::default().with_results(vec![result; count]),
        ))
    };
    if let Some((code, message)) = refusal(ctx) {
        return refuse_all(code, message);
    }
    let checked: Vec<Result<AclBinding, String>> = request.creations.iter().map(binding).collect();
    let valid: Vec<AclBinding> = checked.iter().filter_map(|c| c.clone().ok()).collect();
    let mut created = ctx.broker.metadata.create_acls(valid).await.into_iter();
    let results = checked
        .into_iter()
        .map(|c| {
            let outcome = match c {
                Err(message) => Err((ResponseError::InvalidRequest, message)),
                Ok(_) => match created.next() {
                    Some(Ok(())) => Ok(()),
                    Some(Err(e)) => Err((e.code, e.message)),
                    None => Err((ResponseError::UnknownServerError, String::new())),
                },
            };
            match outcome {
                Ok(()) => AclCreationResult::default(),
                Err((code, message)) => AclCreationResult::default()
                    .with_error_code(code.code())
                    .with_error_message(Some(owned_str(&message))),
            }
        })
        .collect();
    Reply::message(ResponseKind::CreateAcls(
        CreateAclsResponse::default().with_results(results),
    ))
}

/// Kafka's `CreateAclsRequest.validate`: UNKNOWN (0, or a code Kafka does not know) anywhere.
fn has_unknown_element(c: &AclCreation) -> bool {
    !(1..=7).contains(&c.resource_type)
        || !(1..=4).contains(&c.resource_pattern_type)
        || !(1..=15).contains(&c.operation)
        || !(1..=3).contains(&c.permission_type)
}

/// The binding a creation asks for, or Kafka's reason to refuse it, checked in Kafka's order.
fn binding(c: &AclCreation) -> Result<AclBinding, String> {
    let name = c.resource_name.to_string();
    let resource_type = ResourceType::from_code(c.resource_type);
    if resource_type == Some(ResourceType::Cluster) && name != CLUSTER_NAME {
        return Err(format!(
            "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
        ));
    }
    if name.is_empty() {
        return Err("Invalid empty resource name".into());
    }
    let resource_type = resource_type.ok_or("Invalid resourceType ANY")?;
    let pattern_type = PatternType::from_code(c.resource_pattern_type).ok_or_else(|| {
        let name = if c.resource_pattern_type == 1 {
            "ANY"
        } else {
            "MATCH"
        };
        format!("Invalid patternType {name}")
    })?;
    let operation = AclOperation::from_code(c.operation).ok_or("Invalid operation ANY")?;
    let permission =
        Permission::from_code(c.permission_type).ok_or("Invalid permissionType ANY")?;
    let binding = AclBinding {
        resource_type,
        resource_name: name,
        pattern_type,
        principal: c.principal.to_string(),
        host: c.host.to_string(),
        operation,
        permission,
    };
    crate::metadata::acls::validate_new(&binding)?;
    Ok(binding)
}

/// Why CreateAcls and DeleteAcls refuse a whole request, in Kafka's order: ALTER on the cluster
/// first, then whether an authorizer exists at all.
pub(super) fn refusal(ctx: &RequestContext<'_>) -> Option<(ResponseError, &'static str)> {
    if !ctx.authorize_cluster(AclOperation::Alter) {
        Some((
            ResponseError::ClusterAuthorizationFailed,
            CLUSTER_AUTHORIZATION_MESSAGE,
        ))
    } else if !ctx.authorizer_enabled() {
        Some((
            ResponseError::SecurityDisabled,
            "No Authorizer is configured.",
        ))
    } else {
        None
    }
}
