//! systemd notifications (`Type=notify`): READY, STATUS, STOPPING,
//! EXTEND_TIMEOUT_USEC and a watchdog that only pets while the pipeline is
//! really moving (or has nothing to do), so a wedged daemon gets restarted.
//! Without `$NOTIFY_SOCKET` every call is a no-op.
//!
//! Sent by hand rather than with the `sd-notify` crate, because its socket
//! blocks: a manager that stops reading (its queue holds only
//! `net.unix.max_dgram_qlen` datagrams) would then freeze the main loop in
//! the middle of a drain. A notification that cannot be sent now is dropped.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

pub struct Notifier {
    /// Half the watchdog interval, if systemd asked for one.
    pub watchdog_every: Option<Duration>,
    last_pet: Instant,
    last_progress: u64,
    last_status: Option<(Instant, String)>,
}

/// Send one notification without ever blocking.
fn send(msg: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let res = (|| {
        use std::os::unix::ffi::OsStrExt;
        let b = path.as_bytes();
        let addr = match b.first() {
            Some(b'@') => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(&b[1..])?
            }
            _ => SocketAddr::from_pathname(&path)?,
        };
        let sock = UnixDatagram::unbound()?;
        sock.set_nonblocking(true)?;
        sock.send_to_addr(msg.as_bytes(), &addr)
    })();
    if let Err(e) = res {
        tracing::debug!("sd_notify {msg:?}: {e}");
    }
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifier {
    pub fn new() -> Notifier {
        Notifier {
            watchdog_every: watchdog_usec().map(|us| Duration::from_micros(us / 2)),
            last_pet: Instant::now(),
            last_progress: u64::MAX,
            last_status: None,
        }
    }

    pub fn ready(&self, status: &str) {
        send(&format!("READY=1\nSTATUS={status}\n"));
    }

    /// STATUS= when it changed, at most once a second unless `force`.
    pub fn status(&mut self, status: &str, force: bool) {
        let now = Instant::now();
        let due = match &self.last_status {
            None => true,
            Some((t, last)) => last != status && now - *t >= Duration::from_secs(1),
        };
        if force || due {
            self.last_status = Some((now, status.to_string()));
            send(&format!("STATUS={status}\n"));
        }
    }

    pub fn stopping(&self, status: &str) {
        send(&format!("STOPPING=1\nSTATUS={status}\n"));
    }

    /// Ask systemd for `extra` more time before it kills us while draining.
    pub fn extend(&self, extra: Duration) {
        let us = extra.as_micros();
        send(&format!("EXTEND_TIMEOUT_USEC={us}\n"));
    }

    /// Pet the watchdog if it is due and the pipeline is healthy: idle, or
    /// its progress counter moved since the last pet.
    pub fn maybe_pet(&mut self, idle: bool, progress: u64) {
        let Some(every) = self.watchdog_every else {
            return;
        };
        if self.last_pet.elapsed() < every {
            return;
        }
        if idle || progress != self.last_progress {
            self.last_progress = progress;
            self.last_pet = Instant::now();
            send("WATCHDOG=1\n");
        }
    }

    /// When the next pet is due, for the main loop's sleep.
    pub fn next_pet(&self) -> Option<Instant> {
        self.watchdog_every.map(|e| self.last_pet + e)
    }
}

/// `$WATCHDOG_USEC` if it is meant for this process (sd_watchdog_enabled(3):
/// `$WATCHDOG_PID`, when set, must be ours).
fn watchdog_usec() -> Option<u64> {
    let us: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    match std::env::var("WATCHDOG_PID") {
        Ok(p) if p.parse::<u32>().ok() != Some(std::process::id()) => None,
        _ => (us > 0).then_some(us),
    }
}
