//! The records the group coordinator writes to `__consumer_offsets`, in Kafka's own key and
//! value schemas, so Kafka's tools (and a Kafka broker) can read the topic:
//!
//! | key version | key fields                 | value (version written)                          |
//! |-------------|----------------------------|--------------------------------------------------|
//! | 0, 1        | group, topic, partition    | OffsetCommitValue v3 (v1 when an expire time is set) |
//! | 2           | group                      | GroupMetadataValue v3                            |
//!
//! A null value is a tombstone. Values are decoded in every version Kafka defines (0–4; v4 is the
//! first flexible one). Keys of other versions belong to coordinators Vltava does not have
//! (KIP-848 consumer groups, share groups) and are skipped on load.
//!
//! Every length read from a record is checked against the bytes that are left, so a corrupt or
//! hostile record (anyone may produce to the topic's partitions' files by hand) costs at most its
//! own size.

use bytes::Bytes;

/// Why a record could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record truncated")]
    Truncated,
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion { what: &'static str, version: i16 },
    #[error("{0} is too long for the record schema")]
    TooLong(&'static str),
}

/// A committed offset (Kafka's `OffsetAndMetadata`): what OffsetCommitValue carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    pub offset: i64,
    /// -1 when the committer did not say.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// Only from OffsetCommit v2–4 with an explicit `retention_time_ms` (value version 1).
    pub expire_timestamp_ms: Option<i64>,
}

/// One member as stored in GroupMetadataValue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadata {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    /// The member's metadata for the group's selected protocol.
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// A classic group's durable state: written when a generation's assignment is stored, when the
/// group becomes empty, and when a static member is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// "" for a group without a protocol type (Kafka writes "" for none).
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// When the group entered its current state; -1 if unknown.
    pub current_state_timestamp_ms: i64,
    pub members: Vec<MemberMetadata>,
}

/// A record of `__consumer_offsets`. `value: None` is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoordinatorRecord {
    OffsetCommit {
        group: String,
        topic: String,
        partition: i32,
        value: Option<OffsetCommitValue>,
    },
    GroupMetadata {
        group: String,
        value: Option<GroupMetadataValue>,
    },
}

const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// The highest non-flexible versions, which Kafka itself writes.
const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
const OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY: i16 = 1;
const GROUP_METADATA_VALUE_VERSION: i16 = 3;

impl CoordinatorRecord {
    /// The group the record belongs to (it decides the partition).
    pub fn group_id(&self) -> &str {
        match self {
            CoordinatorRecord::OffsetCommit { group, .. } => group,
            CoordinatorRecord::GroupMetadata { group, .. } => group,
        }
    }

    pub fn encode_key(&self) -> Result<Vec<u8>, RecordError> {
        let mut w = Writer::default();
        match self {
            CoordinatorRecord::OffsetCommit {
                group,
                topic,
                partition,
                ..
            } => {
                w.i16(OFFSET_COMMIT_KEY_VERSION);
                w.string(group, "group id")?;
                w.string(topic, "topic name")?;
                w.i32(*partition);
            }
            CoordinatorRecord::GroupMetadata { group, .. } => {
                w.i16(GROUP_METADATA_KEY_VERSION);
                w.string(group, "group id")?;
            }
        }
        Ok(w.0)
    }

    /// The value bytes; `None` for a tombstone.
    pub fn encode_value(&self) -> Result<Option<Vec<u8>>, RecordError> {
        match self {
            CoordinatorRecord::OffsetCommit { value: None, .. }
            | CoordinatorRecord::GroupMetadata { value: None, .. } => Ok(None),
            CoordinatorRecord::OffsetCommit { value: Some(v), .. } => {
                encode_offset_commit_value(v).map(Some)
            }
            CoordinatorRecord::GroupMetadata { value: Some(v), .. } => {
                encode_group_metadata_value(v).map(Some)
            }
        }
    }

