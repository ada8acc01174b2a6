//! Moving files between the inbox and the state folders, atomically.
//!
//! Every move is one `rename(2)` within one filesystem (checked at start-up),
//! so a file is always in exactly one place, whatever kills the process.
//! The claim (inbox → work/) uses `RENAME_NOREPLACE`: of two daemons racing
//! for one file exactly one wins, and a newer file never overwrites an older
//! one of the same name still in work/. A per-folder `flock` stops two
//! daemons from sharing one work/ folder, whose start-up re-queue would
//! otherwise take the other's in-flight files.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sink::temp_file::rename_noreplace;

/// Result of trying to claim one inbox file.
#[derive(Debug)]
pub enum Claim {
    Claimed,
    /// Someone else claimed (or removed) it first.
    Gone,
    /// work/ already holds a file of this name; try again later.
    Busy,
}

pub fn claim(inbox: &Path, work: &Path, name: &OsStr) -> std::io::Result<Claim> {
    match rename_noreplace(&inbox.join(name), &work.join(name)) {
        Ok(()) => Ok(Claim::Claimed),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(Claim::Gone),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(Claim::Busy),
        Err(e) => Err(e),
    }
}

/// Move `from` into `dir` under its own name, or `stem.N.ext` if taken, so
/// a second file of the same name never overwrites the first one's record.
pub fn move_into(from: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    let name = from.file_name().unwrap_or_default();
    let mut n = 0u32;
    loop {
        let to = dir.join(numbered(name, n));
        match rename_noreplace(from, &to) {
            Ok(()) => return Ok(to),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && n < 10_000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

pub fn numbered(name: &OsStr, n: u32) -> OsString {
    if n == 0 {
        return name.to_os_string();
    }
    let p = Path::new(name);
    match (p.file_stem(), p.extension()) {
        (Some(stem), Some(ext)) => {
            let mut s = stem.to_os_string();
            s.push(format!(".{n}."));
            s.push(ext);
            s
        }
        _ => {
            let mut s = name.to_os_string();
            s.push(format!(".{n}"));
            s
        }
    }
}

/// Write `failed/NAME.error.json` atomically (temp, fsync, rename).
pub fn write_error_json(failed_file: &Path, body: &serde_json::Value) -> std::io::Result<()> {
    let mut name = failed_file.file_name().unwrap_or_default().to_os_string();
    name.push(".error.json");
    let fin = failed_file.with_file_name(name);
    let temp = crate::sink::temp_file::TempFile::beside(&fin, ".json");
    let mut f = File::create(temp.path())?;
    f.write_all(serde_json::to_string_pretty(body)?.as_bytes())?;
    f.write_all(b"\n")?;
    drop(f);
    temp.commit(&fin, true).map(drop)
}

/// An exclusive lock on the work folder, held for the daemon's life.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] nix::fcntl::Flock<File>);

pub fn lock(work: &Path) -> Result<Lock, String> {
    let p = work.join(".tilerun.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| format!("{}: {e}", p.display()))?;
    let Ok(f) = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) else {
        return Err(format!(
            "{}: another tilerun watch is using this work folder; two daemons on one inbox \
             need their own work/ folders",
            work.display()
        ));
    };
    Ok(Lock(f))
}

/// Remove temp outputs left by a dead tilerun in `dir`. A temp whose
/// writer is still alive (another daemon sharing the output folder) stays.
pub fn sweep_temps(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return removed;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        if !crate::sink::temp_file::is_temp_name(&name) {
            continue;
        }
        let alive = temp_pid(&name).is_some_and(|pid| {
            // Signal "none" only checks that the process exists.
            pid != std::process::id()
                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
        });
        if !alive && std::fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

/// The pid in `.NAME.tilerun-tmp-PID-SEQ.ext`.
fn temp_pid(name: &OsStr) -> Option<u32> {
    let s = String::from_utf8_lossy(name.as_bytes()).into_owned();
    let rest = &s[s.rfind(crate::sink::temp_file::TEMP_MARKER)?
        + crate::sink::temp_file::TEMP_MARKER.len()..];
    rest.split('-').next()?.parse().ok()
}

/// Files left in work/ (by a crash or a rolled-back stop), oldest first.
pub fn leftovers(work: &Path) -> std::io::Result<Vec<OsString>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(work)? {
        let e = e?;
        let name = e.file_name();
        if name.as_bytes().first() == Some(&b'.') {
            continue;
        }
        let t = e.metadata().and_then(|m| m.modified()).ok();
        v.push((t, name));
    }
    v.sort();
    Ok(v.into_iter().map(|(_, n)| n).collect())
}

/// The strike count: attempts that started on this file and never ended,
/// kept beside it in work/ so a file that kills the daemon every time is
/// eventually failed instead of crashing it forever.
fn strikes_path(work: &Path, name: &OsStr) -> PathBuf {
    let mut n = OsString::from(".");
    n.push(name);
    n.push(".tilerun-strikes");
    work.join(n)
}

pub fn strikes(work: &Path, name: &OsStr) -> u32 {
    std::fs::read_to_string(strikes_path(work, name))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

pub fn set_strikes(work: &Path, name: &OsStr, n: u32) {
    let p = strikes_path(work, name);
    let _ = if n == 0 {
        std::fs::remove_file(p)
    } else {
        std::fs::write(p, format!("{n}\n"))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_never_overwrites_and_reports_a_lost_race() {
        let d = tempfile::tempdir().unwrap();
        let (inb, work) = (d.path().join("in"), d.path().join("work"));
        std::fs::create_dir_all(&inb).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(inb.join("a.tif"), b"new").unwrap();
        std::fs::write(work.join("a.tif"), b"old").unwrap();
        assert!(matches!(
            claim(&inb, &work, "a.tif".as_ref()).unwrap(),
            Claim::Busy
        ));
        assert_eq!(std::fs::read(work.join("a.tif")).unwrap(), b"old");
        std::fs::remove_file(work.join("a.tif")).unwrap();
        assert!(matches!(
            claim(&inb, &work, "a.tif".as_ref()).unwrap(),
            Claim::Claimed
        ));
        assert!(matches!(
            claim(&inb, &work, "a.tif".as_ref()).unwrap(),
            Claim::Gone
        ));
    }

    #[test]
    fn move_into_numbers_a_taken_name() {
        let d = tempfile::tempdir().unwrap();
        let done = d.path().join("done");
        std::fs::create_dir(&done).unwrap();
        for body in ["1", "2", "3"] {
            let f = d.path().join("x.tif");
            std::fs::write(&f, body).unwrap();
            move_into(&f, &done).unwrap();
        }
        assert_eq!(std::fs::read(done.join("x.1.tif")).unwrap(), b"2");
        assert_eq!(std::fs::read(done.join("x.2.tif")).unwrap(), b"3");
    }

    #[test]
    fn sweep_keeps_live_writers_temps() {
        let d = tempfile::tempdir().unwrap();
        let dead = d.path().join(".o.tif.tilerun-tmp-999999999-0.tif");
        let mine = d
            .path()
            .join(format!(".o.tif.tilerun-tmp-{}-3.tif", std::process::id()));
        let live = d.path().join(".o.tif.tilerun-tmp-1-0.tif");
        for p in [&dead, &mine, &live] {
            std::fs::write(p, b"x").unwrap();
        }
        let gone = sweep_temps(d.path());
        assert_eq!(gone.len(), 2);
        assert!(live.exists() && !dead.exists() && !mine.exists());
    }

    #[test]
    fn strikes_round_trip_and_a_second_lock_is_refused() {
        let d = tempfile::tempdir().unwrap();
        set_strikes(d.path(), "a.tif".as_ref(), 2);
        assert_eq!(strikes(d.path(), "a.tif".as_ref()), 2);
        set_strikes(d.path(), "a.tif".as_ref(), 0);
        assert_eq!(strikes(d.path(), "a.tif".as_ref()), 0);
        let _held = lock(d.path()).unwrap();
        assert!(lock(d.path())
            .unwrap_err()
            .contains("another tilerun watch"));
    }
}
