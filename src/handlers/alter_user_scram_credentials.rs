//! AlterUserScramCredentials (key 51), version 0 (all Kafka 4.4 has).
//!
//! The client sends, per upsertion, the salt, the iteration count and the *salted* password
//! (the password never travels); the metadata owner validates the request as Kafka's controller
//! does (`metadata::scram::alter`: iterations 4096..=16384, known mechanism, non-empty user,
//! each user once per request, deletions only of existing credentials), derives StoredKey and
//! ServerKey, and journals one record per accepted alteration before answering. One result per
//! user. Needs ALTER on the cluster: otherwise every user named gets CLUSTER_AUTHORIZATION_FAILED,
//! sorted, as Kafka's `getErrorResponse` (Kafka's message names the request; ours is the error's
//! own text). Kafka writes a
//! request's records atomically, here each is journaled in turn (a journal failure midway
//! answers KAFKA_STORAGE_ERROR for every user, with the earlier alterations kept).

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey, ResponseKind,
};

use super::{ApiSpec, CLUSTER_AUTHORIZATION_MESSAGE, Reply, RequestContext, owned_str};
use crate::metadata::acls::AclOperation;
use crate::metadata::scram::{Deletion, Upsertion};
use kafka_protocol::ResponseError;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::AlterUserScramCredentials,
    min_version: 0,
    max_version: 0,
};

pub async fn handle(ctx: &RequestContext<'_>, request: AlterUserScramCredentialsRequest) -> Reply {
    if !ctx.authorize_cluster(AclOperation::Alter) {
        let users: std::collections::BTreeSet<String> = request
            .deletions
            .iter()
            .map(|d| d.name.to_string())
            .chain(request.upsertions.iter().map(|u| u.name.to_string()))
            .collect();
        let results = users
            .iter()
            .map(|user| {
                AlterUserScramCredentialsResult::default()
                    .with_user(owned_str(user))
                    .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
                    .with_error_message(Some(owned_str(CLUSTER_AUTHORIZATION_MESSAGE)))
            })
            .collect();
        return Reply::message(ResponseKind::AlterUserScramCredentials(
            AlterUserScramCredentialsResponse::default().with_results(results),
        ));
    }
    let upsertions: Vec<Upsertion> = request
        .upsertions
        .iter()
        .map(|u| Upsertion {
            user: u.name.to_string(),
            mechanism: u.mechanism,
            iterations: u.iterations,
            salt: u.salt.to_vec(),
            salted_password: u.salted_password.to_vec(),
        })
        .collect();
    let deletions: Vec<Deletion> = request
        .deletions
        .iter()
        .map(|d| Deletion {
            user: d.name.to_string(),
            mechanism: d.mechanism,
        })
        .collect();
    let results = match ctx
        .broker
        .metadata
        .alter_scram_credentials(upsertions, deletions)
        .await
    {
        Ok(results) => results
            .into_iter()
            .map(|r| {
                AlterUserScramCredentialsResult::default()
                    .with_user(owned_str(&r.user))
                    .with_error_code(r.error)
                    .with_error_message(r.message.as_deref().map(owned_str))
            })
            .collect(),
        Err(e) => {
            let mut users: Vec<&str> = request
                .upsertions
                .iter()
                .map(|u| u.name.as_str())
                .chain(request.deletions.iter().map(|d| d.name.as_str()))
                .collect();
            users.sort_unstable();
            users.dedup();
            users
                .into_iter()
                .map(|u| {
                    AlterUserScramCredentialsResult::default()
                        .with_user(owned_str(u))
                        .with_error_code(e.code.code())
                        .with_error_message(Some(owned_str(&e.message)))
                })
                .collect()
        }
    };
    Reply::message(ResponseKind::AlterUserScramCredentials(
        AlterUserScramCredentialsResponse::default().with_results(results),
    ))
}
