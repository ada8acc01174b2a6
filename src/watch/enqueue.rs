//! `tilerun watch` with `[queue] url`: files are claimed exactly as
//! without a queue (rename into work/), and a delivery of several files
//! still waits for its whole set (`sets`, `gather`); then, instead of the
//! local engine, the file (or the set, extras included) moves into done/
//! (which then means "handed over") and ONE job is submitted for it, which
//! the workers read from there.
//!
//! A hand-over is several steps (moves, then the submit), so it is written
//! down first: `work/.NAME.tilerun-handover` lists every file and where it
//! goes. A crash anywhere in it is finished at the next start (moves
//! completed, submitted again: idempotent, same paths, sizes and mtimes
//! give the existing job), so a set is neither lost nor queued twice. If
//! the database stays unreachable until the daemon stops, the files go
//! back to work/ and are grouped again at the next start.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::config::watch::Settings;
use crate::error::{self, job, Error};
use crate::queue::jobs::New;
use crate::queue::Db;
use crate::sink::temp_file::rename_noreplace;

const SUFFIX: &str = ".tilerun-handover";

/// Connect; an unusable queue is a start-up error (exit 2).
pub fn open(url: &str) -> Result<Db, Error> {
    let db = Db::open(url)?;
    tracing::info!(queue = %db.shown(), "handing claimed files to the queue");
    Ok(db)
}

/// One hand-over, as written to work/ before anything moves.
#[derive(Debug, Serialize, Deserialize)]
struct Note {
    recipe: String,
    /// The file, or the set's key.
    name: String,
    /// Set only: the key (None: one file, folder or archive).
    key: Option<String>,
    /// (name in work/, path under done/) of every file, extras included.
    moves: Vec<(String, String)>,
    /// The names the job reads (a set's extras travel but are not read).
    reads: Vec<String>,
}

fn note_path(work: &Path, name: &str) -> PathBuf {
    work.join(format!(".{name}{SUFFIX}"))
}

/// A note being written; one left by a crash is void (nothing moved yet).
fn tmp_path(note: &Path) -> PathBuf {
    let mut s = note.as_os_str().to_os_string();
    s.push(".tmp");
    PathBuf::from(s)
}

impl Note {
    /// Plan the moves: each file under its own name in done/, or, if a
    /// name there is taken by an earlier delivery, a single file under
    /// `stem.N.ext` and a set in a fresh `done/KEY.N/` (its names must
    /// stay as the recipe's patterns expect).
    fn plan(
        done: &Path,
        recipe: &str,
        name: String,
        key: Option<String>,
        files: Vec<String>,
        reads: Vec<String>,
    ) -> Note {
        let free = |rel: &str| std::fs::symlink_metadata(done.join(rel)).is_err();
        let moves = match &key {
            None => {
                let to = (0..)
                    .map(|n| super::claim::numbered(OsStr::new(&name), n))
                    .map(|n| n.to_string_lossy().into_owned())
                    .find(|t| free(t))
                    .expect("unbounded");
                vec![(name.clone(), to)]
            }
            Some(k) => {
                let dir = (0..)
                    .map(|n| {
                        if n == 0 {
                            String::new()
                        } else {
                            format!("{k}.{n}/")
                        }
                    })
                    .find(|d| {
                        files.iter().all(|f| free(&format!("{d}{f}"))) && (d.is_empty() || free(d))
                    })
                    .expect("unbounded");
                files
                    .iter()
                    .map(|f| (f.clone(), format!("{dir}{f}")))
                    .collect()
            }
        };
        Note {
            recipe: recipe.to_string(),
            name,
            key,
            moves,
            reads,
        }
    }

