//! The coordinator's timers: keyed deadlines, no clock of their own.
//!
//! As in Kafka's coordinator timer, scheduling a key that is already scheduled replaces it, so
//! "reschedule the heartbeat deadline" is one call. The driver sleeps until `next_deadline()`
//! and then asks for everything due; nothing ticks.

use std::collections::{BTreeSet, HashMap};

/// What a timer is for; also its identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// A member's (or pending member's) session: expire it if no heartbeat came in time.
    Heartbeat { group: String, member: String },
    /// The join phase of a rebalance (rebalance timeout, or the initial delay).
    Join { group: String },
    /// Members that were sent a JoinGroup response but have not sent SyncGroup yet.
    Sync { group: String },
    /// The periodic expiry of old offsets and empty groups.
    OffsetsExpiry,
}

/// What to do when the timer fires (data that Kafka captures in a closure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerTask {
    ExpireHeartbeat,
    CompleteJoin,
    InitialRebalance { delay_ms: i64, remaining_ms: i64 },
    ExpireSync { generation: i32 },
    ExpireOffsets,
}

#[derive(Debug, Default)]
pub struct Timers {
    by_deadline: BTreeSet<(i64, u64, TimerKey)>,
    by_key: HashMap<TimerKey, (i64, u64, TimerTask)>,
    next_seq: u64,
}

impl Timers {
    /// Schedules `key` at `deadline_ms`, replacing any earlier schedule of the same key.
    pub fn schedule(&mut self, key: TimerKey, deadline_ms: i64, task: TimerTask) {
        self.cancel(&key);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_deadline.insert((deadline_ms, seq, key.clone()));
        self.by_key.insert(key, (deadline_ms, seq, task));
    }

    pub fn cancel(&mut self, key: &TimerKey) {
        if let Some((deadline, seq, _)) = self.by_key.remove(key) {
            self.by_deadline.remove(&(deadline, seq, key.clone()));
        }
    }

    /// Cancels every timer of a group (when it is deleted).
    pub fn cancel_group(&mut self, group_id: &str) {
        let keys: Vec<TimerKey> = self
            .by_key
            .keys()
            .filter(|k| match k {
                TimerKey::Heartbeat { group, .. }
                | TimerKey::Join { group }
                | TimerKey::Sync { group } => group == group_id,
                TimerKey::OffsetsExpiry => false,
            })
            .cloned()
            .collect();
        for k in keys {
            self.cancel(&k);
        }
    }

    #[cfg(test)]
    pub fn deadline_of(&self, key: &TimerKey) -> Option<i64> {
        self.by_key.get(key).map(|(d, _, _)| *d)
    }

    pub fn next_deadline(&self) -> Option<i64> {
        self.by_deadline.first().map(|(d, _, _)| *d)
    }

    /// Removes and returns the earliest timer due at `now_ms`, if any.
    pub fn pop_due(&mut self, now_ms: i64) -> Option<(TimerKey, TimerTask)> {
        let (deadline, _, key) = self.by_deadline.first()?.clone();
        if deadline > now_ms {
            return None;
        }
        let (d, seq, task) = self.by_key.remove(&key)?;
        self.by_deadline.remove(&(d, seq, key.clone()));
        Some((key, task))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescheduling_replaces_and_due_timers_come_out_in_order() {
        let mut t = Timers::default();
        let hb = TimerKey::Heartbeat {
            group: "g".into(),
            member: "m".into(),
        };
        t.schedule(hb.clone(), 100, TimerTask::ExpireHeartbeat);
        t.schedule(
            TimerKey::Join { group: "g".into() },
            50,
            TimerTask::CompleteJoin,
        );
        t.schedule(hb.clone(), 200, TimerTask::ExpireHeartbeat);
        assert_eq!(t.len(), 2);
        assert_eq!(t.next_deadline(), Some(50));
        assert_eq!(t.pop_due(49), None);
        assert_eq!(
            t.pop_due(150),
            Some((
                TimerKey::Join { group: "g".into() },
                TimerTask::CompleteJoin
            ))
        );
        assert_eq!(t.pop_due(150), None, "the heartbeat was moved to 200");
        assert_eq!(t.deadline_of(&hb), Some(200));
        t.cancel_group("g");
        assert!(t.is_empty());
        assert_eq!(t.next_deadline(), None);
    }
}
