//! The metadata journal: where [`MetadataRecord`]s become durable (`__cluster_metadata.journal`
//! in the data directory) before they are applied, and where start-up reads them back.
//!
//! One text line per record, `V2 <length> <crc32c hex> <TYPE> <tab-separated fields>`, fields
//! percent-escaped (lines written before the length field existed lack `V2 <length>` and still
//! replay). A torn final append (a crash mid-write) is cut off on open; a complete record that
//! fails its checks stops start-up with the line and byte offset, wherever it is.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::acls::{AclBinding, AclOperation, PatternType, Permission, ResourceType};
use super::quotas::{EntityName, QuotaEntity};
pub use super::records::MetadataRecord;
use super::scram::{ScramCredential, ScramMechanism};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("metadata journal I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "metadata journal {path} is damaged at line {line} (byte {offset}): {reason}. \
         Refusing to start: starting without these records would lose topics and their data. \
         Restore the file from a backup; or, accepting the loss of every change from this line \
         on, cut it with `truncate -s {offset} {path}`"
    )]
    Corrupt {
        path: String,
        line: usize,
        offset: usize,
        reason: &'static str,
    },
}

/// The durable, append-only record of metadata changes.
pub struct MetadataJournal {
    /// `None` in memory mode.
    file: Option<File>,
}

const JOURNAL_NAME: &str = "__cluster_metadata.journal";
/// Lines written since the length field was added start with this tag:
/// `V2 <body length> <crc32c hex> <body>\n`. Older lines are `<crc32c hex> <body>\n`.
const V2_TAG: &str = "V2 ";

/// What one journal line turned out to be.
enum Line {
    Record(MetadataRecord),
    /// The final bytes of the file are the beginning of a record whose write never finished
    /// (shorter than its declared length, no terminating newline): a crash mid-append.
    Torn,
    Corrupt(&'static str),
}

impl MetadataJournal {
    /// A journal that keeps nothing (for `--memory`).
    pub fn in_memory() -> MetadataJournal {
        MetadataJournal { file: None }
    }

