//! The transaction state machine on a controlled clock: every operation's records are
//! replayed as the runtime would after appending them.

use super::*;

const T0: i64 = 1_700_000_000_000;

fn coordinator() -> TxnCoordinator {
    TxnCoordinator::new(TxnConfig::default())
}

fn apply<T>(c: &mut TxnCoordinator, (out, appends): (T, Vec<TxnAppend>)) -> T {
    for a in appends {
        c.replay(a.record);
    }
    out
}

fn tp(topic: &str, p: i32) -> (String, i32) {
    (topic.to_string(), p)
}

fn init(c: &mut TxnCoordinator, id: &str, fresh: i64, now: i64) -> (i64, i16) {
    let r = c.init_producer_id(id, 60_000, None, None, now);
    let out = match apply(c, r) {
        InitOutcome::NeedsProducerId => {
            let r = c.init_producer_id(id, 60_000, None, Some(fresh), now);
            apply(c, r)
        }
        other => other,
    };
    match out {
        InitOutcome::Ready { producer_id, epoch } => (producer_id, epoch),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_new_transactional_id_gets_a_producer_id_and_every_init_fences_the_last() {
    let mut c = coordinator();
    assert_eq!(init(&mut c, "t", 1000, T0), (1000, 0));
    assert_eq!(c.get("t").unwrap().state, TxnState::Empty);
    // A second producer with the same id: same producer id, next epoch.
    assert_eq!(init(&mut c, "t", 9999, T0 + 1), (1000, 1));
    // The first producer is fenced.
    let r = c.add_partitions("t", 1000, 0, &[tp("a", 0)], 0, T0 + 2);
    assert_eq!(apply(&mut c, r), Err(ResponseError::ProducerFenced.code()));
    let r = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: 1000,
            epoch: 0,
            commit: true,
            client_version: 0,
        },
        None,
        T0 + 2,
    );
    assert_eq!(
        apply(&mut c, r),
        EndOutcome::Failed(ResponseError::ProducerFenced.code())
    );
}

#[test]
fn errors_are_kafkas() {
    let mut c = coordinator();
    for timeout in [0, -1, 900_001] {
        let r = c.init_producer_id("t", timeout, None, Some(1), T0);
        assert_eq!(
            apply(&mut c, r),
            InitOutcome::Failed(ResponseError::InvalidTransactionTimeout.code())
        );
    }
    let r = c.init_producer_id("", 1000, None, Some(1), T0);
    assert_eq!(
        apply(&mut c, r),
        InitOutcome::Failed(ResponseError::InvalidRequest.code())
    );
    let mapping = ResponseError::InvalidProducerIdMapping.code();
    let r = c.add_partitions("nobody", 1, 0, &[tp("a", 0)], 0, T0);
    assert_eq!(apply(&mut c, r), Err(mapping));
    init(&mut c, "t", 7, T0);
    let r = c.add_partitions("t", 8, 0, &[tp("a", 0)], 0, T0);
    assert_eq!(apply(&mut c, r), Err(mapping));
    // EndTxn with nothing in the transaction is INVALID_TXN_STATE (transaction version 1).
    let r = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: 7,
            epoch: 0,
            commit: true,
            client_version: 0,
        },
        None,
        T0,
    );
    assert_eq!(
        apply(&mut c, r),
        EndOutcome::Failed(ResponseError::InvalidTxnState.code())
    );
    // KIP-360: a recovering producer with an unknown id/epoch is fenced.
    let r = c.init_producer_id("t", 1000, Some((7, 5)), None, T0);
    assert_eq!(
        apply(&mut c, r),
        InitOutcome::Failed(ResponseError::ProducerFenced.code())
    );
    // ...one with the current id and epoch gets the next epoch.
    let r = c.init_producer_id("t", 1000, Some((7, 0)), None, T0);
    assert_eq!(
        apply(&mut c, r),
        InitOutcome::Ready {
            producer_id: 7,
            epoch: 1
        }
    );
}

