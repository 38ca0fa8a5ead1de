//! The log directory: which partition directories belong to live topics, and what happens to
//! the others.
//!
//! A partition directory is `<topic>-<partition>`; Kafka writes the owning topic's id into its
//! `partition.metadata`. A directory that metadata does not claim is one of:
//! - left by a deleted topic whose deletion was journaled but not finished (a crash between the
//!   journal and the rename to `-delete`): its id is a removed topic's, so it is deleted;
//! - left by an operation that never committed (a crash in the middle of CreateTopics or
//!   CreatePartitions): it holds no record data, so it is removed;
//! - anything else — data this broker cannot account for (damaged metadata, a directory copied
//!   in, an older incarnation nobody deleted). It is never deleted: it is renamed to
//!   `<dir>.<random id>-stray` (Kafka's name for the same thing) and a warning says where.

use std::io;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::ids::{random_uuid, uuid_from_base64, uuid_to_base64};

/// Kafka's per-partition metadata file, holding the topic id.
pub const PARTITION_METADATA: &str = "partition.metadata";
const DELETE_SUFFIX: &str = "-delete";
const STRAY_SUFFIX: &str = "-stray";

/// What became of a directory found where a partition should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Nothing there, or it belongs to the partition being opened.
    Ours,
    /// Removed: a deleted topic's leftovers, or an empty directory of an uncommitted operation.
    Removed,
    /// Data nobody accounts for, renamed to this path.
    SetAside(PathBuf),
}

/// `<topic>-<partition>`.
pub fn partition_dir_name(topic: &str, index: i32) -> String {
    format!("{topic}-{index}")
}

/// Splits a partition directory name into topic and index (topic names may contain '-').
pub fn parse_partition_dir_name(name: &str) -> Option<(&str, i32)> {
    let (topic, index) = name.rsplit_once('-')?;
    if topic.is_empty() || index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((topic, index.parse().ok()?))
}

/// Writes `partition.metadata` as Kafka does (its tools read the topic id there).
pub fn write_partition_metadata(dir: &Path, id: &Uuid) -> io::Result<()> {
    let path = dir.join(PARTITION_METADATA);
    let text = format!("version: 0\ntopic_id: {}\n", uuid_to_base64(id));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(path, text)?;
    }
    Ok(())
}

/// The topic id in a directory's `partition.metadata`, if it has a readable one.
pub fn read_topic_id(dir: &Path) -> Option<Uuid> {
    let text = std::fs::read_to_string(dir.join(PARTITION_METADATA)).ok()?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("topic_id:"))
        .and_then(|id| uuid_from_base64(id.trim()))
}

/// Decides the fate of `dir` before a partition is opened there. `ours` is the id of the topic
/// the partition belongs to when the partition already exists in metadata (its data is kept);
/// `None` when the partition is being created, so nothing there can be ours.
pub fn settle(
    dir: &Path,
    ours: Option<Uuid>,
    removed: &dyn Fn(&Uuid) -> bool,
) -> io::Result<Settled> {
    if !dir.exists() {
        return Ok(Settled::Ours);
    }
    let found = read_topic_id(dir);
    if ours.is_some() && found == ours {
        return Ok(Settled::Ours);
    }
    if found.as_ref().is_some_and(removed) {
        tracing::info!(dir = %dir.display(), "removing data of a deleted topic");
        std::fs::remove_dir_all(dir)?;
        return Ok(Settled::Removed);
    }
    if !holds_records(dir)? {
        tracing::warn!(dir = %dir.display(), "removing an empty partition directory left by an interrupted operation");
        std::fs::remove_dir_all(dir)?;
        return Ok(Settled::Removed);
    }
    let target = stray_path(dir);
    std::fs::rename(dir, &target)?;
    tracing::warn!(
        dir = %dir.display(),
        moved_to = %target.display(),
        topic_id = ?found.map(|id| uuid_to_base64(&id)),
        "partition data that no topic in metadata accounts for was moved aside, not deleted; \
         inspect it and remove it when it is not needed"
    );
    Ok(Settled::SetAside(target))
}

/// Start-up housekeeping of a log directory: finishes interrupted deletions (`*-delete`),
/// and settles every partition directory that `live` does not claim (see the module docs).
/// `live(topic, index)` gives the id of a partition that exists in metadata. Returns the
/// directories set aside.
pub fn sweep(
    log_dir: &Path,
    live: &dyn Fn(&str, i32) -> Option<Uuid>,
    removed: &dyn Fn(&Uuid) -> bool,
) -> io::Result<Vec<PathBuf>> {
    let mut set_aside = Vec::new();
    let mut strays = 0usize;
    for entry in std::fs::read_dir(log_dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.ends_with(DELETE_SUFFIX) {
            std::fs::remove_dir_all(entry.path())?;
            continue;
        }
        if name.ends_with(STRAY_SUFFIX) {
            strays += 1;
            continue;
        }
        let Some((topic, index)) = parse_partition_dir_name(&name) else {
            continue;
        };
        if live(topic, index).is_some() {
            continue; // opened (and its id checked) with its topic
        }
        if let Settled::SetAside(path) = settle(&entry.path(), None, removed)? {
            set_aside.push(path);
        }
    }
    if strays > 0 {
        tracing::warn!(
            count = strays,
            dir = %log_dir.display(),
            "partition directories set aside earlier (*-stray) are still there"
        );
    }
    Ok(set_aside)
}