    /// Durably: the note must outlive a power loss that undoes the moves
    /// after it, or a replay could not finish them.
    fn write(&self, work: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let p = note_path(work, &self.name);
        let tmp = tmp_path(&p);
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &p)?;
        crate::sink::temp_file::sync_dir(work)
    }

    /// Do the moves not yet done (a replay finds some done already).
    fn move_all(&self, s: &Settings) -> Result<(), Error> {
        for (name, to) in &self.moves {
            let (from, to) = (s.work.join(name), s.done.join(to));
            if std::fs::symlink_metadata(&from).is_err() && std::fs::symlink_metadata(&to).is_ok() {
                continue;
            }
            if let Some(d) = to.parent() {
                std::fs::create_dir_all(d).map_err(|e| error::io("creating", d, e))?;
            }
            rename_noreplace(&from, &to).map_err(|e| error::io("moving into done/", &from, e))?;
        }
        // Durable before the job exists: a worker must never find a queued
        // input missing because a power loss undid its move.
        let mut dirs: Vec<PathBuf> = self
            .moves
            .iter()
            .filter_map(|(_, to)| s.done.join(to).parent().map(Path::to_path_buf))
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs.push(s.work.clone());
        for d in dirs {
            crate::sink::temp_file::sync_dir(&d).map_err(|e| error::io("syncing", &d, e))?;
        }
        Ok(())
    }

    /// Back to work/: the next start groups them again.
    fn undo(&self, s: &Settings) {
        for (name, to) in &self.moves {
            let to = s.done.join(to);
            let _ = rename_noreplace(&to, &s.work.join(name));
            // A set's own done/KEY.N/ folder, now empty.
            if to.parent() != Some(s.done.as_path()) {
                let _ = to.parent().map(std::fs::remove_dir);
            }
        }
    }

    /// The job, from the files as they now are in done/.
    fn job(&self, s: &Settings) -> Result<New, Error> {
        let mut found = Vec::new();
        for (_, to) in self.moves.iter().filter(|(n, _)| self.reads.contains(n)) {
            found.push(crate::queue::admin::identify(
                &s.done.join(to).to_string_lossy(),
            )?);
        }
        Ok(match (&self.key, found.len()) {
            (None, 1) => {
                let (input, fingerprint) = found.remove(0);
                New {
                    input,
                    fingerprint,
                    members: None,
                    set_key: None,
                }
            }
            (Some(k), n) if n > 0 => crate::queue::group::set(k.clone(), found),
            _ => return Err(job(format!("{}: nothing to queue", self.name))),
        })
    }

    /// Move, submit, and forget the note; undone if the submit fails.
    fn carry_out(&self, s: &Settings, db: &mut Db, stop: &AtomicBool) -> Result<i64, Error> {
        let res = self.move_all(s).and_then(|()| {
            if super::feeder::failpoint("after-handover-move") {
                tracing::warn!(input = %self.name, "failpoint after-handover-move reached");
                loop {
                    std::thread::park();
                }
            }
            let j = self.job(s)?;
            crate::queue::admin::enqueue(db, &[j], &self.recipe, stop)
        });
        match res {
            Ok(jobs) => {
                let _ = std::fs::remove_file(note_path(&s.work, &self.name));
                Ok(jobs.first().map_or(0, |j| j.id))
            }
            Err(e) => {
                self.undo(s);
                let _ = std::fs::remove_file(note_path(&s.work, &self.name));
                Err(e)
            }
        }
    }
}

fn utf8(n: &OsStr) -> Result<String, Error> {
    n.to_str().map(str::to_string).ok_or_else(|| {
        job(format!(
            "{}: the queue stores UTF-8 names only",
            super::scan::esc(n)
        ))
    })
}

/// Hand-overs a crash interrupted: finish them (or, with no queue any more,
/// put their files back in work/). Runs before work/ is re-grouped.
pub fn replay(d: &mut super::daemon::Daemon) {
    let Ok(dir) = std::fs::read_dir(&d.s.work) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(&format!("{SUFFIX}.tmp")) {
            let _ = std::fs::remove_file(e.path());
        }
        if !(name.starts_with('.') && name.ends_with(SUFFIX)) {
            continue;
        }
        let note: Note = match std::fs::read(e.path())
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(n) => n,
            Err(why) => {
                tracing::error!(path = %e.path().display(), "unreadable hand-over note: {why}");
                continue;
            }
        };
        tracing::info!(input = %note.name, "finishing an interrupted hand-over to the queue");
        match d.queue.as_mut() {
            Some(db) => report(note.carry_out(&d.s, db, &d.stop), &note, &mut d.done),
            None => {
                note.undo(&d.s);
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn report(res: Result<i64, Error>, note: &Note, done: &mut u64) {
    match res {
        Ok(id) => {
            *done += 1;
            crate::metrics::get().inspect(|m| m.count("queued"));
            tracing::info!(input = %note.name, recipe = %note.recipe, job = id, files = note.moves.len(),
                outcome = "queued", "queued {}", note.name);
        }
        Err(e) => tracing::error!(input = %note.name, "cannot hand over to the queue: {}", e.msg),
    }
}

impl super::daemon::Daemon {
    /// Queue mode's replacement for feeding the engine.
    pub(super) fn hand_over(&mut self, item: super::feeder::Item) {
        if self.queue.is_none() {
            return;
        }
        let note = (|| {
            let name = utf8(&item.name)?;
            let files: Vec<String> = item
                .members
                .iter()
                .map(|m| utf8(m))
                .collect::<Result<_, _>>()?;
            let set = item.members != [item.name.clone()];
            let reads: Vec<String> = if set {
                files
                    .iter()
                    .filter(|f| self.sets.reads(&item.recipe, f))
                    .cloned()
                    .collect()
            } else {
                files.clone()
            };
            let key = set.then(|| name.clone());
            Ok::<_, Error>(Note::plan(
                &self.s.done,
                &item.recipe,
                name,
                key,
                files,
                reads,
            ))
        })();
        let res = note.and_then(|n| {
            n.write(&self.s.work)
                .map_err(|e| error::io("writing a note in", &self.s.work, e))?;
            Ok(n)
        });
        let Some(db) = self.queue.as_mut() else {
            return;
        };
        match res {
            Ok(n) => {
                let res = n.carry_out(&self.s, db, &self.stop);
                // Its files are in done/: a late extra of the set goes there too.
                if res.is_ok() && n.key.is_some() {
                    let ended = super::sets::Ended::Done;
                    self.sets.ended(&item.recipe, &n.name, ended);
                }
                report(res, &n, &mut self.done)
            }
            Err(e) => {
                tracing::error!(input = %super::scan::esc(&item.name), "cannot hand over to the queue: {}", e.msg)
            }
        }
    }
}
