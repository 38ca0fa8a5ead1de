//! File plumbing shared by segments, indexes and checkpoints: directory files or memfd files
//! (`Storage::Memory`), positional vectored writes, exact positional reads, and the
//! write-temp-then-rename used for small checkpoint files (as Kafka's `CheckpointFile`).

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Where a partition's files live: a directory, or anonymous memory.
#[derive(Debug, Clone)]
pub(crate) enum Place {
    Dir(PathBuf),
    Memory,
}

impl Place {
    /// Opens (creating if needed) `name` for reading and writing. In memory, a fresh memfd.
    pub(crate) fn open_rw(&self, name: &str) -> io::Result<File> {
        match self {
            Place::Dir(dir) => OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join(name)),
            Place::Memory => {
                let fd =
                    nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                        .map_err(io::Error::from)?;
                Ok(File::from(fd))
            }
        }
    }

    pub(crate) fn dir(&self) -> Option<&Path> {
        match self {
            Place::Dir(dir) => Some(dir),
            Place::Memory => None,
        }
    }

    pub(crate) fn remove(&self, name: &str) -> io::Result<()> {
        match self {
            Place::Dir(dir) => match std::fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            Place::Memory => Ok(()),
        }
    }
}

/// Kafka's file names: the base offset as 20 zero-padded digits plus a suffix.
pub(crate) fn offset_file_name(offset: i64, suffix: &str) -> String {
    format!("{offset:020}{suffix}")
}

/// Parses `00000000000000000042.log` style names; `None` for anything else.
pub(crate) fn parse_offset_file_name(name: &str, suffix: &str) -> Option<i64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Writes all of `bufs` at `offset`, resuming after short writes.
pub(crate) fn write_all_vectored_at(
    file: &File,
    bufs: &[&[u8]],
    mut offset: u64,
) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = bufs
        .iter()
        .filter(|b| !b.is_empty())
        .map(|b| IoSlice::new(b))
        .collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        let off = i64::try_from(offset).map_err(io::Error::other)?;
        let written = match nix::sys::uio::pwritev(file, slices, off) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        offset += written as u64;
        IoSlice::advance_slices(&mut slices, written);
    }
    Ok(())
}

/// Reads up to `buf.len()` bytes at `offset`, stopping early only at end of file.
pub(crate) fn read_up_to_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads a whole small file; `Ok(None)` when it does not exist.
pub(crate) fn read_optional(path: &Path, max_len: u64) -> io::Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len > max_len {
        return Err(io::Error::other(format!(
            "{} is {len} bytes, more than {max_len}",
            path.display()
        )));
    }
    let mut buf = vec![0u8; len as usize];
    let n = read_up_to_at(&file, &mut buf, 0)?;
    buf.truncate(n);
    Ok(Some(buf))
}

/// Replaces `dir/name` atomically: write `name.tmp`, optionally fsync it, rename over.
pub(crate) fn replace_file(dir: &Path, name: &str, contents: &[u8], sync: bool) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    file.write_all_at(contents, 0)?;
    if sync {
        file.sync_data()?;
    }
    std::fs::rename(&tmp, dir.join(name))
}

/// fsync of a directory, making created, renamed and removed entries durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
