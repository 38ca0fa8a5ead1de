//! Vltava: a Kafka-compatible broker.
//!
//! See `ARCHITECTURE.md` for how a Produce and a Fetch travel from the socket to the
//! segment files and back.

pub mod broker;
pub mod client;
pub mod config;
pub mod console;
pub mod coordinator;
pub mod fault;
pub mod handlers;
pub mod http;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod net;
pub mod quota;

/// Huge allocations requested by the protocol decoder are reserved lazily instead of aborting
/// the process; see [`net::alloc_guard`]. Declared in the library so every binary, test and bench
/// linking it gets the same protection.
#[global_allocator]
static GLOBAL: net::alloc_guard::GuardedAllocator = net::alloc_guard::GuardedAllocator;
