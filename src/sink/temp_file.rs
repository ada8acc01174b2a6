//! Atomic output files.
//!
//! An output only ever appears complete: it is written under a hidden temp
//! name in the destination folder (same filesystem, so the final rename is
//! atomic), closed, fsynced, renamed, and the folder fsynced so the rename
//! survives a crash. Until then a [`TempFile`] guard owns the temp name and
//! removes it on every exit path: error, panic, or a cancelled job. The temp
//! names follow one pattern so the daemon can sweep strays after a crash.

use std::cell::UnsafeCell;
use std::ffi::CString;

use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// Marker every temp output name carries; see [`is_temp_name`].
pub const TEMP_MARKER: &str = ".tilerun-tmp-";

/// A temp file that is deleted when dropped unless it was committed.
pub struct TempFile {
    path: PathBuf,
    slot: Option<usize>,
}

impl TempFile {
    /// A fresh temp name beside `final_path`.
    pub fn beside(final_path: &Path, suffix: &str) -> TempFile {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = final_path.parent().unwrap_or(Path::new("."));
        let stem = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!(".{stem}{TEMP_MARKER}{}-{n}{suffix}", std::process::id());
        let path = dir.join(name);
        let slot = register_temp(&path);
        TempFile { path, slot }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// fsync the file, rename it to `final_path`, fsync the folder. With
    /// `replace` false an existing `final_path` is never replaced (EEXIST),
    /// even one that appeared after the job was checked. True when a file
    /// was replaced: decided by the rename itself, so an output committed
    /// by another job after this one was planned still counts.
    pub fn commit(mut self, final_path: &Path, replace: bool) -> std::io::Result<bool> {
        File::open(&self.path)?.sync_all()?;
        let replaced = rename_into(&self.path, final_path, replace)?;
        self.release();
        sync_dir(final_path.parent().unwrap_or(Path::new(".")))?;
        Ok(replaced)
    }

    fn release(&mut self) {
        if let Some(s) = self.slot.take() {
            unregister_temp(s);
        }
        self.path = PathBuf::new();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
        self.release();
    }
}

/// `rename(from, to)`; with `replace` false an existing `to` is EEXIST.
/// True when a file at `to` was replaced, as the rename itself found it
/// (not a look beforehand, which another commit could make stale).
pub fn rename_into(from: &Path, to: &Path, replace: bool) -> std::io::Result<bool> {
    match rename_noreplace(from, to) {
        Ok(()) => Ok(false),
        Err(e) if replace && e.raw_os_error() == Some(libc::EEXIST) => {
            std::fs::rename(from, to)?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// `rename(from, to)` that never replaces `to`. Falls back to a checked
/// plain rename where the filesystem has no RENAME_NOREPLACE (some NFS).
pub fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use nix::fcntl::{renameat2, RenameFlags};
    let e = match renameat2(None, from, None, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => return Ok(()),
        Err(errno) => std::io::Error::from(errno),
    };
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) => {
            if std::fs::symlink_metadata(to).is_ok() {
                return Err(std::io::Error::from_raw_os_error(libc::EEXIST));
            }
            std::fs::rename(from, to)
        }
        _ => Err(e),
    }
}

/// fsync a folder so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// True for names tilerun gives its temp outputs.
pub fn is_temp_name(name: &std::ffi::OsStr) -> bool {
    let b = name.as_bytes();
    b.first() == Some(&b'.')
        && b.windows(TEMP_MARKER.len())
            .any(|w| w == TEMP_MARKER.as_bytes())
}

/// A path as a C string for the signal-safe registry.
pub fn c_path(p: &Path) -> Option<CString> {
    CString::new(p.as_os_str().as_bytes()).ok()
}

/// True when the filesystem holding `dir` is (nearly) full: GDAL's write
/// path reports a full disk without the errno, so the writer asks the
/// filesystem itself before deciding a failure's kind.
pub fn disk_full(dir: &std::path::Path) -> bool {
    let Ok(st) = nix::sys::statvfs::statvfs(dir) else {
        return false;
    };
    let free = st.blocks_available() as u128 * st.fragment_size() as u128;
    free < 4 * 1024 * 1024
}

// The table of live temp paths, for an immediate exit on a second signal
// (see `engine::shutdown`): fixed-size, so the handler can walk it.

const SLOTS: usize = 64;
const PATH_MAX: usize = 4096;
const FREE: u8 = 0;
const BUSY: u8 = 1;
const ARMED: u8 = 2;

struct Slot {
    state: AtomicU8,
    path: UnsafeCell<[u8; PATH_MAX]>,
}

// SAFETY: `path` is written only by the thread that moved `state` FREE→BUSY,
// and read (by the handler) only while `state` is ARMED.
unsafe impl Sync for Slot {}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    state: AtomicU8::new(FREE),
    path: UnsafeCell::new([0; PATH_MAX]),
};
static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];

/// Remember `path` so an immediate exit can remove it. Returns the slot, or
/// None if the table is full or the path too long (then only the normal
/// cleanup paths, and the daemon's start-up sweep, remove it).
pub fn register_temp(path: &Path) -> Option<usize> {
    let c = c_path(path)?;
    let bytes = c.as_bytes_with_nul();
    if bytes.len() > PATH_MAX {
        return None;
    }
    for (i, slot) in TABLE.iter().enumerate() {
        if slot
            .state
            .compare_exchange(FREE, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            // SAFETY: we own the slot while it is BUSY.
            unsafe { (&mut *slot.path.get())[..bytes.len()].copy_from_slice(bytes) };
            slot.state.store(ARMED, Ordering::Release);
            return Some(i);
        }
    }
    None
}

pub fn unregister_temp(slot: usize) {
    TABLE[slot].state.store(FREE, Ordering::Release);
}

/// Remove every live temp file; safe to call from a signal handler.
pub fn unlink_all_temps() {
    for slot in TABLE.iter() {
        if slot.state.load(Ordering::Acquire) == ARMED {
            // SAFETY: unlink is async-signal-safe; the buffer is NUL-terminated.
            unsafe { libc::unlink(slot.path.get() as *const libc::c_char) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_hidden_and_recognised() {
        let t = TempFile::beside(Path::new("/tmp/x/out.tif"), ".tif");
        let name = t.path().file_name().unwrap();
        assert!(name.to_string_lossy().starts_with(".out.tif"));
        assert!(is_temp_name(name));
        assert!(!is_temp_name(std::ffi::OsStr::new("out.tif")));
        assert_eq!(t.path().parent(), Some(Path::new("/tmp/x")));
    }

    #[test]
    fn dropped_temp_is_removed_and_committed_one_is_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let fin = dir.path().join("a.tif");
        let t = TempFile::beside(&fin, ".tif");
        std::fs::write(t.path(), b"x").unwrap();
        let p = t.path().to_path_buf();
        drop(t);
        assert!(!p.exists());
        let t = TempFile::beside(&fin, ".tif");
        std::fs::write(t.path(), b"y").unwrap();
        assert!(!t.commit(&fin, true).unwrap());
        assert_eq!(std::fs::read(&fin).unwrap(), b"y");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Without `replace`, an existing output stays and the temp goes.
        let t = TempFile::beside(&fin, ".tif");
        std::fs::write(t.path(), b"z").unwrap();
        let e = t.commit(&fin, false).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        assert_eq!(std::fs::read(&fin).unwrap(), b"y");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
