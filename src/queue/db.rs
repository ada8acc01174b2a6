//! The connection to the queue database: parsing and redacting its URL,
//! connecting, classifying errors into [`Kind`]s, and riding out outages.
//!
//! The URL carries a password, so it is only ever shown through
//! [`Db::shown`], rebuilt from the parsed settings without one. Start-up
//! failures (malformed URL, unreachable server, wrong credentials) are
//! usage errors (exit 2): nothing will work until the operator fixes them.
//! So are TLS settings that cannot be honoured and certificates that do
//! not verify (see [`super::tls`]).
//! Once running, a lost connection is transient: the caller keeps its job
//! and [`Db::run`] reconnects with backoff until the database is back.

use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use postgres::config::Host;
use postgres::{Client, NoTls};
use postgres_openssl::MakeTlsConnector;

use crate::error::{usage, Error, Kind};

pub struct Db {
    config: postgres::Config,
    /// None for `sslmode=disable` (see [`super::tls`]).
    tls: Option<MakeTlsConnector>,
    shown: String,
    client: Option<Client>,
    /// True while the database is unreachable (logged once per outage).
    down: bool,
    /// Run after every (re)connect, e.g. `LISTEN`, which a new session lacks.
    setup: Option<&'static str>,
}

impl Db {
    /// Parse `url`, connect and create or migrate the schema. Every failure
    /// here is a usage error naming the (redacted) URL.
    pub fn open(url: &str) -> Result<Db, Error> {
        let mut db = Db::parse(url)?;
        let mut client = db
            .connect_bounded()
            .map_err(|why| usage(format!("queue database {}: {why}", db.shown)))?;
        super::schema::migrate(&mut client)
            .map_err(|e| {
                usage(format!(
                    "queue database {}: schema: {}",
                    db.shown,
                    describe(&e)
                ))
            })?
            .map_err(|why| usage(format!("queue database {}: {why}", db.shown)))?;
        db.client = Some(client);
        Ok(db)
    }

    /// A second connection to the same database (heartbeats, LISTEN),
    /// made on first use; `setup` runs after each connect.
    pub fn another(&self, setup: Option<&'static str>) -> Db {
        Db {
            config: self.config.clone(),
            tls: self.tls.clone(),
            shown: self.shown.clone(),
            client: None,
            down: false,
            setup,
        }
    }

