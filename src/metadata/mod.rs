//! Cluster metadata: the records that describe topics, partitions, configs, producer-id
//! blocks, SCRAM credentials and ACLs (`records`; `scram` decides credential changes, `acls` holds the
//! authorizer's matching), the journal that makes them durable (`journal`), the image they build
//! with one `apply` (`image`), the feature levels ApiVersions reports (`features`), the owner that takes admin commands and keeps the live state in
//! step (`manager`), and the live topics and partitions (`topics`), and the client quota configs (`quotas`).

pub mod acls;
pub mod features;
pub mod image;
pub mod journal;
pub mod manager;
pub mod quotas;
pub mod records;
pub mod scram;
pub mod topics;

pub use image::MetadataImage;
pub use journal::MetadataJournal;
pub use manager::{
    AdminError, CreateTopicError, DeleteTopicError, Metadata, NewTopic, QuotaAlteration,
};
pub use records::MetadataRecord;
