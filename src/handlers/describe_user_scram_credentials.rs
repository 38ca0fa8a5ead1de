//! DescribeUserScramCredentials (key 50), version 0 (all Kafka 4.4 has).
//!
//! Answers from the current metadata image, as Kafka's `ScramImage.describe`: `users` null or
//! empty means every user with a credential; a user named twice gets DUPLICATE_RESOURCE, a user
//! without credentials RESOURCE_NOT_FOUND, each with Kafka's message. Only mechanisms and
//! iteration counts are described — salts and keys never leave the broker. Needs DESCRIBE on the
//! cluster: otherwise, as Kafka's `getErrorResponse`, CLUSTER_AUTHORIZATION_FAILED at the top
//! and on a result per user named.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    ApiKey, DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse, ResponseKind,
};

use super::{ApiSpec, CLUSTER_AUTHORIZATION_MESSAGE, Reply, RequestContext, owned_str};
use crate::metadata::acls::AclOperation;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeUserScramCredentials,
    min_version: 0,
    max_version: 0,
};

pub fn handle(ctx: &RequestContext<'_>, request: DescribeUserScramCredentialsRequest) -> Reply {
    if !ctx.authorize_cluster(AclOperation::Describe) {
        let denied = ResponseError::ClusterAuthorizationFailed.code();
        let message = || Some(owned_str(CLUSTER_AUTHORIZATION_MESSAGE));
        let results = request
            .users
            .iter()
            .flatten()
            .map(|_| {
                DescribeUserScramCredentialsResult::default()
                    .with_error_code(denied)
                    .with_error_message(message())
            })
            .collect();
        return Reply::message(ResponseKind::DescribeUserScramCredentials(
            DescribeUserScramCredentialsResponse::default()
                .with_error_code(denied)
                .with_error_message(message())
                .with_results(results),
        ));
    }
    let credentials = ctx.broker.metadata.scram_credentials();
    // user -> how many times the request names it
    let mut wanted: BTreeMap<String, usize> = BTreeMap::new();
    match request.users.as_deref() {
        None | Some([]) => wanted.extend(credentials.keys().map(|u| (u.clone(), 1))),
        Some(users) => {
            for u in users {
                *wanted.entry(u.name.to_string()).or_default() += 1;
            }
        }
    }
    let results = wanted
        .into_iter()
        .map(|(user, named)| {
            let result = DescribeUserScramCredentialsResult::default().with_user(owned_str(&user));
            if named > 1 {
                return result
                    .with_error_code(ResponseError::DuplicateResource.code())
                    .with_error_message(Some(owned_str(&format!(
                        "Cannot describe SCRAM credentials for the same user twice in a single \
                         request: {user}"
                    ))));
            }
            match credentials.get(&user) {
                Some(mechanisms) if !mechanisms.is_empty() => result.with_credential_infos(
                    mechanisms
                        .iter()
                        .map(|(m, c)| {
                            CredentialInfo::default()
                                .with_mechanism(m.type_id())
                                .with_iterations(c.iterations)
                        })
                        .collect(),
                ),
                _ => result
                    .with_error_code(ResponseError::ResourceNotFound.code())
                    .with_error_message(Some(owned_str(&format!(
                        "Attempt to describe a user credential that does not exist: {user}"
                    )))),
            }
        })
        .collect();
    Reply::message(ResponseKind::DescribeUserScramCredentials(
        DescribeUserScramCredentialsResponse::default().with_results(results),
    ))
}
