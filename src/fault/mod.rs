//! Fault injection for client tests — what franz-go's `kfake` gives Go tests, for any client:
//! rules that make the next N requests of an API fail with a chosen Kafka error, wait, or lose
//! their connection; that leave a partition without a leader for a while; that slow fsync or
//! fill the disk. Rules come from `--fault` flags and the HTTP API (`/v1/faults`, in
//! `crate::http::faults`).
//!
//! Off unless `vltava.fault.injection.enable=true`. When off, or on with no live request rule,
//! the connection pays one relaxed atomic load per request ([`Faults::armed`]); the produce,
//! fetch and metadata paths one more per partition ([`Faults::leaders_armed`]).
//!
//! Bounded: at most [`MAX_RULES`] rules (exhausted and expired ones stay listed, with how
//! often they fired, until deleted); counts and durations bounded in [`rule`].
//!
//! The log's part is a hook the log checks ([`crate::log::faults::DiskFaults`]): this module
//! sets it, the log imports nothing from here.

pub mod respond;
pub mod rule;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use kafka_protocol::messages::{ApiKey, RequestKind};

use crate::log::faults::DiskFaults;
pub use respond::{Injected, TopicRef, error_response};
pub use rule::{Action, Filter, Rule};

/// Rules held at once, live or spent.
pub const MAX_RULES: usize = 1000;

/// Why a rule was not added.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    #[error("fault injection is off: set vltava.fault.injection.enable=true")]
    Disabled,
    #[error("{MAX_RULES} rules already: delete some (DELETE /v1/faults clears them all)")]
    TooMany,
}

/// A rule as kept: when it was made live and how often it fired.
#[derive(Debug)]
struct Entry {
    id: u64,
    rule: Rule,
    fired: u64,
    /// For the timed rules (leader, disk): when they stop.
    until_ms: Option<i64>,
}