    fn parse(url: &str) -> Result<Db, Error> {
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            return Err(usage(format!(
                "--queue: '{}' is not a postgresql:// URL",
                redact_guess(url)
            )));
        }
        let (rest, tls) = super::tls::split(url)
            .map_err(|e| usage(format!("--queue '{}': {e}", redact_guess(url))))?;
        let mut config = postgres::Config::from_str(&rest).map_err(|e| {
            usage(format!(
                "--queue: malformed URL '{}': {e}",
                redact_guess(url)
            ))
        })?;
        // An '@' left in a host is an '@' of the password that was not
        // written %40: the host would show the password's tail.
        if config
            .get_hosts()
            .iter()
            .any(|h| matches!(h, Host::Tcp(t) if t.contains('@')))
        {
            return Err(usage(format!(
                "--queue: malformed URL '{}': write an '@' in the user or password as %40",
                redact_guess(url)
            )));
        }
        config.ssl_mode(tls.ssl_mode());
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // Notice a vanished server within a minute, not the kernel's 2 hours.
        config.keepalives_idle(Duration::from_secs(30));
        config.application_name("tilerun");
        let shown = show(&config);
        let tls = tls
            .connector()
            .map_err(|e| usage(format!("--queue {shown}: {e}")))?;
        Ok(Db {
            config,
            tls,
            shown,
            client: None,
            down: false,
            setup: None,
        })
    }

    /// The URL without its password, for messages and `status`.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn connect(&self) -> Result<Client, postgres::Error> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
    }

    /// The first connection, bounded as a whole by the connect timeout
    /// (libpq's meaning). The client's own timeout covers only the TCP
    /// connect, so a server that accepts and never answers (a stopped or
    /// wedged postmaster) would hang start-up and `status` for good. On
    /// timeout the connecting thread is left to end with its socket.
    fn connect_bounded(&self) -> Result<Client, String> {
        let limit = self
            .config
            .get_connect_timeout()
            .copied()
            .unwrap_or_default()
            * self.config.get_hosts().len().max(1) as u32;
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (config, tls) = (self.config.clone(), self.tls.clone());
        std::thread::Builder::new()
            .name("tilerun-db-connect".into())
            .spawn(move || {
                let _ = tx.send(match tls {
                    Some(tls) => config.connect(tls),
                    None => config.connect(NoTls),
                });
            })
            .map_err(|e| format!("starting a thread: {e}"))?;
        match rx.recv_timeout(limit) {
            Ok(res) => res.map_err(|e| describe(&e)),
            Err(_) => Err(format!(
                "no answer within {:.0}s (connect_timeout): the server accepts connections \
                 but does not respond (stopped, wedged or overloaded)",
                limit.as_secs_f64()
            )),
        }
    }

    /// The live client, connecting if there is none (one attempt).
    pub fn client(&mut self) -> Result<&mut Client, Error> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            self.client = None;
            let mut c = self.connect().map_err(|e| self.error(&e))?;
            if let Some(sql) = self.setup {
                c.batch_execute(sql).map_err(|e| self.error(&e))?;
            }
            self.client = Some(c);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// Run `f` once (connecting first if need be), without waiting out an
    /// outage: for heartbeats and last words, which must not block.
    pub fn once<T>(
        &mut self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, Error> {
        let res = f(self.client()?);
        res.map_err(|e| {
            if e.is_closed() || kind_of(&e) == Kind::Transient {
                self.client = None;
            }
            self.error(&e)
        })
    }

    /// Run `f`, reconnecting with backoff while the database is unreachable,
    /// until it succeeds, fails for good, or `stop` is raised (Interrupted).
    /// `f` must be safe to repeat: a lost reply may hide a done write.
    pub fn run<T>(
        &mut self,
        stop: &AtomicBool,
        mut f: impl FnMut(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, Error> {
        let mut delay = Duration::from_millis(100);
        let mut retried_stale = false;
        loop {
            let had_client = self.client.is_some();
            let res = match self.client() {
                Ok(c) => f(c).map_err(|e| self.error(&e)),
                Err(e) => Err(e),
            };
            match res {
                Ok(v) => {
                    if self.down {
                        self.down = false;
                        tracing::info!(queue = %self.shown, "database reachable again");
                    }
                    return Ok(v);
                }
                Err(e) if e.kind == Kind::Transient => {
                    self.client = None;
                    // A connection that died while idle (the server was
                    // restarted since) is no outage: one new try at once,
                    // and only if that fails too is the database down.
                    if had_client && !retried_stale && !self.down {
                        retried_stale = true;
                        continue;
                    }
                    if !self.down {
                        self.down = true;
                        tracing::warn!(queue = %self.shown, "database unreachable, retrying: {}", e.msg);
                    }
                    self.client = None;
                }
                Err(e) => return Err(e),
            }
            if crate::engine::shutdown::sleep_unless(stop, delay) {
                return Err(Error::interrupted());
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// A database error as ours: kind from the SQLSTATE class, message
    /// naming the redacted URL.
    pub fn error(&self, e: &postgres::Error) -> Error {
        Error::new(
            kind_of(e),
            format!("queue database {}: {}", self.shown, describe(e)),
        )
    }
}

/// Connection trouble and contention clear by themselves; wrong
/// credentials or a missing database need the operator; anything else is a
/// refusal of this statement that repeating will not change.
pub fn kind_of(e: &postgres::Error) -> Kind {
    let Some(db) = e.as_db_error() else {
        // I/O, a closed connection, a timeout: the network or the server.
        return Kind::Transient;
    };
    match &db.code().code()[..2] {
        // connection, resources, operator intervention (shutdown,
        // restart), serialization/deadlock, lock not available, system.
        "08" | "53" | "57" | "40" | "55" | "58" => Kind::Transient,
        // authorization, invalid catalog (no such database).
        "28" | "3D" => Kind::Usage,
        _ => Kind::BadInput,
    }
}

/// One line for a postgres error: the server's own message when it sent
/// one, else the client's (which never contains the password).
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            // TLS errors repeat themselves down the chain: each cause once.
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(c) = src {
                let c_text = c.to_string();
                if !s.contains(&c_text) {
                    s = format!("{s}: {c_text}");
                }
                src = c.source();
            }
            s
        }
    }
}

/// `postgresql://user@host:port/db`, rebuilt from the parsed settings so
/// no password can slip through whatever the URL's shape.
fn show(c: &postgres::Config) -> String {
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = c.get_ports().get(i).or(c.get_ports().first());
            let h = match h {
                Host::Tcp(s) => s.clone(),
                Host::Unix(p) => p.display().to_string(),
            };
            match port {
                Some(p) => format!("{h}:{p}"),
                None => h,
            }
        })
        .collect();
    let user = c.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = c.get_dbname().unwrap_or("");
    format!("postgresql://{user}{}/{db}", hosts.join(","))
}

/// `url` as `status` shows it: rebuilt from its settings when it parses
/// (as `Db::shown`), else redacted by [`redact_guess`].
pub fn shown_url(url: &str) -> String {
    match Db::parse(url) {
        Ok(db) => db.shown,
        Err(_) => redact_guess(url),
    }
}

/// A best-effort redaction for text that did not parse: drop everything
/// between the scheme's `//` and the last `@` of the authority, and the
/// value of a `password=` in the query (libpq takes one there too).
pub fn redact_guess(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match (head.find("://"), head.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &head[..s], &head[at + 1..]),
        _ => head.to_string(),
    };
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{out}?{}", pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        let db = Db::parse("postgresql://app:s3cret@db.example:6432/jobs?sslmode=disable").unwrap();
        assert_eq!(db.shown(), "postgresql://app@db.example:6432/jobs");
        let e = Db::parse("mysql://u:s3cret@h/x").err().unwrap();
        assert_eq!(e.kind, Kind::Usage);
        assert!(!e.msg.contains("s3cret"), "{}", e.msg);
        let e = Db::parse("postgresql://u:s3cret@h:notaport/x")
            .err()
            .unwrap();
        assert!(
            !e.msg.contains("s3cret") && e.msg.contains("malformed"),
            "{}",
            e.msg
        );
        // libpq also takes the password in the query.
        for url in [
            "postgresql://h:5432/x?user=u&password=s3cret",
            "postgresql://h:notaport/x?user=u&PASSWORD=s3cret&sslmode=disable",
            "postgresql://u:p@ss@s3cret@h/x",
        ] {
            let shown = shown_url(url);
            assert!(!shown.contains("s3cret"), "{shown}");
            if let Err(e) = Db::parse(url) {
                assert!(!e.msg.contains("s3cret"), "{}", e.msg);
            }
        }
        assert_eq!(
            redact_guess("postgresql://h:x/d?user=u&password=s3cret&sslmode=disable"),
            "postgresql://h:x/d?user=u&password=***&sslmode=disable"
        );
        assert_eq!(
            shown_url("postgresql://h:5432/x?user=u&password=s3cret"),
            "postgresql://u@h:5432/x"
        );
    }
}
