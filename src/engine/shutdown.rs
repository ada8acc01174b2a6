//! Signals: the first Ctrl-C/SIGTERM asks for a graceful stop, the second
//! exits at once.
//!
//! Exiting at once must still leave no temp output behind: the handler walks
//! the temp-file table of [`crate::sink::temp_file`] with only
//! async-signal-safe calls (`unlink`, `_exit`): no allocation, no locks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::sink::temp_file::unlink_all_temps;

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

/// Sleep for `d`, waking early when `stop` rises (checked every 20 ms).
/// True if it did.
pub fn sleep_unless(stop: &AtomicBool, d: std::time::Duration) -> bool {
    let until = std::time::Instant::now() + d;
    while std::time::Instant::now() < until {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.load(Ordering::SeqCst)
}
