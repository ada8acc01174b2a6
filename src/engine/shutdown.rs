//! Signals: the first Ctrl-C/SIGTERM asks for a graceful stop, the second
//! exits at once.
//!
//! Exiting at once must still leave no temp output behind, so live temp
//! paths are kept in a fixed table that the signal handler can walk using
//! only async-signal-safe calls (`unlink`, `_exit`): no allocation, no locks.

use std::cell::UnsafeCell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

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
    let c = crate::sink::temp_file::c_path(path)?;
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

fn unlink_all_temps() {
    for slot in TABLE.iter() {
        if slot.state.load(Ordering::Acquire) == ARMED {
            // SAFETY: unlink is async-signal-safe; the buffer is NUL-terminated.
            unsafe { libc::unlink(slot.path.get() as *const libc::c_char) };
        }
    }
}

/// Install SIGINT/SIGTERM handling. The returned flag rises on the first
/// signal; a second signal removes live temp files and exits with 130.
pub fn install() -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let f = Arc::clone(&flag);
        // SAFETY: the closure only does atomics, unlink and _exit.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                if f.swap(true, Ordering::SeqCst) {
                    unlink_all_temps();
                    libc::_exit(130);
                }
            })?;
        }
    }
    Ok(flag)
}