#[test]
fn a_commit_prepares_writes_markers_and_completes() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, "t", 42, T0);
    let r = c.add_partitions("t", pid, epoch, &[tp("a", 0), tp("b", 1)], 0, T0 + 10);
    assert_eq!(apply(&mut c, r), Ok(()));
    let r = c.add_partitions("t", pid, epoch, &[tp("a", 0)], 0, T0 + 20);
    assert!(
        r.1.is_empty(),
        "already in the transaction: nothing to write"
    );
    assert_eq!(apply(&mut c, r), Ok(()));
    let m = c.get("t").unwrap();
    assert_eq!((m.state, m.start_ms), (TxnState::Ongoing, T0 + 10));
    let r = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: pid,
            epoch,
            commit: true,
            client_version: 0,
        },
        None,
        T0 + 30,
    );
    let EndOutcome::Markers(job) = apply(&mut c, r) else {
        panic!()
    };
    assert_eq!(job.partitions, vec![tp("a", 0), tp("b", 1)]);
    assert!(job.commit);
    assert_eq!((job.producer_id, job.producer_epoch), (pid, epoch));
    assert_eq!(c.get("t").unwrap().state, TxnState::PrepareCommit);
    // While the markers are written: a retry is CONCURRENT_TRANSACTIONS, the opposite is not.
    let r = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: pid,
            epoch,
            commit: true,
            client_version: 0,
        },
        None,
        T0 + 31,
    );
    assert_eq!(
        apply(&mut c, r),
        EndOutcome::Failed(ResponseError::ConcurrentTransactions.code())
    );
    let r = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: pid,
            epoch,
            commit: false,
            client_version: 0,
        },
        None,
        T0 + 31,
    );
    assert_eq!(
        apply(&mut c, r),
        EndOutcome::Failed(ResponseError::InvalidTxnState.code())
    );
    let r = c.add_partitions("t", pid, epoch, &[tp("c", 0)], 0, T0 + 31);
    assert_eq!(
        apply(&mut c, r),
        Err(ResponseError::ConcurrentTransactions.code())
    );
    assert_eq!(c.prepared(), vec![job.clone()]);
    let appends = c.complete(&job, T0 + 40);
    apply(&mut c, ((), appends));
    let m = c.get("t").unwrap();
    assert_eq!(m.state, TxnState::CompleteCommit);
    assert!(m.partitions.is_empty());
    // A retried commit succeeds; an abort now is INVALID_TXN_STATE.
    let r = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: pid,
            epoch,
            commit: true,
            client_version: 0,
        },
        None,
        T0 + 50,
    );
    assert_eq!(
        apply(&mut c, r),
        EndOutcome::Done {
            producer_id: pid,
            epoch
        }
    );
    // The next transaction starts over.
    let r = c.add_partitions("t", pid, epoch, &[tp("z", 0)], 0, T0 + 60);
    assert_eq!(apply(&mut c, r), Ok(()));
    assert_eq!(c.get("t").unwrap().partitions.len(), 1);
}

#[test]
fn a_new_producer_aborts_the_previous_ones_open_transaction() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, "t", 5, T0);
    let r = c.add_partitions("t", pid, epoch, &[tp("a", 0)], 0, T0);
    apply(&mut c, r).unwrap();
    let r = c.init_producer_id("t", 60_000, None, None, T0 + 1);
    let InitOutcome::Aborting(job) = apply(&mut c, r) else {
        panic!()
    };
    assert!(!job.commit);
    assert_eq!(
        job.producer_epoch,
        epoch + 1,
        "markers fence the old producer"
    );
    assert_eq!(job.partitions, vec![tp("a", 0)]);
    let r = c.init_producer_id("t", 60_000, None, None, T0 + 2);
    assert_eq!(
        apply(&mut c, r),
        InitOutcome::Failed(ResponseError::ConcurrentTransactions.code())
    );
    let appends = c.complete(&job, T0 + 3);
    apply(&mut c, ((), appends));
    assert_eq!(c.get("t").unwrap().state, TxnState::CompleteAbort);
    assert_eq!(init(&mut c, "t", 0, T0 + 4), (pid, epoch + 2));
}

#[test]
fn transactions_past_their_timeout_are_aborted_and_the_producer_fenced() {
    let mut c = coordinator();
    let r = c.init_producer_id("t", 1000, None, Some(3), T0);
    apply(&mut c, r);
    let r = c.add_partitions("t", 3, 0, &[tp("a", 0)], 0, T0);
    apply(&mut c, r).unwrap();
    assert!(c.timed_out(T0 + 1000).is_empty());
    assert_eq!(c.timed_out(T0 + 1001), vec!["t".to_string()]);
    let r = c.abort_timed_out("t", T0 + 1001);
    let job = apply(&mut c, r).expect("aborted");
    assert_eq!((job.commit, job.producer_epoch), (false, 1));
    let appends = c.complete(&job, T0 + 1002);
    apply(&mut c, ((), appends));
    let r = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: 3,
            epoch: 0,
            commit: true,
            client_version: 0,
        },
        None,
        T0 + 1003,
    );
    assert_eq!(
        apply(&mut c, r),
        EndOutcome::Failed(ResponseError::ProducerFenced.code())
    );
    assert_eq!(
        c.list(&[TxnState::CompleteAbort], &[], -1, T0 + 1003),
        vec![("t".to_string(), 3, TxnState::CompleteAbort)]
    );
}

