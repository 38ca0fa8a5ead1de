//! The transaction coordinator's settings (`transaction.*`, `transactional.id.*`), with Kafka's
//! names and defaults.

use std::collections::BTreeMap;

use super::setting as get;

/// Settings of the transaction coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a producer may ask for.
    pub max_timeout_ms: i32,
    /// `transaction.state.log.num.partitions`
    pub state_log_num_partitions: i32,
    /// `transaction.state.log.segment.bytes`
    pub state_log_segment_bytes: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often transactions
    /// past their timeout are looked for (and aborted).
    pub abort_timed_out_interval_ms: i64,
    /// `transactional.id.expiration.ms`: a transactional id with no transaction in progress
    /// and no update for this long is removed (a tombstone in `__transaction_state`).
    pub id_expiration_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`: how often expired
    /// transactional ids are looked for.
    pub remove_expired_interval_ms: i64,
}

impl Default for TxnConfig {
    /// Kafka 4's defaults.
    fn default() -> Self {
        TxnConfig {
            max_timeout_ms: 900_000,
            state_log_num_partitions: 50,
            state_log_segment_bytes: 100 * 1024 * 1024,
            abort_timed_out_interval_ms: 10_000,
            id_expiration_ms: 604_800_000,
            remove_expired_interval_ms: 3_600_000,
        }
    }
}

impl TxnConfig {
    /// Reads the settings from explicitly-set broker values; `Err((key, value))` names the first
    /// invalid one.
    pub fn from_overrides(map: &BTreeMap<String, String>) -> Result<TxnConfig, (String, String)> {
        let d = TxnConfig::default();
        Ok(TxnConfig {
            max_timeout_ms: get(map, "transaction.max.timeout.ms", d.max_timeout_ms, 1)?,
            state_log_num_partitions: get(
                map,
                "transaction.state.log.num.partitions",
                d.state_log_num_partitions,
                1,
            )?,
            state_log_segment_bytes: get(
                map,
                "transaction.state.log.segment.bytes",
                d.state_log_segment_bytes,
                1,
            )?,
            abort_timed_out_interval_ms: get(
                map,
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                d.abort_timed_out_interval_ms,
                1,
            )?,
            id_expiration_ms: get(map, "transactional.id.expiration.ms", d.id_expiration_ms, 1)?,
            remove_expired_interval_ms: get(
                map,
                "transaction.remove.expired.transaction.cleanup.interval.ms",
                d.remove_expired_interval_ms,
                1,
            )?,
        })
    }
}
