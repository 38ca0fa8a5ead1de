//! Vltava: a Kafka-compatible broker.
//!
//! See `ARCHITECTURE.md` for how a Produce and a Fetch travel from the socket to the
//! segment files and back.

pub mod alloc_guard;
pub mod broker;
pub mod broker_admin;
pub mod config;
pub mod config_defs;
pub mod connection;
pub mod dynamic_config;
pub mod fetch_encode;
pub mod frame;
pub mod group;
pub mod handlers;
pub mod log;
pub mod log_manager;
pub mod metadata;
pub mod server;
pub mod topic_config;
pub mod topics;

/// Huge allocations requested by the protocol decoder are reserved lazily instead of aborting
/// the process; see [`alloc_guard`]. Declared in the library so every binary, test and bench
/// linking it gets the same protection.
#[global_allocator]
static GLOBAL: alloc_guard::GuardedAllocator = alloc_guard::GuardedAllocator;
