//! Client quota enforcement, as Kafka's `ClientQuotaManager` and `ClientRequestQuotaManager`
//! do it: produce bytes, fetch bytes and request handling time are recorded per sensor, and a
//! request that takes its sensor over the quota gets a throttle time.
//!
//! - Which quota applies and which requests share a sensor: Kafka's default callback
//!   (`metadata::quotas::ClientQuotas::metric_tags` and `limit`), from the principal's user name
//!   (`User:<name>`; `ANONYMOUS` on listeners without authentication) and the request header's
//!   `client_id`.
//! - Rates: `quota.window.num` samples of `quota.window.size.seconds` ([`rate`]).
//! - Produce records the request's size (`producer_byte_rate`), Fetch the response's
//!   (`consumer_byte_rate`), every request but cluster actions its handler's busy time as a
//!   percentage of one thread (`request_percentage`, throttle capped at one window).
//! - The connection then sends the response at once with `throttle_time_ms` and reads nothing
//!   more from the client until the throttle time has passed (KIP-219), as Kafka mutes the
//!   channel. A throttled Fetch answers with no data (its bytes are taken back off the rate).
//!
//! When no quota of a kind is configured nothing is measured or locked: the check is one
//! atomic load per request.
//!
//! Not enforced: `controller_mutation_rate` (stored and described only) and `ip` quotas.

pub mod rate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kafka_protocol::messages::ApiKey;

use self::rate::{Rate, Window, record_and_throttle};
use crate::config::BrokerConfig;
use crate::metadata::Metadata;
use crate::metadata::quotas::{ClientQuotas, QuotaKey};

/// Sensors kept per kind at most; past this, idle and then least recently used ones go.
const MAX_SENSORS: usize = 100_000;

/// What a sensor measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    /// Produce request bytes (`producer_byte_rate`).
    Produce,
    /// Fetch response bytes (`consumer_byte_rate`).
    Fetch,
    /// Handler time, in percent of one thread (`request_percentage`).
    Request,
}