#[test]
fn idle_transactional_ids_expire_and_ongoing_ones_do_not() {
    let mut c = TxnCoordinator::new(TxnConfig {
        id_expiration_ms: 5_000,
        ..TxnConfig::default()
    });
    // "idle" finishes a transaction at T0; "busy" has one open since T0.
    init(&mut c, "idle", 10, T0);
    init(&mut c, "busy", 11, T0);
    let r = c.add_partitions("busy", 11, 0, &[tp("a", 0)], 0, T0);
    apply(&mut c, r).unwrap();
    assert!(c.expired(T0 + 4_999).is_empty());
    assert_eq!(c.expired(T0 + 5_000), vec!["idle".to_string()]);
    // A producer coming back meanwhile keeps its id.
    init(&mut c, "idle", 99, T0 + 5_000);
    assert!(c.expire("idle", T0 + 5_000).is_empty());
    let appends = c.expire("idle", T0 + 10_000);
    assert_eq!(appends.len(), 1);
    assert_eq!(appends[0].record.value, None);
    apply(&mut c, ((), appends));
    assert!(c.get("idle").is_none());
    assert!(c.get("busy").is_some());
    // A new producer with the expired id starts over with a fresh producer id.
    assert_eq!(init(&mut c, "idle", 77, T0 + 10_001), (77, 0));
}

#[test]
fn transaction_version_2_bumps_the_epoch_at_every_end() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, "t", 11, T0);
    let r = c.add_partitions("t", pid, epoch, &[tp("a", 0)], 2, T0);
    apply(&mut c, r).unwrap();
    let r = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: pid,
            epoch,
            commit: true,
            client_version: 2,
        },
        None,
        T0 + 1,
    );
    let EndOutcome::Markers(job) = apply(&mut c, r) else {
        panic!()
    };
    assert_eq!(job.producer_epoch, epoch + 1);
    let appends = c.complete(&job, T0 + 2);
    apply(&mut c, ((), appends));
    // The client retries with the epoch it had: it learns the bumped one.
    let r = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: pid,
            epoch,
            commit: true,
            client_version: 2,
        },
        None,
        T0 + 3,
    );
    assert_eq!(
        apply(&mut c, r),
        EndOutcome::Done {
            producer_id: pid,
            epoch: epoch + 1
        }
    );
    // An abort with nothing in the transaction bumps it again.
    let r = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: pid,
            epoch: epoch + 1,
            commit: false,
            client_version: 2,
        },
        None,
        T0 + 4,
    );
    assert_eq!(
        apply(&mut c, r),
        EndOutcome::Done {
            producer_id: pid,
            epoch: epoch + 2
        }
    );
}

fn end(c: &mut TxnCoordinator, pid: i64, epoch: i16, commit: bool, now: i64) -> EndOutcome {
    let req = EndTxn {
        id: "t",
        producer_id: pid,
        epoch,
        commit,
        client_version: 2,
    };
    let r = c.end_txn(&req, None, now);
    match apply(c, r) {
        EndOutcome::Markers(job) => {
            let appends = c.complete(&job, now);
            apply(c, ((), appends));
            EndOutcome::Done {
                producer_id: job.producer_id,
                epoch: job.producer_epoch,
            }
        }
        other => other,
    }
}

#[test]
fn transaction_version_2_retries_and_repeats_are_told_apart() {
    let invalid = EndOutcome::Failed(ResponseError::InvalidTxnState.code());
    let mut c = coordinator();
    let (pid, e0) = init(&mut c, "t", 11, T0);
    let r = c.add_partitions("t", pid, e0, &[tp("a", 0)], 2, T0);
    apply(&mut c, r).unwrap();
    let committed = EndOutcome::Done {
        producer_id: pid,
        epoch: e0 + 1,
    };
    assert_eq!(end(&mut c, pid, e0, true, T0 + 1), committed);
    // A retry (the epoch before the bump) of the same end is answered again; of the other end,
    // it is in the wrong state, not fenced.
    assert_eq!(end(&mut c, pid, e0, true, T0 + 2), committed);
    assert_eq!(end(&mut c, pid, e0, false, T0 + 2), invalid);
    // With the current epoch a commit asks to commit nothing.
    assert_eq!(end(&mut c, pid, e0 + 1, true, T0 + 2), invalid);
    // Older epochs are fenced.
    assert_eq!(
        end(&mut c, pid, e0 + 1, false, T0 + 3),
        EndOutcome::Done {
            producer_id: pid,
            epoch: e0 + 2
        }
    );
    assert_eq!(
        end(&mut c, pid, e0, false, T0 + 4),
        EndOutcome::Failed(ResponseError::ProducerFenced.code())
    );
}

