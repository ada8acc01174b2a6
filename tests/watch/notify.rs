//! A real systemd notification socket (`NOTIFY_SOCKET`) bound in a site's
//! folder, to see what the daemon tells systemd and when.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::harness::Site;

/// A real systemd notification socket bound in the site's folder.
pub struct Socket {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Socket {
    pub fn bind(site: &Site) -> Socket {
        let path = site.env.path("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Socket { sock, path }
    }

    pub fn cmd(&self, site: &Site, watchdog_usec: u64) -> Command {
        let mut c = site.cmd();
        c.env("NOTIFY_SOCKET", &self.path);
        c.env("WATCHDOG_USEC", watchdog_usec.to_string());
        c
    }

    /// Datagrams received within `secs`, stopping after one containing `until`.
    pub fn until(&self, secs: u64, until: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                let hit = m.lines().any(|l| l.starts_with(until));
                got.push(m);
                if hit {
                    return got;
                }
            }
        }
        panic!("no {until} within {secs}s; got {got:?}");
    }

    /// Everything received for `d`.
    pub fn during(&self, d: Duration) -> Vec<String> {
        let end = Instant::now() + d;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.sock.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        got
    }
}
