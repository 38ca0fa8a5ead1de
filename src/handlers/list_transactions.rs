//! ListTransactions (key 66), versions 0–2: the transactional ids this coordinator knows, with
//! their producer id and state, filtered by state names (unknown names are echoed back in
//! `unknown_state_filters`, as Kafka does), producer ids, (v1) how long a transaction has been
//! running and (v2) a regular expression the whole id must match (INVALID_REGULAR_EXPRESSION
//! when it does not compile; compiled programs are bounded to 1 MiB).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ApiKey, ListTransactionsRequest, ListTransactionsResponse, ProducerId, ResponseKind,
    TransactionalId,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::coordinator::txn::TxnState;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::ListTransactions,
    min_version: 0,
    max_version: 2,
};

/// The most memory a client's pattern may compile to.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

pub async fn handle(ctx: &RequestContext<'_>, request: ListTransactionsRequest) -> Reply {
    let mut states = Vec::new();
    let mut unknown = Vec::new();
    for name in &request.state_filters {
        match TxnState::from_name(name) {
            Some(s) => states.push(s),
            None => unknown.push(name.clone()),
        }
    }
    let mut response = ListTransactionsResponse::default().with_unknown_state_filters(unknown);
    if !request.state_filters.is_empty() && states.is_empty() {
        // Only unknown states asked for: nothing matches.
        return Reply::message(ResponseKind::ListTransactions(response));
    }
    let pattern = match request
        .transactional_id_pattern
        .as_ref()
        .filter(|p| ctx.version >= 2 && !p.is_empty())
    {
        None => None,
        Some(p) => match regex::RegexBuilder::new(&format!("^(?:{})$", p.as_str()))
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
        {
            Ok(re) => Some(re),
            Err(_) => {
                response.error_code = ResponseError::InvalidRegularExpression.code();
                return Reply::message(ResponseKind::ListTransactions(response));
            }
        },
    };
    let producer_ids = request.producer_id_filters.iter().map(|p| p.0).collect();
    let duration = if ctx.version >= 1 {
        request.duration_filter
    } else {
        -1
    };
    match ctx
        .broker
        .transactions
        .list(states, producer_ids, duration)
        .await
    {
        Ok(listed) => {
            response.transaction_states = listed
                .into_iter()
                .filter(|(id, _, _)| pattern.as_ref().is_none_or(|re| re.is_match(id)))
                // Kafka lists only the ids the client may DESCRIBE.
                .filter(|(id, _, _)| {
                    ctx.authorize(AclOperation::Describe, ResourceType::TransactionalId, id)
                })
                .map(|(id, pid, state)| {
                    TransactionState::default()
                        .with_transactional_id(TransactionalId(owned_str(&id)))
                        .with_producer_id(ProducerId(pid))
                        .with_transaction_state(owned_str(state.name()))
                })
                .collect();
        }
        Err(code) => response.error_code = code,
    }
    Reply::message(ResponseKind::ListTransactions(response))
}
