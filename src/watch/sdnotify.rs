//! systemd notifications (`Type=notify`): READY, STATUS, STOPPING,
//! EXTEND_TIMEOUT_USEC and a watchdog that only pets while the pipeline is
//! really moving (or has nothing to do), so a wedged daemon gets restarted.
//! Without `$NOTIFY_SOCKET` every call is a no-op.
//!
//! The `sd-notify` crate formats and sends; its socket blocks, though, and a
//! manager that stops reading (its queue holds only `net.unix.max_dgram_qlen`
//! datagrams) must never freeze the main loop in the middle of a drain. So
//! messages go through a small bounded queue to one sender thread, and a
//! message that finds the queue full is dropped (the next STATUS or pet
//! supersedes it).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use sd_notify::NotifyState;

pub struct Notifier {
    /// Half the watchdog interval, if systemd asked for one.
    pub watchdog_every: Option<Duration>,
    last_pet: Instant,
    last_progress: u64,
    last_status: Option<(Instant, String)>,
}

/// One notification, as owned data for the sender thread.
enum Note {
    Ready(String),
    Status(String),
    Stopping(String),
    Extend(u32),
    Watchdog,
    /// Answered once everything queued before it was delivered.
    Flush(Sender<()>),
}

/// Queue `note` for the sender thread without ever blocking.
fn send(note: Note) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Some(tx) = queue() {
        if let Err(TrySendError::Full(_)) = tx.try_send(note) {
            tracing::debug!("sd_notify: the manager is not reading; a notification was dropped");
        }
    }
}

/// Wait (up to a second) until what was queued has been sent: called on the
/// way out, so STOPPING and the last STATUS are not lost with the process.
pub fn flush() {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Some(tx) = queue() {
        let (done, wait) = crossbeam_channel::bounded(1);
        if tx
            .send_timeout(Note::Flush(done), Duration::from_secs(1))
            .is_ok()
        {
            let _ = wait.recv_timeout(Duration::from_secs(1));
        }
    }
}

fn queue() -> &'static Option<Sender<Note>> {
    static QUEUE: OnceLock<Option<Sender<Note>>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = crossbeam_channel::bounded::<Note>(16);
        std::thread::Builder::new()
            .name("tilerun-sdnotify".into())
            .spawn(move || {
                for note in rx {
                    deliver(&note);
                }
            })
            .ok()
            .map(|_| tx)
    })
}

fn deliver(note: &Note) {
    let res = match note {
        Note::Ready(s) => sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(s)]),
        Note::Status(s) => sd_notify::notify(&[NotifyState::Status(s)]),
        Note::Stopping(s) => sd_notify::notify(&[NotifyState::Stopping, NotifyState::Status(s)]),
        Note::Extend(us) => sd_notify::notify(&[NotifyState::ExtendTimeoutUsec(*us)]),
        Note::Watchdog => sd_notify::notify(&[NotifyState::Watchdog]),
        Note::Flush(done) => {
            let _ = done.send(());
            Ok(())
        }
    };
    if let Err(e) = res {
        tracing::debug!("sd_notify: {e}");
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
            watchdog_every: sd_notify::watchdog_enabled()
                .filter(|d| !d.is_zero())
                .map(|d| d / 2),
            last_pet: Instant::now(),
            last_progress: u64::MAX,
            last_status: None,
        }
    }

    pub fn ready(&self, status: &str) {
        send(Note::Ready(status.to_string()));
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
            send(Note::Status(status.to_string()));
        }
    }

    pub fn stopping(&self, status: &str) {
        send(Note::Stopping(status.to_string()));
    }

    /// Ask systemd for `extra` more time before it kills us while draining.
    pub fn extend(&self, extra: Duration) {
        let us = u32::try_from(extra.as_micros()).unwrap_or(u32::MAX);
        send(Note::Extend(us));
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
            send(Note::Watchdog);
        }
    }

    /// When the next pet is due, for the main loop's sleep.
    pub fn next_pet(&self) -> Option<Instant> {
        self.watchdog_every.map(|e| self.last_pet + e)
    }
}