/// Renames a deleted partition's directory out of the way (`<dir>.<id>-delete`) so a topic of
/// the same name can start clean; `sweep` removes leftovers of a crash.
pub fn mark_deleted(dir: &Path, id: &Uuid) -> io::Result<PathBuf> {
    let target = with_suffix(dir, &format!(".{}{DELETE_SUFFIX}", id.simple()));
    std::fs::rename(dir, &target)?;
    Ok(target)
}

fn stray_path(dir: &Path) -> PathBuf {
    with_suffix(dir, &format!(".{}{STRAY_SUFFIX}", random_uuid().simple()))
}

fn with_suffix(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// True when any segment file of the directory holds bytes.
fn holds_records(dir: &Path) -> io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if (name.ends_with(".log") || name.contains(".log.")) && entry.metadata()?.len() > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names_parse_with_dashes_in_topics() {
        assert_eq!(parse_partition_dir_name("a-b-c-12"), Some(("a-b-c", 12)));
        assert_eq!(parse_partition_dir_name("orders-0"), Some(("orders", 0)));
        assert_eq!(parse_partition_dir_name("orders"), None);
        assert_eq!(parse_partition_dir_name("-3"), None);
        assert_eq!(parse_partition_dir_name("x-0.abc-stray"), None);
    }

    fn partition(root: &Path, name: &str, id: Option<Uuid>, data: &[u8]) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(id) = id {
            write_partition_metadata(&dir, &id).unwrap();
        }
        std::fs::write(dir.join("00000000000000000000.log"), data).unwrap();
        std::fs::write(dir.join("00000000000000000000.index"), b"").unwrap();
        dir
    }

    #[test]
    fn data_nobody_accounts_for_is_set_aside_never_deleted() {
        let root = tempfile::tempdir().unwrap();
        let live = Uuid::from_u128(1);
        let deleted = Uuid::from_u128(2);
        let unknown = Uuid::from_u128(3);
        partition(root.path(), "live-0", Some(live), b"data");
        partition(root.path(), "gone-0", Some(deleted), b"data");
        partition(root.path(), "lost-0", Some(unknown), b"acked records");
        partition(root.path(), "empty-0", Some(unknown), b"");
        partition(root.path(), "nometa-1", None, b"records");
        std::fs::create_dir(root.path().join("x-0.abcd-delete")).unwrap();
        let set_aside = sweep(
            root.path(),
            &|t, i| (t == "live" && i == 0).then_some(live),
            &|id| *id == deleted,
        )
        .unwrap();
        let names: Vec<String> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"live-0".to_string()));
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("gone-0") || n.starts_with("empty-0"))
        );
        assert!(!names.iter().any(|n| n.ends_with("-delete")));
        assert_eq!(set_aside.len(), 2);
        for prefix in ["lost-0.", "nometa-1."] {
            let stray = names
                .iter()
                .find(|n| n.starts_with(prefix) && n.ends_with("-stray"))
                .unwrap_or_else(|| panic!("{prefix} set aside: {names:?}"));
            let log = root.path().join(stray).join("00000000000000000000.log");
            assert!(std::fs::metadata(log).unwrap().len() > 0);
        }
    }

    #[test]
    fn another_incarnation_is_set_aside_when_a_partition_is_opened() {
        let root = tempfile::tempdir().unwrap();
        let old = Uuid::from_u128(7);
        let new = Uuid::from_u128(8);
        let dir = partition(root.path(), "t-0", Some(old), b"records");
        // Opening the new incarnation of t-0: the old data is not the new topic's.
        let settled = settle(&dir, Some(new), &|_| false).unwrap();
        assert!(matches!(settled, Settled::SetAside(_)));
        assert!(!dir.exists());
        // A journaled deletion makes the same data accountable: removed.
        let dir = partition(root.path(), "t-0", Some(old), b"records");
        assert_eq!(
            settle(&dir, Some(new), &|id| *id == old).unwrap(),
            Settled::Removed
        );
        // Its own data is kept.
        let dir = partition(root.path(), "t-0", Some(new), b"records");
        assert_eq!(settle(&dir, Some(new), &|_| false).unwrap(), Settled::Ours);
        assert!(dir.join("00000000000000000000.log").exists());
    }
}
