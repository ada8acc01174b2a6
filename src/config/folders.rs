//! The `[watch]` folders, checked as a set before any is created: the inbox
//! and output must exist (a typo would otherwise give a daemon watching a
//! folder nobody writes to), no folder may sit inside the inbox or be
//! another's twin, the state folders must share the inbox's filesystem (the
//! claim and finish steps are renames) and every folder must be writable.
//! Only when all of that holds are missing state folders made, beside
//! their existing parents: a refused config leaves the disk as it was.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A folder as it will be: its canonical path (for a state folder still to
/// be made, its parent's, joined with its name) and whether it exists.
struct Folder<'a> {
    key: &'static str,
    dir: &'a Path,
    canon: PathBuf,
    exists: bool,
}

/// Refuse layouts that would break the guarantees, then create the missing
/// state folders: nothing is created for a config that is refused.
///
/// `named` is `(key, folder)` for inbox, work, done, failed and output, in
/// that order; `at(key)` is where the key is written, for messages.
pub fn check(named: [(&'static str, &Path); 5], at: impl Fn(&str) -> String) -> Result<(), String> {
    let mut folders = Vec::new();
    for (key, dir) in named {
        folders.push(resolve_folder(key, dir, &at)?);
    }
    refuse_overlaps(&folders, &at)?;
    refuse_other_filesystems(&folders, &at)?;
    refuse_unwritable(&folders, &at)?;
    for f in folders.iter().filter(|f| !f.exists) {
        std::fs::create_dir(&f.canon).map_err(|e| {
            format!(
                "{}: [watch] {} folder {}: {e}",
                at(f.key),
                f.key,
                f.dir.display()
            )
        })?;
    }
    Ok(())
}

impl Folder<'_> {
    /// The folder if it exists, else its parent, where it will be made.
    fn existing(&self) -> &Path {
        if self.exists {
            &self.canon
        } else {
            self.canon.parent().unwrap_or(&self.canon)
        }
    }
}

/// No folder inside the inbox (or containing it), and no two the same.
/// `folders[0]` is the inbox.
fn refuse_overlaps(folders: &[Folder], at: &impl Fn(&str) -> String) -> Result<(), String> {
    let inbox = &folders[0].canon;
    for f in &folders[1..] {
        if f.canon.starts_with(inbox) || inbox.starts_with(&f.canon) {
            return Err(format!(
                "{}: [watch] {} folder {} overlaps the inbox {}: state and output folders must \
                 never be inside the watched folder (nor contain it)",
                at(f.key),
                f.key,
                f.canon.display(),
                inbox.display()
            ));
        }
    }
    for (i, a) in folders.iter().enumerate() {
        for b in &folders[i + 1..] {
            if a.canon == b.canon {
                return Err(format!(
                    "{}: [watch] {} and {} are the same folder ({})",
                    at(b.key),
                    a.key,
                    b.key,
                    a.canon.display()
                ));
            }
        }
    }
    Ok(())
}

/// Claim and finish are renames: inbox, work, done and failed
/// (`folders[..4]`) must share one filesystem, or a rename would fail with
/// EXDEV (or become a copy).
fn refuse_other_filesystems(
    folders: &[Folder],
    at: &impl Fn(&str) -> String,
) -> Result<(), String> {
    let dev = |f: &Folder| {
        std::fs::metadata(f.existing())
            .map(|m| m.dev())
            .unwrap_or(0)
    };
    let d0 = dev(&folders[0]);
    for f in &folders[1..4] {
        if dev(f) != d0 {
            return Err(format!(
                "{}: [watch] {} folder {} is on another filesystem than the inbox {}: files \
                 move between them by atomic rename, so they must share one",
                at(f.key),
                f.key,
                f.canon.display(),
                folders[0].canon.display()
            ));
        }
    }
    Ok(())
}

/// Every folder is written to (renames in and out): find out now, not by
/// failing every file (read-only mount, ProtectSystem= without
/// ReadWritePaths=, wrong owner). A folder still to be made is probed
/// through its parent, where it will be created.
fn refuse_unwritable(folders: &[Folder], at: &impl Fn(&str) -> String) -> Result<(), String> {
    for f in folders {
        writable(f.existing()).map_err(|e| {
            format!(
                "{}: [watch] {} folder {}: not writable: {e}",
                at(f.key),
                f.key,
                f.dir.display()
            )
        })?;
    }
    Ok(())
}

/// Where folder `key` is, refusing one that is missing (inbox, output) or
/// could not be made (a state folder whose parent is missing) or is no folder.
fn resolve_folder<'a>(
    key: &'static str,
    dir: &'a Path,
    at: impl Fn(&str) -> String,
) -> Result<Folder<'a>, String> {
    let fail = |what: String| format!("{}: [watch] {key} = {}: {what}", at(key), dir.display());
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            let canon = std::fs::canonicalize(dir).map_err(|e| fail(e.to_string()))?;
            return Ok(Folder {
                key,
                dir,
                canon,
                exists: true,
            });
        }
        Ok(_) => return Err(fail("not a folder".into())),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e.to_string())),
        Err(_) => {}
    }
    if matches!(key, "inbox" | "output") {
        return Err(fail(
            "no such folder; create it or fix the path (tilerun watch never creates the inbox \
             or output folder, so a typo is caught here)"
                .into(),
        ));
    }
    let (parent, name) = match (dir.parent(), dir.file_name()) {
        (Some(p), Some(n)) => (p, n),
        _ => return Err(fail("not a folder path".into())),
    };
    let canon_parent = std::fs::canonicalize(parent).map_err(|e| {
        fail(format!(
            "its parent {} cannot be used ({e}); only the last folder is created",
            parent.display()
        ))
    })?;
    Ok(Folder {
        key,
        dir,
        canon: canon_parent.join(name),
        exists: false,
    })
}

/// Create and remove a probe file in `dir`.
fn writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".tilerun-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}
