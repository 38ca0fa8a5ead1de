//! The network layer: the listener, one task per connection, request framing, and the
//! allocator guard that keeps hostile wire counts from aborting the process.

pub mod alloc_guard;
pub mod connection;
pub mod frame;
pub mod memory;
pub mod server;