impl Entry {
    fn live(&self, now_ms: i64) -> bool {
        match (&self.rule, self.until_ms) {
            (Rule::Request { count, .. }, _) => self.fired < *count,
            (_, Some(until)) => now_ms < until,
            (_, None) => false,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    entries: Vec<Entry>,
}

/// The broker's fault rules.
#[derive(Debug)]
pub struct Faults {
    enabled: bool,
    /// Some request rule has requests left: the dispatch path looks at this alone.
    armed: AtomicBool,
    /// Some leader-unavailable rule may still be running.
    leaders_armed: AtomicBool,
    state: Mutex<State>,
    /// What the log checks on append and fsync ([`crate::log::faults::DISK`] in a broker).
    disk: &'static DiskFaults,
}

impl Faults {
    /// `enabled`: `vltava.fault.injection.enable`. `disk`: the hook the broker's logs check.
    pub fn new(enabled: bool, disk: &'static DiskFaults) -> Faults {
        Faults {
            enabled,
            armed: AtomicBool::new(false),
            leaders_armed: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            disk,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// True when some request rule may match: the one load the dispatch path pays.
    #[inline]
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// True when some partition may be leaderless: checked before [`Self::leader_unavailable`].
    #[inline]
    pub fn leaders_armed(&self) -> bool {
        self.leaders_armed.load(Ordering::Relaxed)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only counters behind: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `rule` live; returns its id.
    pub fn add(&self, rule: Rule, now_ms: i64) -> Result<u64, AddError> {
        if !self.enabled {
            return Err(AddError::Disabled);
        }
        let mut state = self.state();
        if state.entries.len() >= MAX_RULES {
            return Err(AddError::TooMany);
        }
        state.next_id += 1;
        let id = state.next_id;
        let until_ms = match &rule {
            Rule::Request { .. } => None,
            Rule::LeaderUnavailable { duration_ms, .. }
            | Rule::DiskFull { duration_ms }
            | Rule::SlowFsync { duration_ms, .. } => {
                Some(now_ms.saturating_add(i64::try_from(*duration_ms).unwrap_or(i64::MAX)))
            }
        };
        state.entries.push(Entry {
            id,
            rule,
            fired: 0,
            until_ms,
        });
        self.rearm(&state, now_ms);
        Ok(id)
    }

    /// Deletes one rule; false if there is none by that id.
    pub fn remove(&self, id: u64, now_ms: i64) -> bool {
        let mut state = self.state();
        let before = state.entries.len();
        state.entries.retain(|e| e.id != id);
        self.rearm(&state, now_ms);
        state.entries.len() != before
    }

    /// Deletes every rule; returns how many there were.
    pub fn clear(&self, now_ms: i64) -> usize {
        let mut state = self.state();
        let n = state.entries.len();
        state.entries.clear();
        self.rearm(&state, now_ms);
        n
    }

    /// Every rule with its id, how often it fired and whether it is still live.
    pub fn list(&self, now_ms: i64) -> serde_json::Value {
        let state = self.state();
        let rules = state
            .entries
            .iter()
            .map(|e| entry_json(e, now_ms))
            .collect();
        serde_json::Value::Array(rules)
    }

    /// One rule as JSON, or `None`.
    pub fn get(&self, id: u64, now_ms: i64) -> Option<serde_json::Value> {
        let state = self.state();
        state
            .entries
            .iter()
            .find(|e| e.id == id)
            .map(|e| entry_json(e, now_ms))
    }

    /// The action of the first live rule matching this request, which counts it. `resolve`
    /// names topics a request names by id.
    pub fn intercept(
        &self,
        api: ApiKey,
        client_id: Option<&str>,
        request: &RequestKind,
        resolve: &dyn Fn(uuid::Uuid) -> Option<String>,
    ) -> Option<Action> {
        let mut state = self.state();
        let entry = state.entries.iter_mut().find(|e| match &e.rule {
            Rule::Request {
                api: a,
                count,
                filter,
                ..
            } => *a == api && e.fired < *count && matches(filter, client_id, request, resolve),
            _ => false,
        })?;
        entry.fired += 1;
        let action = match &entry.rule {
            Rule::Request { action, .. } => *action,
            _ => return None,
        };
        let spent = !entry.live(0);
        if spent {
            self.rearm(&state, crate::log::now_ms());
        }
        Some(action)
    }

    /// True while a leader-unavailable rule covers `topic`/`partition` (counted as a firing).
    pub fn leader_unavailable(&self, topic: &str, partition: i32, now_ms: i64) -> bool {
        let mut state = self.state();
        let mut expired = false;
        let mut hit = false;
        for e in &mut state.entries {
            if let Rule::LeaderUnavailable {
                topic: t,
                partition: p,
                ..
            } = &e.rule
            {
                if !e.live(now_ms) {
                    expired = true;
                } else if t == topic && p.is_none_or(|p| p == partition) {
                    e.fired += 1;
                    hit = true;
                    break;
                }
            }
        }
        if expired && !hit {
            self.rearm(&state, now_ms);
        }
        hit
    }

    /// Recomputes the flags the hot paths read, and the log's disk hook.
    fn rearm(&self, state: &State, now_ms: i64) {
        let live = |f: fn(&Rule) -> bool| {
            state
                .entries
                .iter()
                .filter(move |e| f(&e.rule) && e.live(now_ms))
        };
        let requests = live(|r| matches!(r, Rule::Request { .. })).next().is_some();
        let leaders = live(|r| matches!(r, Rule::LeaderUnavailable { .. }))
            .next()
            .is_some();
        self.armed.store(requests, Ordering::Relaxed);
        self.leaders_armed.store(leaders, Ordering::Relaxed);
        let full_until = live(|r| matches!(r, Rule::DiskFull { .. }))
            .filter_map(|e| e.until_ms)
            .max()
            .unwrap_or(0);
        let slow = live(|r| matches!(r, Rule::SlowFsync { .. }))
            .filter_map(|e| match (&e.rule, e.until_ms) {
                (Rule::SlowFsync { delay_ms, .. }, Some(until)) => Some((*delay_ms, until)),
                _ => None,
            })
            .max()
            .unwrap_or((0, 0));
        self.disk.set(full_until, slow.0, slow.1);
    }
}

/// Whether `request` passes `filter`.
fn matches(
    filter: &Filter,
    client_id: Option<&str>,
    request: &RequestKind,
    resolve: &dyn Fn(uuid::Uuid) -> Option<String>,
) -> bool {
    if let Some(wanted) = &filter.client_id
        && client_id != Some(wanted.as_str())
    {
        return false;
    }
    let Some(topic) = &filter.topic else {
        return true;
    };
    respond::topics_of(request).iter().any(|(t, partitions)| {
        let named = match t {
            TopicRef::Name(n) => n == topic,
            TopicRef::Id(id) => resolve(*id).as_deref() == Some(topic.as_str()),
        };
        named
            && match (filter.partition, partitions) {
                (Some(p), Some(listed)) => listed.contains(&p),
                _ => true,
            }
    })
}

fn entry_json(e: &Entry, now_ms: i64) -> serde_json::Value {
    let mut json = e.rule.to_json();
    json.insert("id".into(), e.id.into());
    json.insert("fired".into(), e.fired.into());
    json.insert("live".into(), e.live(now_ms).into());
    if let Some(until) = e.until_ms {
        json.insert("remaining_ms".into(), (until - now_ms).max(0).into());
    }
    serde_json::Value::Object(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ProduceRequest, TopicName, produce_request};
    use kafka_protocol::protocol::StrBytes;

    fn faults() -> Faults {
        Faults::new(true, Box::leak(Box::default()))
    }

    fn produce(topic: &'static str, partition: i32) -> RequestKind {
        RequestKind::Produce(ProduceRequest::default().with_topic_data(vec![
            produce_request::TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(topic)))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default().with_index(partition),
                ]),
        ]))
    }

    fn no_ids(_: uuid::Uuid) -> Option<String> {
        None
    }

    #[test]
    fn a_rule_fires_count_times_then_disarms() {
        let f = faults();
        assert!(!f.armed());
        let rule = Rule::parse_flag("api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3").unwrap();
        let id = f.add(rule, 0).unwrap();
        assert!(f.armed());
        for _ in 0..3 {
            let got = f.intercept(ApiKey::Produce, None, &produce("t", 0), &no_ids);
            assert_eq!(got, Some(Action::Error(6)));
        }
        assert_eq!(
            f.intercept(ApiKey::Produce, None, &produce("t", 0), &no_ids),
            None
        );
        assert!(!f.armed(), "spent rules disarm the dispatch check");
        let listed = f.get(id, 0).unwrap();
        assert_eq!(listed["fired"], 3);
        assert_eq!(listed["live"], false);
    }

    #[test]
    fn filters_narrow_the_match() {
        let f = faults();
        f.add(
            Rule::parse_flag("api=Produce,delay_ms=5,topic=a,partition=1,client_id=me").unwrap(),
            0,
        )
        .unwrap();
        let fetch = RequestKind::Fetch(Default::default());
        assert_eq!(
            f.intercept(ApiKey::Fetch, Some("me"), &fetch, &no_ids),
            None
        );
        assert_eq!(
            f.intercept(ApiKey::Produce, Some("me"), &produce("b", 1), &no_ids),
            None
        );
        assert_eq!(
            f.intercept(ApiKey::Produce, Some("me"), &produce("a", 0), &no_ids),
            None
        );
        assert_eq!(
            f.intercept(ApiKey::Produce, Some("you"), &produce("a", 1), &no_ids),
            None
        );
        assert_eq!(
            f.intercept(ApiKey::Produce, None, &produce("a", 1), &no_ids),
            None
        );
        assert_eq!(
            f.intercept(ApiKey::Produce, Some("me"), &produce("a", 1), &no_ids),
            Some(Action::Delay(5))
        );
    }

    #[test]
    fn rules_apply_in_the_order_they_were_added() {
        let f = faults();
        f.add(Rule::parse_flag("api=Produce,drop=true").unwrap(), 0)
            .unwrap();
        f.add(Rule::parse_flag("api=Produce,error=29,count=2").unwrap(), 0)
            .unwrap();
        let next = || f.intercept(ApiKey::Produce, None, &produce("t", 0), &no_ids);
        assert_eq!(next(), Some(Action::Drop));
        assert_eq!(next(), Some(Action::Error(29)));
        assert_eq!(next(), Some(Action::Error(29)));
        assert_eq!(next(), None);
    }

    #[test]
    fn leaders_come_back_when_the_time_is_up() {
        let f = faults();
        f.add(
            Rule::parse_flag("topic=t,partition=0,leader_unavailable_ms=100").unwrap(),
            1000,
        )
        .unwrap();
        assert!(f.leaders_armed());
        assert!(f.leader_unavailable("t", 0, 1050));
        assert!(!f.leader_unavailable("t", 1, 1050));
        assert!(!f.leader_unavailable("u", 0, 1050));
        assert!(!f.leader_unavailable("t", 0, 1100));
        assert!(!f.leaders_armed());
        assert_eq!(f.list(1100)[0]["fired"], 1);
    }

    #[test]
    fn disabled_refuses_and_the_rule_count_is_bounded() {
        let off = Faults::new(false, Box::leak(Box::default()));
        let rule = Rule::parse_flag("api=Produce,drop=true").unwrap();
        assert_eq!(off.add(rule.clone(), 0), Err(AddError::Disabled));
        let f = faults();
        for _ in 0..MAX_RULES {
            f.add(rule.clone(), 0).unwrap();
        }
        assert_eq!(f.add(rule.clone(), 0), Err(AddError::TooMany));
        assert_eq!(f.clear(0), MAX_RULES);
        assert!(!f.armed());
        let id = f.add(rule, 0).unwrap();
        assert!(f.remove(id, 0));
        assert!(!f.remove(id, 0));
    }

    #[test]
    fn disk_rules_set_the_log_hook() {
        let disk: &'static DiskFaults = Box::leak(Box::default());
        let f = Faults::new(true, disk);
        f.add(Rule::parse_flag("disk_full_ms=100").unwrap(), 1000)
            .unwrap();
        assert!(disk.disk_full(1050));
        assert!(!disk.disk_full(1100));
        f.add(
            Rule::parse_flag("fsync_delay_ms=20,duration_ms=100").unwrap(),
            1000,
        )
        .unwrap();
        assert_eq!(disk.fsync_delay_ms(1050), 20);
        assert_eq!(disk.fsync_delay_ms(1100), 0);
        f.clear(1050);
        assert!(!disk.disk_full(1050));
        assert_eq!(disk.fsync_delay_ms(1050), 0);
    }
}
