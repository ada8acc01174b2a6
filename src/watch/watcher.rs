//! The inotify watch on the inbox, turned into messages for the main loop.
//!
//! notify calls our callback on its own thread; the callback must never
//! block (a stalled inotify reader overflows the kernel queue), so it only
//! pushes onto an unbounded channel. Should that channel ever grow past a
//! cap, events are dropped and a full rescan is requested instead: memory
//! stays bounded and nothing is lost, because a rescan finds every file.
//! An overflowed kernel queue (`need_rescan`, or an event without a path)
//! is handled the same way.

use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::scan::Seen;

const CAP: usize = 100_000;

/// One thing the main loop should look at.
#[derive(Debug)]
pub enum Note {
    File(OsString, Seen),
    Gone(OsString),
    Rescan,
    /// The inbox itself was removed or moved away.
    InboxLost,
}

pub struct Watch {
    _watcher: RecommendedWatcher,
}

/// Start watching `inbox`; notes arrive on the returned channel.
pub fn start(inbox: &Path, rescan: Arc<AtomicBool>) -> Result<(Watch, Receiver<Note>), String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let root = inbox.to_path_buf();
    let handler = move |res: notify::Result<notify::Event>| handle(&root, &tx, &rescan, res);
    let mut w = RecommendedWatcher::new(handler, notify::Config::default())
        .map_err(|e| super::errors::watch_setup(inbox, &e))?;
    w.watch(inbox, RecursiveMode::NonRecursive)
        .map_err(|e| super::errors::watch_setup(inbox, &e))?;
    Ok((Watch { _watcher: w }, rx))
}

fn handle(root: &Path, tx: &Sender<Note>, rescan: &AtomicBool, res: notify::Result<notify::Event>) {
    let notes = match res {
        Ok(ev) if ev.need_rescan() || ev.paths.is_empty() => vec![Note::Rescan],
        Ok(ev) => translate(root, &ev),
        Err(e) => {
            tracing::warn!("inotify: {e}; rescanning the inbox");
            vec![Note::Rescan]
        }
    };
    for n in notes {
        if tx.len() >= CAP {
            rescan.store(true, Ordering::SeqCst);
        } else {
            let _ = tx.send(n);
        }
    }
}

fn translate(root: &Path, ev: &notify::Event) -> Vec<Note> {
    let seen = match ev.kind {
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_)) => Some(Seen::Written),
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(Seen::Closed),
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => Some(Seen::RenamedIn),
        EventKind::Modify(ModifyKind::Metadata(_)) => Some(Seen::Touched),
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => None,
        // The paired Both event repeats From and To, already seen.
        _ => return vec![],
    };
    let mut out = Vec::new();
    for p in &ev.paths {
        if p == root {
            if matches!(
                ev.kind,
                EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
            ) {
                out.push(Note::InboxLost);
            }
            continue;
        }
        if p.parent() != Some(root) {
            continue;
        }
        let Some(name) = p.file_name() else { continue };
        out.push(match seen {
            Some(s) => Note::File(name.to_os_string(), s),
            None => Note::Gone(name.to_os_string()),
        });
    }
    out
}
