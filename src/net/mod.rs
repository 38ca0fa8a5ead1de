//! The network layer: the listeners (plain and TLS), one task per connection, request framing,
//! the client principal, and the allocator guard that keeps hostile wire counts from aborting the process.

pub mod alloc_guard;
pub mod connection;
pub mod frame;
pub mod memory;
pub mod oauth;
pub mod principal;
pub mod sasl;
pub mod scram;
pub mod server;
pub mod tls;