    /// Opens (or creates) the journal in `dir` and returns the records it holds, in order.
    ///
    /// A torn tail (an append cut short by a crash: fewer bytes than its length field declares
    /// and no newline) is cut off with a warning: it was never acknowledged. A complete record
    /// that fails its checksum, or whose length or terminator is wrong, is corruption wherever
    /// it is, the last line included: start-up stops with an error naming the line.
    pub fn open(dir: &Path) -> Result<(MetadataJournal, Vec<MetadataRecord>), JournalError> {
        let path: PathBuf = dir.join(JOURNAL_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        let mut records = Vec::new();
        let mut pos = 0usize;
        let mut line_no = 0usize;
        while pos < text.len() {
            line_no += 1;
            let rest = &text[pos..];
            let (line, used) = match rest.iter().position(|b| *b == b'\n') {
                Some(nl) => (classify_line(&rest[..=nl]), nl + 1),
                None => (classify_unterminated(rest), rest.len()),
            };
            match line {
                Line::Record(r) => {
                    records.push(r);
                    pos += used;
                }
                Line::Torn => break,
                Line::Corrupt(reason) => {
                    return Err(JournalError::Corrupt {
                        path: path.display().to_string(),
                        line: line_no,
                        offset: pos,
                        reason,
                    });
                }
            }
        }
        if pos != text.len() {
            tracing::warn!(
                journal = %path.display(),
                "cut {} bytes of an append interrupted by a crash from the end of the metadata journal",
                text.len() - pos
            );
            file.set_len(pos as u64)?;
            file.sync_data()?;
        }
        Ok((MetadataJournal { file: Some(file) }, records))
    }

    /// Makes `record` durable. Callers apply it to the image only after this succeeds.
    pub fn append(&mut self, record: &MetadataRecord) -> Result<(), JournalError> {
        if let Some(file) = &mut self.file {
            file.write_all(encode_line(record).as_bytes())?;
            file.sync_data()?;
        }
        Ok(())
    }
}

/// A newline-terminated line: a whole record was written, so anything wrong is corruption.
fn classify_line(line: &[u8]) -> Line {
    let Ok(text) = std::str::from_utf8(line) else {
        return Line::Corrupt("not UTF-8");
    };
    let text = text.strip_suffix('\n').unwrap_or(text);
    let (crc, body) = if let Some(v2) = text.strip_prefix(V2_TAG) {
        let mut parts = v2.splitn(3, ' ');
        let (Some(len), Some(crc), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Line::Corrupt("malformed record header");
        };
        if len.parse::<usize>().ok() != Some(body.len()) {
            return Line::Corrupt("record length does not match its length field");
        }
        (crc, body)
    } else {
        match text.split_once(' ') {
            Some(pair) => pair,
            None => return Line::Corrupt("malformed record header"),
        }
    };
    if u32::from_str_radix(crc, 16).ok() != Some(crc32c::crc32c(body.as_bytes())) {
        return Line::Corrupt("checksum mismatch");
    }
    match decode_body(body) {
        Some(r) => Line::Record(r),
        None => Line::Corrupt("unknown or malformed record (written by a newer version?)"),
    }
}

/// The bytes after the last newline: a torn append if they are shorter than the record they
/// declare (or too short to declare one); a complete record with a damaged terminator otherwise.
fn classify_unterminated(rest: &[u8]) -> Line {
    let header_len = |s: &[u8]| -> Option<(usize, usize)> {
        // "V2 <len> <crc8> " -> (header bytes, declared body length)
        let s = s.strip_prefix(V2_TAG.as_bytes())?;
        let space = s.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&s[..space]).ok()?.parse().ok()?;
        let after_len = V2_TAG.len() + space + 1;
        Some((after_len + 9, len))
    };
    match header_len(rest) {
        Some((header, len)) if rest.len() > header + len => {
            Line::Corrupt("record is complete but its terminating newline is damaged")
        }
        _ => Line::Torn,
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' | '\t' | '\n' | '\r' | '=' | ',' | ' ' => {
                out.push_str(&format!("%{:02X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn encode_line(record: &MetadataRecord) -> String {
    let body = match record {
        MetadataRecord::Topic {
            name,
            id,
            partitions,
            configs,
        } => {
            let configs: Vec<String> = configs
                .iter()
                .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
                .collect();
            format!(
                "TOPIC\t{}\t{}\t{}\t{}",
                escape(name),
                id,
                partitions,
                configs.join(",")
            )
        }
        MetadataRecord::RemoveTopic { id } => format!("REMOVE_TOPIC\t{id}"),
        MetadataRecord::ProducerIds { next } => format!("PRODUCER_IDS\t{next}"),
        MetadataRecord::TopicConfigs { id, configs } => {
            format!("TOPIC_CONFIGS\t{id}\t{}", encode_configs(configs))
        }
        MetadataRecord::Partitions { id, count } => format!("PARTITIONS\t{id}\t{count}"),
        MetadataRecord::BrokerConfigs { node, configs } => format!(
            "BROKER_CONFIGS\t{}\t{}",
            node.map_or_else(|| "*".to_string(), |n| n.to_string()),
            encode_configs(configs)
        ),
        MetadataRecord::ScramCredential {
            user,
            mechanism,
            credential,
        } => format!(
            "SCRAM\t{}\t{}\t{}\t{}\t{}\t{}",
            escape(user),
            mechanism.type_id(),
            B64.encode(&credential.salt),
            credential.iterations,
            B64.encode(&credential.stored_key),
            B64.encode(&credential.server_key)
        ),
        MetadataRecord::RemoveScramCredential { user, mechanism } => {
            format!("REMOVE_SCRAM\t{}\t{}", escape(user), mechanism.type_id())
        }
        MetadataRecord::Acl { id, binding } => format!(
            "ACL\t{id}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            binding.resource_type as i8,
            escape(&binding.resource_name),
            binding.pattern_type as i8,
            escape(&binding.principal),
            escape(&binding.host),
            binding.operation as i8,
            binding.permission as i8,
        ),
        MetadataRecord::RemoveAcl { id } => format!("REMOVE_ACL\t{id}"),
        MetadataRecord::ClientQuota { entity, key, value } => format!(
            "CLIENT_QUOTA\t{}\t{}\t{}\t{}",
            encode_entity_name(entity.user.as_ref()),
            encode_entity_name(entity.client_id.as_ref()),
            escape(key),
            value.map_or_else(|| "-".to_string(), |v| v.to_string())
        ),
    };
    format!(
        "{V2_TAG}{} {:08x} {}\n",
        body.len(),
        crc32c::crc32c(body.as_bytes()),
        body
    )
}

fn decode_body(body: &str) -> Option<MetadataRecord> {
    let fields: Vec<&str> = body.split('\t').collect();
    match fields.as_slice() {
        ["TOPIC", name, id, partitions, configs] => {
            let mut map = BTreeMap::new();
            for pair in configs.split(',').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=')?;
                map.insert(unescape(k)?, unescape(v)?);
            }
            Some(MetadataRecord::Topic {
                name: unescape(name)?,
                id: id.parse().ok()?,
                partitions: partitions.parse().ok()?,
                configs: map,
            })
        }
        ["REMOVE_TOPIC", id] => Some(MetadataRecord::RemoveTopic {
            id: id.parse().ok()?,
        }),
        ["PRODUCER_IDS", next] => Some(MetadataRecord::ProducerIds {
            next: next.parse().ok()?,
        }),
        ["TOPIC_CONFIGS", id, configs] => Some(MetadataRecord::TopicConfigs {
            id: id.parse().ok()?,
            configs: decode_configs(configs)?,
        }),
        ["PARTITIONS", id, count] => Some(MetadataRecord::Partitions {
            id: id.parse().ok()?,
            count: count.parse().ok()?,
        }),
        ["BROKER_CONFIGS", node, configs] => Some(MetadataRecord::BrokerConfigs {
            node: match *node {
                "*" => None,
                n => Some(n.parse().ok()?),
            },
            configs: decode_configs(configs)?,
        }),
        [
            "SCRAM",
            user,
            mechanism,
            salt,
            iterations,
            stored_key,
            server_key,
        ] => Some(MetadataRecord::ScramCredential {
            user: unescape(user)?,
            mechanism: ScramMechanism::from_type(mechanism.parse().ok()?)?,
            credential: ScramCredential {
                salt: B64.decode(salt).ok()?,
                iterations: iterations.parse().ok()?,
                stored_key: B64.decode(stored_key).ok()?,
                server_key: B64.decode(server_key).ok()?,
            },
        }),
        ["REMOVE_SCRAM", user, mechanism] => Some(MetadataRecord::RemoveScramCredential {
            user: unescape(user)?,
            mechanism: ScramMechanism::from_type(mechanism.parse().ok()?)?,
        }),
        [
            "ACL",
            id,
            ty,
            name,
            pattern,
            principal,
            host,
            operation,
            permission,
        ] => Some(MetadataRecord::Acl {
            id: id.parse().ok()?,
            binding: AclBinding {
                resource_type: ResourceType::from_code(ty.parse().ok()?)?,
                resource_name: unescape(name)?,
                pattern_type: PatternType::from_code(pattern.parse().ok()?)?,
                principal: unescape(principal)?,
                host: unescape(host)?,
                operation: AclOperation::from_code(operation.parse().ok()?)?,
                permission: Permission::from_code(permission.parse().ok()?)?,
            },
        }),
        ["REMOVE_ACL", id] => Some(MetadataRecord::RemoveAcl {
            id: id.parse().ok()?,
        }),
        ["CLIENT_QUOTA", user, client_id, key, value] => Some(MetadataRecord::ClientQuota {
            entity: QuotaEntity {
                user: decode_entity_name(user)?,
                client_id: decode_entity_name(client_id)?,
            },
            key: unescape(key)?,
            value: match *value {
                "-" => None,
                v => Some(v.parse().ok()?),
            },
        }),
        _ => None,
    }
}

/// A quota entity's part: `-` absent, `*` the default, `=name` a name.
fn encode_entity_name(name: Option<&EntityName>) -> String {
    match name {
        None => "-".to_string(),
        Some(EntityName::Default) => "*".to_string(),
        Some(EntityName::Named(n)) => format!("={}", escape(n)),
    }
}

/// `None` when malformed; `Some(None)` when the part is absent.
fn decode_entity_name(text: &str) -> Option<Option<EntityName>> {
    match text {
        "-" => Some(None),
        "*" => Some(Some(EntityName::Default)),
        t => Some(Some(EntityName::Named(unescape(t.strip_prefix('=')?)?))),
    }
}

fn encode_configs(configs: &BTreeMap<String, String>) -> String {
    configs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_configs(text: &str) -> Option<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for pair in text.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=')?;
        map.insert(unescape(k)?, unescape(v)?);
    }
    Some(map)
}

pub use crate::log::ids::{random_uuid, uuid_to_base64};

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn sample() -> Vec<MetadataRecord> {
        let mut configs = BTreeMap::new();
        configs.insert("cleanup.policy".to_string(), "compact,delete".to_string());
        configs.insert("weird key".to_string(), "a=b%c\td".to_string());
        vec![
            MetadataRecord::Topic {
                name: "orders".into(),
                id: random_uuid(),
                partitions: 3,
                configs,
            },
            MetadataRecord::ProducerIds { next: 2000 },
            MetadataRecord::RemoveTopic { id: random_uuid() },
            MetadataRecord::TopicConfigs {
                id: random_uuid(),
                configs: BTreeMap::from([("retention.ms".to_string(), "1,000=x".to_string())]),
            },
            MetadataRecord::TopicConfigs {
                id: random_uuid(),
                configs: BTreeMap::new(),
            },
            MetadataRecord::Partitions {
                id: random_uuid(),
                count: 12,
            },
            MetadataRecord::BrokerConfigs {
                node: None,
                configs: BTreeMap::from([("log.retention.ms".to_string(), "5".to_string())]),
            },
            MetadataRecord::BrokerConfigs {
                node: Some(1),
                configs: BTreeMap::new(),
            },
            MetadataRecord::ScramCredential {
                user: "al ice,=%".into(),
                mechanism: ScramMechanism::Sha512,
                credential: ScramCredential::from_password(
                    ScramMechanism::Sha512,
                    b"pw",
                    b"salt\t\n",
                    8192,
                ),
            },
            MetadataRecord::ScramCredential {
                user: "bob".into(),
                mechanism: ScramMechanism::Sha256,
                credential: ScramCredential {
                    salt: Vec::new(),
                    iterations: 4096,
                    stored_key: vec![1; 32],
                    server_key: vec![2; 32],
                },
            },
            MetadataRecord::RemoveScramCredential {
                user: "al ice,=%".into(),
                mechanism: ScramMechanism::Sha512,
            },
            MetadataRecord::Acl {
                id: random_uuid(),
                binding: AclBinding {
                    resource_type: ResourceType::Topic,
                    resource_name: "odd\tname %,=".into(),
                    pattern_type: PatternType::Prefixed,
                    principal: "User:CN=a b,O=c".into(),
                    host: "*".into(),
                    operation: AclOperation::IdempotentWrite,
                    permission: Permission::Deny,
                },
            },
            MetadataRecord::RemoveAcl { id: random_uuid() },
            MetadataRecord::ClientQuota {
                entity: QuotaEntity {
                    user: Some(EntityName::Named("al ice=%\t".into())),
                    client_id: Some(EntityName::Default),
                },
                key: "request_percentage".into(),
                value: Some(12.345678901234),
            },
            MetadataRecord::ClientQuota {
                entity: QuotaEntity {
                    user: None,
                    client_id: Some(EntityName::Named("-".into())),
                },
                key: "producer_byte_rate".into(),
                value: None,
            },
            MetadataRecord::ClientQuota {
                entity: QuotaEntity {
                    user: Some(EntityName::Named("*".into())),
                    client_id: None,
                },
                key: "consumer_byte_rate".into(),
                value: Some(1e18),
            },
        ]
    }

