//! Coordinators: state machines whose operations return records to append to an internal
//! topic and a response, and whose state is rebuilt by replaying those records.

pub mod group;
pub mod runtime;
pub mod txn;
