//! A throwaway PostgreSQL cluster per test: `initdb` in a temp dir,
//! `pg_ctl start` on a free loopback port, removed on drop. PostgreSQL
//! refuses to run as root, so under root (CI) it runs as the `postgres`
//! user through `runuser`, and the temp dir is handed to that user.
//! Password authentication over TCP, so wrong credentials can be tested.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const PASSWORD: &str = "pw-Secr3t-tilerun";

pub struct Pg {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

/// The newest installed server's bin folder (Debian: /usr/lib/postgresql/N/bin).
fn bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (make deps installs the postgresql package)")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    dirs.sort_by_key(|p| {
        let v = p
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        v.parse::<u32>().unwrap_or(0)
    });
    dirs.pop()
        .expect("no initdb under /usr/lib/postgresql/*/bin")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl Pg {
    pub fn start() -> Pg {
        let bin = bindir();
        let dir = tempfile::Builder::new()
            .prefix("tilerun-pg")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("pw"), PASSWORD).unwrap();
        if is_root() {
            let uid = nix_user("postgres");
            for p in [dir.path().to_path_buf(), dir.path().join("pw")] {
                std::os::unix::fs::chown(&p, Some(uid.0), Some(uid.1)).unwrap();
            }
        }
        let pg = Pg {
            dir,
            port: free_port(),
            bin,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "tilerun",
                &format!("--pwfile={}", pg.dir.path().join("pw").display()),
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.ctl("start");
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A PostgreSQL tool, as the postgres user under root.
    fn command(&self, tool: &str) -> Command {
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            c
        } else {
            Command::new(self.bin.join(tool))
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl start|stop|restart`, waiting for it to finish.
    pub fn ctl(&self, what: &str) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        let data = self.data();
        let log = self.dir.path().join("log");
        // pg_ctl waits 60 s by default: a loaded box may need longer.
        let mut args = vec![
            "-D",
            data.to_str().unwrap(),
            "-w",
            "-t",
            "300",
            "-l",
            log.to_str().unwrap(),
        ];
        if what != "stop" {
            args.extend(["-o", &opts]);
        }
        if what != "start" {
            args.extend(["-m", "fast"]);
        }
        args.push(what);
        self.run("pg_ctl", &args);
    }

    pub fn url(&self) -> String {
        format!(
            "postgresql://tilerun:{PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// Restart with TLS on, serving this certificate and key (copied into
    /// the data folder, the server's defaults), or with TLS off.
    pub fn set_ssl(&self, cert_key: Option<(&Path, &Path)>) {
        if let Some((crt, key)) = cert_key {
            for (from, name) in [(crt, "server.crt"), (key, "server.key")] {
                let to = self.data().join(name);
                std::fs::copy(from, &to).unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
                if is_root() {
                    let uid = nix_user("postgres");
                    std::os::unix::fs::chown(&to, Some(uid.0), Some(uid.1)).unwrap();
                }
            }
        }
        let on = if cert_key.is_some() { "on" } else { "off" };
        self.sql(&format!("ALTER SYSTEM SET ssl = {on}"));
        self.ctl("restart");
    }

    /// One value per row, `|`-separated columns (psql -At).
    pub fn sql(&self, q: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(),
                "-c",
                q,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {q}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn count(&self, state: &str) -> usize {
        self.sql(&format!(
            "SELECT count(*) FROM tilerun.jobs WHERE state = '{state}'"
        ))
        .parse()
        .unwrap()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}

/// (uid, gid) of a system user, from /etc/passwd.
fn nix_user(name: &str) -> (u32, u32) {
    let text = std::fs::read_to_string(Path::new("/etc/passwd")).unwrap();
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.first() == Some(&name) && f.len() > 3 {
            return (f[2].parse().unwrap(), f[3].parse().unwrap());
        }
    }
    panic!("no '{name}' user: the postgresql package creates it");
}