    /// Decodes a record read back from the log. `Ok(None)` for keys of record types this
    /// coordinator does not know (other coordinators share the topic in Kafka).
    pub fn decode(
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<Option<CoordinatorRecord>, RecordError> {
        let mut r = Reader::new(key);
        let version = r.i16()?;
        match version {
            0 | 1 => {
                let group = r.string()?;
                let topic = r.string()?;
                let partition = r.i32()?;
                let value = value.map(decode_offset_commit_value).transpose()?;
                Ok(Some(CoordinatorRecord::OffsetCommit {
                    group,
                    topic,
                    partition,
                    value,
                }))
            }
            2 => {
                let group = r.string()?;
                let value = value.map(decode_group_metadata_value).transpose()?;
                Ok(Some(CoordinatorRecord::GroupMetadata { group, value }))
            }
            _ => Ok(None),
        }
    }
}

fn encode_offset_commit_value(v: &OffsetCommitValue) -> Result<Vec<u8>, RecordError> {
    let mut w = Writer::default();
    match v.expire_timestamp_ms {
        Some(expire) => {
            w.i16(OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY);
            w.i64(v.offset);
            w.string(&v.metadata, "commit metadata")?;
            w.i64(v.commit_timestamp_ms);
            w.i64(expire);
        }
        None => {
            w.i16(OFFSET_COMMIT_VALUE_VERSION);
            w.i64(v.offset);
            w.i32(v.leader_epoch);
            w.string(&v.metadata, "commit metadata")?;
            w.i64(v.commit_timestamp_ms);
        }
    }
    Ok(w.0)
}

fn decode_offset_commit_value(bytes: &[u8]) -> Result<OffsetCommitValue, RecordError> {
    let mut r = Reader::new(bytes);
    let version = r.i16()?;
    if !(0..=4).contains(&version) {
        return Err(RecordError::UnsupportedVersion {
            what: "OffsetCommitValue",
            version,
        });
    }
    let flexible = version >= 4;
    let offset = r.i64()?;
    let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
    let metadata = r.string_v(flexible)?;
    let commit_timestamp_ms = r.i64()?;
    let expire_timestamp_ms = if version == 1 {
        Some(r.i64()?).filter(|t| *t != -1)
    } else {
        None
    };
    if flexible {
        r.skip_tagged_fields()?;
    }
    Ok(OffsetCommitValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp_ms,
        expire_timestamp_ms,
    })
}

fn encode_group_metadata_value(v: &GroupMetadataValue) -> Result<Vec<u8>, RecordError> {
    let mut w = Writer::default();
    w.i16(GROUP_METADATA_VALUE_VERSION);
    w.string(&v.protocol_type, "protocol type")?;
    w.i32(v.generation);
    w.nullable_string(v.protocol.as_deref(), "protocol name")?;
    w.nullable_string(v.leader.as_deref(), "leader id")?;
    w.i64(v.current_state_timestamp_ms);
    w.i32(i32::try_from(v.members.len()).map_err(|_| RecordError::TooLong("member list"))?);
    for m in &v.members {
        w.string(&m.member_id, "member id")?;
        w.nullable_string(m.group_instance_id.as_deref(), "group instance id")?;
        w.string(&m.client_id, "client id")?;
        w.string(&m.client_host, "client host")?;
        w.i32(m.rebalance_timeout_ms);
        w.i32(m.session_timeout_ms);
        w.bytes(&m.subscription, "subscription")?;
        w.bytes(&m.assignment, "assignment")?;
    }
    Ok(w.0)
}

