//! Cluster metadata as a state machine fed by records.
//!
//! Kafka keeps topics, partitions, configs and producer-id blocks in the `__cluster_metadata`
//! log and every broker builds its view by replaying it. Vltava does the same on a small scale:
//! a metadata change is first written as a [`MetadataRecord`] to the journal (fsynced), and only
//! then applied to the in-memory image. Start-up replays the journal. Replication will later feed
//! the same records from a consensus log instead of a local file.
//!
//! The journal is one text line per record, `<crc32c hex> <TYPE> <tab-separated fields>`, with
//! fields percent-escaped. A torn or corrupt final line (a crash mid-write) is cut off on open;
//! corruption earlier in the file stops start-up rather than silently losing topics.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// One change to cluster metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataRecord {
    /// A topic was created (or recreated, under a new id).
    Topic {
        name: String,
        id: Uuid,
        partitions: i32,
        configs: BTreeMap<String, String>,
    },
    /// A topic was deleted.
    RemoveTopic { id: Uuid },
    /// Producer ids below `next` have been handed out (Kafka allocates them in blocks).
    ProducerIds { next: i64 },
    /// A topic's config overrides were replaced (AlterConfigs, IncrementalAlterConfigs).
    TopicConfigs {
        id: Uuid,
        configs: BTreeMap<String, String>,
    },
    /// A topic grew to `count` partitions (CreatePartitions).
    Partitions { id: Uuid, count: i32 },
    /// Dynamic broker configs were replaced: for one broker (`Some(node id)`) or as the
    /// cluster-wide defaults (`None`).
    BrokerConfigs {
        node: Option<i32>,
        configs: BTreeMap<String, String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("metadata journal I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("metadata journal corrupt at line {0}")]
    Corrupt(usize),
}

/// The durable, append-only record of metadata changes.
pub struct MetadataJournal {
    /// `None` in memory mode.
    file: Option<File>,
}

const JOURNAL_NAME: &str = "__cluster_metadata.journal";

impl MetadataJournal {
    /// A journal that keeps nothing (for `--memory`).
    pub fn in_memory() -> MetadataJournal {
        MetadataJournal { file: None }
    }

    /// Opens (or creates) the journal in `dir` and returns the records it holds, in order.
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
        let mut good_len = 0usize;
        let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let is_last = i + 1 == lines.len();
            match decode_line(line) {
                Some(record) if line.ends_with(b"\n") => {
                    records.push(record);
                    good_len += line.len();
                }
                _ if is_last => break, // torn tail from a crash: drop it
                _ => return Err(JournalError::Corrupt(i + 1)),
            }
        }
        if good_len != text.len() {
            tracing::warn!(
                "cut {} torn bytes from the metadata journal",
                text.len() - good_len
            );
            file.set_len(good_len as u64)?;
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
    };
    format!("{:08x} {}\n", crc32c::crc32c(body.as_bytes()), body)
}

fn decode_line(line: &[u8]) -> Option<MetadataRecord> {
    let line = std::str::from_utf8(line).ok()?.strip_suffix('\n')?;
    let (crc, body) = line.split_once(' ')?;
    if u32::from_str_radix(crc, 16).ok()? != crc32c::crc32c(body.as_bytes()) {
        return None;
    }
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
        _ => None,
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

/// A random (version 4) UUID from the kernel's generator, never the reserved zero or one ids.
pub fn random_uuid() -> Uuid {
    loop {
        let mut bytes = [0u8; 16];
        fill_random(&mut bytes);
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        if id.as_u128() > 1 {
            return id;
        }
    }
}

fn fill_random(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: writes at most the remaining length into our own buffer.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        }
    }
}

/// Kafka's textual form of an id (URL-safe base64, no padding), as shown by its tools.
pub fn uuid_to_base64(id: &Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn base64_matches_kafka_form() {
        let id = Uuid::from_u128(0);
        assert_eq!(uuid_to_base64(&id), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(uuid_to_base64(&random_uuid()).len(), 22);
    }
}
