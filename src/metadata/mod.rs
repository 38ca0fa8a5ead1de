//! Cluster metadata: the records that describe topics, partitions, configs and producer-id
//! blocks, the journal that makes them durable, and the live topics built from them.

pub mod admin;
pub mod journal;
pub mod topics;

pub use journal::{MetadataJournal, MetadataRecord, random_uuid, uuid_to_base64};
