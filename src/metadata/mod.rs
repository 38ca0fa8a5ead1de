//! Cluster metadata: the records that describe topics, partitions, configs, producer-id
//! blocks and ACLs (`acls` also holds the authorizer's matching) (`records`), the journal that makes them durable (`journal`), the image they build
//! with one `apply` (`image`), the feature levels ApiVersions reports (`features`), the owner that takes admin commands and keeps the live state in
//! step (`manager`), and the live topics and partitions (`topics`).

pub mod acls;
pub mod features;
pub mod image;
pub mod journal;
pub mod manager;
pub mod records;
pub mod topics;

pub use image::MetadataImage;
pub use journal::MetadataJournal;
pub use manager::{AdminError, CreateTopicError, DeleteTopicError, Metadata, NewTopic};
pub use records::MetadataRecord;