fn decode_group_metadata_value(bytes: &[u8]) -> Result<GroupMetadataValue, RecordError> {
    let mut r = Reader::new(bytes);
    let version = r.i16()?;
    if !(0..=4).contains(&version) {
        return Err(RecordError::UnsupportedVersion {
            what: "GroupMetadataValue",
            version,
        });
    }
    let flexible = version >= 4;
    let protocol_type = r.string_v(flexible)?;
    let generation = r.i32()?;
    let protocol = r.nullable_string_v(flexible)?;
    let leader = r.nullable_string_v(flexible)?;
    let current_state_timestamp_ms = if version >= 2 { r.i64()? } else { -1 };
    let count = r.array_len(flexible)?;
    let mut members = Vec::new();
    for _ in 0..count {
        let member_id = r.string_v(flexible)?;
        let group_instance_id = if version >= 3 {
            r.nullable_string_v(flexible)?
        } else {
            None
        };
        let client_id = r.string_v(flexible)?;
        let client_host = r.string_v(flexible)?;
        let rebalance_timeout_ms = if version >= 1 { r.i32()? } else { -1 };
        let session_timeout_ms = r.i32()?;
        let subscription = r.bytes_v(flexible)?;
        let assignment = r.bytes_v(flexible)?;
        if flexible {
            r.skip_tagged_fields()?;
        }
        members.push(MemberMetadata {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    if flexible {
        r.skip_tagged_fields()?;
    }
    Ok(GroupMetadataValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp_ms,
        members,
    })
}

/// Big-endian writer for the non-flexible schemas Vltava writes.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn i16(&mut self, v: i16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn string(&mut self, s: &str, what: &'static str) -> Result<(), RecordError> {
        let len = i16::try_from(s.len()).map_err(|_| RecordError::TooLong(what))?;
        self.i16(len);
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
    fn nullable_string(&mut self, s: Option<&str>, what: &'static str) -> Result<(), RecordError> {
        match s {
            Some(s) => self.string(s, what),
            None => {
                self.i16(-1);
                Ok(())
            }
        }
    }
    fn bytes(&mut self, b: &[u8], what: &'static str) -> Result<(), RecordError> {
        let len = i32::try_from(b.len()).map_err(|_| RecordError::TooLong(what))?;
        self.i32(len);
        self.0.extend_from_slice(b);
        Ok(())
    }
}

/// Bounds-checked reader for every version of the schemas (flexible ones included).
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let end = self.pos.checked_add(n).ok_or(RecordError::Truncated)?;
        let out = self.buf.get(self.pos..end).ok_or(RecordError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn uvarint(&mut self) -> Result<u32, RecordError> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.take(1)?[0];
            value |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordError::Invalid("varint"))
    }

    fn utf8(&mut self, len: usize) -> Result<String, RecordError> {
        let raw = self.take(len)?;
        String::from_utf8(raw.to_vec()).map_err(|_| RecordError::Invalid("string encoding"))
    }

    /// A string's length (`None` = null), in the encoding the version uses.
    fn string_len(&mut self, flexible: bool) -> Result<Option<usize>, RecordError> {
        if flexible {
            match self.uvarint()? {
                0 => Ok(None),
                n => Ok(Some(n as usize - 1)),
            }
        } else {
            match self.i16()? {
                -1 => Ok(None),
                n if n < 0 => Err(RecordError::Invalid("string length")),
                n => Ok(Some(n as usize)),
            }
        }
    }

    fn string(&mut self) -> Result<String, RecordError> {
        self.string_v(false)
    }

    fn string_v(&mut self, flexible: bool) -> Result<String, RecordError> {
        match self.string_len(flexible)? {
            Some(n) => self.utf8(n),
            None => Err(RecordError::Invalid("null string")),
        }
    }

    fn nullable_string_v(&mut self, flexible: bool) -> Result<Option<String>, RecordError> {
        match self.string_len(flexible)? {
            Some(n) => self.utf8(n).map(Some),
            None => Ok(None),
        }
    }

    fn bytes_v(&mut self, flexible: bool) -> Result<Bytes, RecordError> {
        let len = if flexible {
            match self.uvarint()? {
                0 => return Err(RecordError::Invalid("null bytes")),
                n => n as usize - 1,
            }
        } else {
            usize::try_from(self.i32()?).map_err(|_| RecordError::Invalid("bytes length"))?
        };
        Ok(Bytes::copy_from_slice(self.take(len)?))
    }

    /// An array count; bounded by the bytes left (each element takes at least one byte), so a
    /// corrupt count cannot make the caller loop or allocate far past the record.
    fn array_len(&mut self, flexible: bool) -> Result<usize, RecordError> {
        let n = if flexible {
            match self.uvarint()? {
                0 => return Err(RecordError::Invalid("null array")),
                n => n as usize - 1,
            }
        } else {
            usize::try_from(self.i32()?).map_err(|_| RecordError::Invalid("array length"))?
        };
        if n > self.buf.len() - self.pos {
            return Err(RecordError::Truncated);
        }
        Ok(n)
    }

    fn skip_tagged_fields(&mut self) -> Result<(), RecordError> {
        let count = self.uvarint()?;
        for _ in 0..count {
            let _tag = self.uvarint()?;
            let len = self.uvarint()? as usize;
            self.take(len)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(value: Option<OffsetCommitValue>) -> CoordinatorRecord {
        CoordinatorRecord::OffsetCommit {
            group: "g".into(),
            topic: "t".into(),
            partition: 7,
            value,
        }
    }

    fn roundtrip(r: &CoordinatorRecord) -> CoordinatorRecord {
        let key = r.encode_key().unwrap();
        let value = r.encode_value().unwrap();
        CoordinatorRecord::decode(&key, value.as_deref())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn offset_commit_key_and_value_match_kafkas_layout() {
        let r = commit(Some(OffsetCommitValue {
            offset: 42,
            leader_epoch: 3,
            metadata: "meta".into(),
            commit_timestamp_ms: 1000,
            expire_timestamp_ms: None,
        }));
        // version 1 key: i16 version, string group, string topic, i32 partition
        assert_eq!(
            r.encode_key().unwrap(),
            vec![0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 7]
        );
        let v = r.encode_value().unwrap().unwrap();
        let mut want = vec![0, 3];
        want.extend_from_slice(&42i64.to_be_bytes());
        want.extend_from_slice(&3i32.to_be_bytes());
        want.extend_from_slice(&[0, 4, b'm', b'e', b't', b'a']);
        want.extend_from_slice(&1000i64.to_be_bytes());
        assert_eq!(v, want);
        assert_eq!(roundtrip(&r), r);
    }

    #[test]
    fn expiring_commits_use_value_version_1() {
        let r = commit(Some(OffsetCommitValue {
            offset: 1,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 5,
            expire_timestamp_ms: Some(99),
        }));
        let v = r.encode_value().unwrap().unwrap();
        assert_eq!(&v[..2], &[0, 1]);
        assert_eq!(roundtrip(&r), r);
    }

    #[test]
    fn tombstones_have_no_value() {
        let r = commit(None);
        assert_eq!(r.encode_value().unwrap(), None);
        assert_eq!(roundtrip(&r), r);
        let g = CoordinatorRecord::GroupMetadata {
            group: "g".into(),
            value: None,
        };
        assert_eq!(g.encode_key().unwrap(), vec![0, 2, 0, 1, b'g']);
        assert_eq!(roundtrip(&g), g);
    }

    #[test]
    fn group_metadata_roundtrips() {
        let r = CoordinatorRecord::GroupMetadata {
            group: "grp".into(),
            value: Some(GroupMetadataValue {
                protocol_type: "consumer".into(),
                generation: 5,
                protocol: Some("range".into()),
                leader: Some("m1".into()),
                current_state_timestamp_ms: 77,
                members: vec![MemberMetadata {
                    member_id: "m1".into(),
                    group_instance_id: Some("i1".into()),
                    client_id: "c".into(),
                    client_host: "/127.0.0.1".into(),
                    rebalance_timeout_ms: 300000,
                    session_timeout_ms: 45000,
                    subscription: Bytes::from_static(b"sub"),
                    assignment: Bytes::from_static(b"asg"),
                }],
            }),
        };
        assert_eq!(roundtrip(&r), r);
    }

    #[test]
    fn flexible_v4_values_decode() {
        // OffsetCommitValue v4: offset, leaderEpoch, compact metadata, commitTimestamp, tags.
        let mut v = vec![0, 4];
        v.extend_from_slice(&9i64.to_be_bytes());
        v.extend_from_slice(&(-1i32).to_be_bytes());
        v.extend_from_slice(&[3, b'h', b'i']);
        v.extend_from_slice(&8i64.to_be_bytes());
        v.extend_from_slice(&[1, 0, 2, 0xaa, 0xbb]); // one unknown tagged field
        let got = decode_offset_commit_value(&v).unwrap();
        assert_eq!(got.offset, 9);
        assert_eq!(got.metadata, "hi");
        assert_eq!(got.commit_timestamp_ms, 8);
    }

    #[test]
    fn unknown_key_versions_are_skipped_and_corruption_is_an_error() {
        assert_eq!(CoordinatorRecord::decode(&[0, 3, 0, 0], None), Ok(None));
        assert!(CoordinatorRecord::decode(&[0, 1, 0, 5, b'a'], None).is_err());
        // A member count far larger than the record fails cleanly.
        let mut v = vec![0, 3, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        v.extend_from_slice(&0i64.to_be_bytes());
        v.extend_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(decode_group_metadata_value(&v), Err(RecordError::Truncated));
    }
}