impl QuotaKind {
    pub fn key(self) -> QuotaKey {
        match self {
            QuotaKind::Produce => QuotaKey::ProducerByteRate,
            QuotaKind::Fetch => QuotaKey::ConsumerByteRate,
            QuotaKind::Request => QuotaKey::RequestPercentage,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where the quotas come from: the metadata's live snapshot, or a fixed set in tests.
pub trait QuotaSource: Send + Sync {
    fn client_quotas(&self) -> Arc<ClientQuotas>;
    /// Cheap: whether any quota is configured at all.
    fn any(&self) -> bool;
}

impl QuotaSource for Metadata {
    fn client_quotas(&self) -> Arc<ClientQuotas> {
        Metadata::client_quotas(self)
    }

    fn any(&self) -> bool {
        self.has_client_quotas()
    }
}

/// One sensor per (user tag, client-id tag), per kind.
type Sensors = HashMap<(String, String), Rate>;

pub struct QuotaManager {
    source: Arc<dyn QuotaSource>,
    window: Window,
    sensors: [Mutex<Sensors>; 3],
    /// The origin of the milliseconds this manager's sensors count in.
    origin: Instant,
}

impl QuotaManager {
    pub fn new(source: Arc<dyn QuotaSource>, config: &BrokerConfig) -> QuotaManager {
        QuotaManager {
            source,
            window: Window {
                samples: config.quota_window_num.max(1),
                window_ms: u64::from(config.quota_window_size_seconds.max(1)) * 1000,
            },
            sensors: Default::default(),
            origin: Instant::now(),
        }
    }

    /// Milliseconds on this manager's clock (monotonic).
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether any client quota is configured (the fast path when none is).
    pub fn any(&self) -> bool {
        self.source.any()
    }

    /// Records `value` for the sensor of (`principal`, `client_id`) and returns the throttle
    /// time in milliseconds (0 within quota, or when no quota of this kind applies).
    pub fn record(
        &self,
        kind: QuotaKind,
        principal: &str,
        client_id: &str,
        value: f64,
        now_ms: u64,
    ) -> u64 {
        if !self.source.any() {
            return 0;
        }
        let quotas = self.source.client_quotas();
        let key = kind.key();
        if !quotas.has_key(key) {
            return 0;
        }
        let tags = quotas.metric_tags(key, user_name(principal), client_id);
        let Some(bound) = quotas.limit(key, &tags) else {
            return 0;
        };
        // Kafka caps request-time throttles at one window; byte-rate throttles are uncapped.
        let cap = (kind == QuotaKind::Request).then_some(self.window.window_ms);
        let mut sensors = lock(&self.sensors[kind.index()]);
        let window = self.window;
        let rate = sensor(&mut sensors, tags, window, now_ms);
        record_and_throttle(rate, window, value, bound, now_ms, cap)
    }

    /// Takes back a recorded value (a throttled Fetch sends no data, so its bytes do not count).
    pub fn unrecord(
        &self,
        kind: QuotaKind,
        principal: &str,
        client_id: &str,
        value: f64,
        now_ms: u64,
    ) {
        let quotas = self.source.client_quotas();
        let tags = quotas.metric_tags(kind.key(), user_name(principal), client_id);
        let mut sensors = lock(&self.sensors[kind.index()]);
        if let Some(rate) = sensors.get_mut(&tags) {
            rate.record(self.window, -value, now_ms);
        }
    }

    /// The most a fetch may carry and still fit the quota window (Kafka's
    /// `getMaxValueInQuotaWindow`: quota × (samples − 1) × window seconds); `None` without a
    /// quota.
    pub fn max_value_in_window(
        &self,
        kind: QuotaKind,
        principal: &str,
        client_id: &str,
    ) -> Option<f64> {
        if !self.source.any() {
            return None;
        }
        let quotas = self.source.client_quotas();
        let tags = quotas.metric_tags(kind.key(), user_name(principal), client_id);
        let bound = quotas.limit(kind.key(), &tags)?;
        let seconds = self.window.window_ms as f64 / 1000.0;
        Some(bound * f64::from(self.window.samples.saturating_sub(1)) * seconds)
    }
}

/// The user of a `User:<name>` principal (Kafka quotas name users without the type).
fn user_name(principal: &str) -> &str {
    principal.strip_prefix("User:").unwrap_or(principal)
}

fn lock(m: &Mutex<Sensors>) -> std::sync::MutexGuard<'_, Sensors> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sensor for `tags`, created if new; keeps the map within `MAX_SENSORS` by dropping
/// sensors idle for a whole span (their rate is zero), then the least recently used.
fn sensor(sensors: &mut Sensors, tags: (String, String), window: Window, now_ms: u64) -> &mut Rate {
    if !sensors.contains_key(&tags) && sensors.len() >= MAX_SENSORS {
        let span = u64::from(window.samples) * window.window_ms;
        sensors.retain(|_, r| now_ms.saturating_sub(r.last_record_ms()) < span);
        if sensors.len() >= MAX_SENSORS
            && let Some(oldest) = sensors
                .iter()
                .min_by_key(|(_, r)| r.last_record_ms())
                .map(|(k, _)| k.clone())
        {
            sensors.remove(&oldest);
        }
    }
    sensors.entry(tags).or_default()
}

/// Whether a client of this API version throttles itself on a response's `throttle_time_ms`
/// (Kafka's `AbstractResponse.shouldClientThrottle`, KIP-219). Either way the broker mutes the
/// connection for the throttle time; older clients simply do not know to wait.
pub fn client_throttles(api: ApiKey, version: i16) -> bool {
    use ApiKey::*;
    let from = match api {
        Produce => 6,
        Fetch => 8,
        ListOffsets => 3,
        Metadata => 6,
        OffsetCommit | OffsetFetch => 4,
        FindCoordinator | Heartbeat | LeaveGroup | SyncGroup | ListGroups | DescribeGroups
        | ApiVersions | DescribeConfigs | DeleteTopics => 2,
        JoinGroup | CreateTopics => 3,
        IncrementalAlterConfigs
        | OffsetDelete
        | ElectLeaders
        | ListPartitionReassignments
        | DescribeTopicPartitions
        | AlterPartitionReassignments => 0,
        InitProducerId | AddPartitionsToTxn | AddOffsetsToTxn | EndTxn | TxnOffsetCommit
        | DescribeAcls | CreateAcls | DeleteAcls | AlterConfigs | DescribeLogDirs
        | CreatePartitions | DeleteGroups | DeleteRecords => 1,
        _ => return false,
    };
    version >= from
}

/// Requests exempt from the request quota: cluster actions (here WriteTxnMarkers), as in
/// Kafka.
pub fn exempt_from_request_quota(api: ApiKey) -> bool {
    api == ApiKey::WriteTxnMarkers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::quotas::{EntityName, QuotaEntity};

    struct Fixed(Arc<ClientQuotas>);

    impl QuotaSource for Fixed {
        fn client_quotas(&self) -> Arc<ClientQuotas> {
            self.0.clone()
        }
        fn any(&self) -> bool {
            !self.0.is_empty()
        }
    }

    fn manager(set: &[(QuotaEntity, QuotaKey, f64)]) -> QuotaManager {
        let mut q = ClientQuotas::default();
        for (e, k, v) in set {
            q.apply(e, k.name(), Some(*v));
        }
        let config = BrokerConfig::from_map(Default::default()).unwrap();
        QuotaManager::new(Arc::new(Fixed(Arc::new(q))), &config)
    }

    fn client(name: &str) -> QuotaEntity {
        QuotaEntity {
            user: None,
            client_id: Some(EntityName::Named(name.into())),
        }
    }

    /// 1,024 B/s with Kafka's default window (11 × 1 s, measured over at least 10 s): the first
    /// 10,240 bytes pass; one more 10,240-byte request doubles the rate and is throttled
    /// (2048 − 1024) / 1024 × 10,000 ms = 10 s.
    #[test]
    fn produce_over_quota_gets_kafkas_throttle_time() {
        let m = manager(&[(client("c1"), QuotaKey::ProducerByteRate, 1024.0)]);
        let rec = |client: &str, bytes: f64| {
            m.record(QuotaKind::Produce, "User:ANONYMOUS", client, bytes, 0)
        };
        assert_eq!(rec("c1", 10_240.0), 0);
        assert_eq!(rec("c1", 10_240.0), 10_000);
        // Another client id has no quota; the fetch side is not limited.
        assert_eq!(rec("c2", 1e9), 0);
        assert_eq!(
            m.record(QuotaKind::Fetch, "User:ANONYMOUS", "c1", 1e9, 0),
            0
        );
    }

    #[test]
    fn request_throttle_is_capped_at_one_window() {
        let m = manager(&[(client("c1"), QuotaKey::RequestPercentage, 1.0)]);
        // One request busy for 2 s of handler time: 200 percent-seconds.
        assert_eq!(
            m.record(QuotaKind::Request, "User:ANONYMOUS", "c1", 200.0, 0),
            1000
        );
    }

    #[test]
    fn unrecord_takes_a_throttled_fetch_back() {
        let m = manager(&[(client("c"), QuotaKey::ConsumerByteRate, 100.0)]);
        assert_eq!(
            m.record(QuotaKind::Fetch, "User:u", "c", 2_000.0, 0),
            10_000
        );
        m.unrecord(QuotaKind::Fetch, "User:u", "c", 2_000.0, 0);
        assert_eq!(m.record(QuotaKind::Fetch, "User:u", "c", 1_000.0, 0), 0);
        assert_eq!(
            m.max_value_in_window(QuotaKind::Fetch, "User:u", "c"),
            Some(1_000.0)
        );
        assert_eq!(m.max_value_in_window(QuotaKind::Fetch, "User:u", "x"), None);
    }

    /// A user quota is shared by all of that user's client ids (one sensor).
    #[test]
    fn a_user_quota_is_shared_by_its_clients() {
        let alice = QuotaEntity {
            user: Some(EntityName::Named("alice".into())),
            client_id: None,
        };
        let m = manager(&[(alice, QuotaKey::ProducerByteRate, 1000.0)]);
        assert_eq!(
            m.record(QuotaKind::Produce, "User:alice", "a", 10_000.0, 0),
            0
        );
        assert_eq!(
            m.record(QuotaKind::Produce, "User:alice", "b", 10_000.0, 0),
            10_000
        );
        assert_eq!(m.record(QuotaKind::Produce, "User:bob", "b", 1e9, 0), 0);
    }

    #[test]
    fn no_quota_means_nothing_is_measured() {
        let m = manager(&[]);
        assert!(!m.any());
        assert_eq!(m.record(QuotaKind::Produce, "User:u", "c", 1e12, 0), 0);
        assert!(lock(&m.sensors[0]).is_empty());
    }

    #[test]
    fn client_throttle_versions_follow_kafka() {
        assert!(!client_throttles(ApiKey::Produce, 5));
        assert!(client_throttles(ApiKey::Produce, 6));
        assert!(!client_throttles(ApiKey::Fetch, 7));
        assert!(client_throttles(ApiKey::Fetch, 8));
        assert!(!client_throttles(ApiKey::DescribeClientQuotas, 1));
    }
}