#[test]
fn a_recovering_producer_keeps_the_epoch_it_was_given() {
    let fenced = InitOutcome::Failed(ResponseError::ProducerFenced.code());
    let mut c = coordinator();
    let (pid, _) = init(&mut c, "t", 4, T0);
    // A fresh producer forgets the epoch before it: the old one cannot recover with it.
    assert_eq!(init(&mut c, "t", 0, T0 + 1), (pid, 1));
    let r = c.init_producer_id("t", 60_000, Some((pid, 0)), None, T0 + 2);
    assert_eq!(apply(&mut c, r), fenced);
    // The current epoch is bumped, and a retry of that bump gets the same epoch again.
    for _ in 0..2 {
        let r = c.init_producer_id("t", 60_000, Some((pid, 1)), None, T0 + 3);
        assert_eq!(
            apply(&mut c, r),
            InitOutcome::Ready {
                producer_id: pid,
                epoch: 2
            }
        );
    }
    let r = c.init_producer_id("t", 60_000, Some((pid, 0)), None, T0 + 4);
    assert_eq!(apply(&mut c, r), fenced);
    let r = c.init_producer_id("t", 60_000, Some((pid + 1, 2)), None, T0 + 4);
    assert_eq!(apply(&mut c, r), fenced);
    // A transaction aborted past its timeout fences its producer, which may recover with the
    // epoch it had.
    let r = c.add_partitions("t", pid, 2, &[tp("a", 0)], 0, T0 + 5);
    apply(&mut c, r).unwrap();
    let r = c.abort_timed_out("t", T0 + 70_000);
    let job = apply(&mut c, r).expect("timed out");
    let appends = c.complete(&job, T0 + 70_001);
    apply(&mut c, ((), appends));
    let r = c.init_producer_id("t", 60_000, Some((pid, 2)), None, T0 + 70_002);
    assert_eq!(
        apply(&mut c, r),
        InitOutcome::Ready {
            producer_id: pid,
            epoch: 3
        }
    );
}

#[test]
fn a_partition_not_in_the_transaction_makes_it_abortable() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, "t", 4, T0);
    let abortable = Err(ResponseError::TransactionAbortable.code());
    assert_eq!(c.verify("t", pid, epoch, &tp("a", 0)), abortable);
    let r = c.add_partitions("t", pid, epoch, &[tp("a", 0)], 0, T0);
    apply(&mut c, r).unwrap();
    assert_eq!(c.verify("t", pid, epoch, &tp("a", 0)), Ok(()));
    assert_eq!(c.verify("t", pid, epoch, &tp("a", 1)), abortable);
    assert_eq!(
        c.verify("t", pid, epoch + 1, &tp("a", 0)),
        Err(ResponseError::ProducerFenced.code())
    );
}

#[test]
fn state_comes_back_from_the_records_alone() {
    let mut c = coordinator();
    let mut log = Vec::new();
    let mut run = |c: &mut TxnCoordinator, appends: Vec<TxnAppend>| {
        for a in appends {
            log.push(a.record.clone());
            c.replay(a.record);
        }
    };
    let (_, a) = c.init_producer_id("t", 60_000, None, Some(77), T0);
    run(&mut c, a);
    let (_, a) = c.add_partitions("t", 77, 0, &[tp("a", 0), tp("a", 1)], 0, T0 + 5);
    run(&mut c, a);
    let (out, a) = c.end_txn(
        &EndTxn {
            id: "t",
            producer_id: 77,
            epoch: 0,
            commit: false,
            client_version: 0,
        },
        None,
        T0 + 6,
    );
    run(&mut c, a);
    assert!(matches!(out, EndOutcome::Markers(_)));
    let mut restored = coordinator();
    for r in log {
        let key = r.encode_key().unwrap();
        let value = r.encode_value().unwrap();
        restored.replay(
            super::super::records::TxnRecord::decode(&key, value.as_deref())
                .unwrap()
                .unwrap(),
        );
    }
    let (a, b) = (c.get("t").unwrap(), restored.get("t").unwrap());
    assert_eq!(a.state, TxnState::PrepareAbort);
    assert_eq!(
        (
            a.state,
            a.producer_id,
            a.producer_epoch,
            &a.partitions,
            a.start_ms
        ),
        (
            b.state,
            b.producer_id,
            b.producer_epoch,
            &b.partitions,
            b.start_ms
        )
    );
    assert_eq!(restored.prepared().len(), 1);
}
