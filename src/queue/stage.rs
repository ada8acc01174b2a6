//! Where a job's output waits between the engine and the commit.
//!
//! The engine writes a local output under a hidden name unique to the job
//! and the lease token (beside the final name, so placing it is an atomic
//! rename on the same filesystem). Only the commit, holding the job's row
//! lock with the current token, renames it into its final, deterministic
//! name; so a late worker can never replace the output of the run that
//! won, and a retry replaces an output rather than adding a second one.

use std::path::{Path, PathBuf};

use crate::error::{self, Error};

/// `.NAME.tilerun-jobID-` : every staged file of job ID for output NAME
/// (and the engine's own temp files beside them) starts with this.
fn prefix(final_path: &Path, id: i64) -> String {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.tilerun-job{id}-")
}

/// The staged name for this run of job `id`.
pub fn staged_path(final_path: &Path, id: i64, token: &str) -> PathBuf {
    let short: String = token.chars().filter(|c| *c != '-').take(12).collect();
    let dir = final_path.parent().unwrap_or(Path::new(""));
    dir.join(format!("{}{short}.tif", prefix(final_path, id)))
}

/// Rename the staged output into its final name; durable once this returns.
/// True when it replaced a file there (another job's output of that name,
/// or an earlier run of this one whose commit was lost).
pub fn place(staged: &Path, final_path: &Path) -> Result<bool, Error> {
    use crate::sink::temp_file::{rename_into, sync_dir};
    let replaced = rename_into(staged, final_path, true)
        .map_err(|e| error::io("placing the output at", final_path, e))?;
    let dir = final_path.parent().filter(|d| !d.as_os_str().is_empty());
    sync_dir(dir.unwrap_or(Path::new(".")))
        .map_err(|e| error::io("syncing the folder of", final_path, e))?;
    Ok(replaced)
}

/// Remove what other runs of job `id` left beside its output (a worker
/// killed mid-job, one fenced off while stopped). Called once the job has
/// ended, when no run of it can commit any more. Returns how many.
pub fn sweep(final_path: &Path, id: i64) -> usize {
    let p = prefix(final_path, id);
    let dir = match final_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        // The engine's temp beside a staged name adds one more leading dot.
        if (name.starts_with(&p) || name.strip_prefix('.').is_some_and(|r| r.starts_with(&p)))
            && std::fs::remove_file(e.path()).is_ok()
        {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_names_are_hidden_per_run_and_swept_per_job() {
        let dir = tempfile::tempdir().unwrap();
        let fin = dir.path().join("a_ndvi.tif");
        let s1 = staged_path(&fin, 7, "0d6c4a2e-1111-2222-3333-444455556666");
        let s2 = staged_path(&fin, 7, "99999999-1111-2222-3333-444455556666");
        assert_ne!(s1, s2);
        assert!(s1
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".a_ndvi.tif."));
        let other = staged_path(&fin, 71, "0d6c4a2e-1111-2222-3333-444455556666");
        for p in [&s1, &s2, &other] {
            std::fs::write(p, b"x").unwrap();
        }
        let temp = dir.path().join(format!(
            ".{}.tilerun-tmp-1-0.tif",
            s2.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&temp, b"x").unwrap();
        place(&s1, &fin).unwrap();
        assert_eq!(sweep(&fin, 7), 2);
        assert!(fin.exists() && other.exists() && !s2.exists() && !temp.exists());
    }
}