    #[test]
    fn journal_round_trips_and_cuts_torn_tail() {
        let dir = std::env::temp_dir().join(format!("vltava-journal-{}", random_uuid()));
        std::fs::create_dir_all(&dir).unwrap();
        let records = sample();
        {
            let (mut j, existing) = MetadataJournal::open(&dir).unwrap();
            assert!(existing.is_empty());
            for r in &records {
                j.append(r).unwrap();
            }
        }
        // A crash mid-append leaves half a line.
        let path = dir.join(JOURNAL_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"0badc0de TOPIC\tha").unwrap();
        drop(f);
        let (_, replayed) = MetadataJournal::open(&dir).unwrap();
        assert_eq!(replayed, records);
        let (_, again) = MetadataJournal::open(&dir).unwrap();
        assert_eq!(again, records);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn journal_with(records: &[MetadataRecord]) -> (PathBuf, Vec<u8>) {
        let dir = std::env::temp_dir().join(format!("vltava-journal-{}", random_uuid()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut j, _) = MetadataJournal::open(&dir).unwrap();
        for r in records {
            j.append(r).unwrap();
        }
        let bytes = std::fs::read(dir.join(JOURNAL_NAME)).unwrap();
        (dir, bytes)
    }

    /// Issue 8, item 3: one flipped byte in the last complete line used to be cut as a "torn
    /// tail", losing the topic it described (and then its data). It is corruption now.
    #[test]
    fn a_flipped_byte_in_the_last_line_stops_start_up() {
        let records = sample();
        let (dir, bytes) = journal_with(&records);
        let last_line_start = bytes[..bytes.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .unwrap()
            + 1;
        for at in [last_line_start + 30, last_line_start + 3, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x01;
            std::fs::write(dir.join(JOURNAL_NAME), &damaged).unwrap();
            let err = MetadataJournal::open(&dir).err().expect("refused");
            let text = err.to_string();
            assert!(
                text.contains(&format!("line {}", records.len())),
                "{at}: {text}"
            );
            assert!(text.contains("truncate -s"), "{text}");
            // Nothing was cut: the damaged file is left for the operator.
            assert_eq!(std::fs::read(dir.join(JOURNAL_NAME)).unwrap(), damaged);
        }
        // Corruption in the middle is refused too.
        let mut damaged = bytes.clone();
        damaged[40] ^= 0x20;
        std::fs::write(dir.join(JOURNAL_NAME), &damaged).unwrap();
        assert!(matches!(
            MetadataJournal::open(&dir),
            Err(JournalError::Corrupt { line: 1, .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Every prefix of a final append is a torn tail (cut), never corruption.
    #[test]
    fn every_prefix_of_the_last_append_is_a_torn_tail() {
        let records = sample();
        let (dir, bytes) = journal_with(&records);
        let last_line_start = bytes[..bytes.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .unwrap()
            + 1;
        for cut in last_line_start..bytes.len() {
            std::fs::write(dir.join(JOURNAL_NAME), &bytes[..cut]).unwrap();
            let (_, replayed) = MetadataJournal::open(&dir).unwrap();
            assert_eq!(replayed, records[..records.len() - 1], "cut at {cut}");
            assert_eq!(
                std::fs::read(dir.join(JOURNAL_NAME)).unwrap(),
                &bytes[..last_line_start]
            );
        }
        // A zero-filled tail (a crash after the file grew) is torn too.
        let mut zeros = bytes.clone();
        zeros.extend_from_slice(&[0u8; 100]);
        std::fs::write(dir.join(JOURNAL_NAME), &zeros).unwrap();
        assert_eq!(MetadataJournal::open(&dir).unwrap().1, records);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Journals written before the length field was added still open.
    #[test]
    fn lines_without_a_length_field_still_replay() {
        let records = sample();
        let dir = std::env::temp_dir().join(format!("vltava-journal-{}", random_uuid()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut old = String::new();
        for r in &records {
            let line = encode_line(r);
            let (_, rest) = line.strip_prefix(V2_TAG).unwrap().split_once(' ').unwrap();
            old.push_str(rest);
        }
        std::fs::write(dir.join(JOURNAL_NAME), &old).unwrap();
        let (mut j, replayed) = MetadataJournal::open(&dir).unwrap();
        assert_eq!(replayed, records);
        j.append(&MetadataRecord::ProducerIds { next: 9 }).unwrap();
        let (_, again) = MetadataJournal::open(&dir).unwrap();
        assert_eq!(again.len(), records.len() + 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn base64_matches_kafka_form() {
        let id = Uuid::from_u128(0);
        assert_eq!(uuid_to_base64(&id), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(uuid_to_base64(&random_uuid()).len(), 22);
    }
}
