//! TLS to the queue database, set the way libpq users already know:
//! `sslmode=disable|prefer|require|verify-ca|verify-full` and
//! `sslrootcert=PATH|system` in the URL's query.
//!
//! tokio-postgres parses only `disable|prefer|require` and knows nothing of
//! certificates, so these two settings are taken off the URL here and
//! turned into an OpenSSL connector (postgres-openssl, from the client's
//! own authors). The semantics are libpq's, so one URL means the same to
//! `psql` and to tilerun: `prefer` (the default) and `require` encrypt
//! without checking who answers; `verify-ca` checks the chain;
//! `verify-full` also the host name. Any other `ssl…` setting libpq has
//! (client certificates, CRLs) is refused by name rather than ignored.

use std::path::PathBuf;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;
use percent_encoding::percent_decode_str;
use postgres::config::SslMode;
use postgres_openssl::MakeTlsConnector;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where the trusted roots come from when the chain is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// No `sslrootcert`: nothing to check against (prefer/require), or the
    /// system's store (verify-ca/verify-full).
    Unset,
    /// `sslrootcert=system`: the system's store, as in libpq 16.
    System,
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub mode: Mode,
    pub roots: Roots,
}

/// libpq TLS settings tilerun cannot honour: refused by name.
const UNSUPPORTED: &[&str] = &[
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslcompression",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requiressl",
    "sslcertmode",
];

/// Take `sslmode` and `sslrootcert` off `url`'s query: the URL left for
/// tokio-postgres, and the settings. Errors name the setting (never the
/// password: they quote only the setting's own value).
pub fn split(url: &str) -> Result<(String, Tls), String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut kept = Vec::new();
    let (mut mode, mut root) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode_str(k).decode_utf8_lossy();
        let value = percent_decode_str(v).decode_utf8_lossy().into_owned();
        match key.as_ref() {
            "sslmode" => mode = Some(parse_mode(&value)?),
            "sslrootcert" => root = Some(value),
            k if UNSUPPORTED.contains(&k) => {
                return Err(format!(
                    "the TLS setting '{k}' is not supported (tilerun honours sslmode and \
                     sslrootcert)"
                ))
            }
            _ => kept.push(pair),
        }
    }
    let roots = match root.as_deref() {
        None | Some("") => Roots::Unset,
        Some("system") => Roots::System,
        Some(p) => Roots::File(PathBuf::from(p)),
    };
    let mode = match (mode.unwrap_or(Mode::Prefer), &roots) {
        // libpq: with a root certificate given, require checks the chain.
        (Mode::Require, Roots::File(_)) => Mode::VerifyCa,
        (Mode::Require | Mode::Prefer, Roots::System) => {
            return Err("sslrootcert=system needs sslmode=verify-ca or verify-full".into())
        }
        (m, _) => m,
    };
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, Tls { mode, roots }))
}

fn parse_mode(v: &str) -> Result<Mode, String> {
    Ok(match v {
        "disable" => Mode::Disable,
        "prefer" => Mode::Prefer,
        "require" => Mode::Require,
        "verify-ca" => Mode::VerifyCa,
        "verify-full" => Mode::VerifyFull,
        // libpq's "allow" (plain first, TLS if the server insists) has no
        // counterpart in the client: refused rather than made "prefer".
        other => {
            return Err(format!(
                "sslmode '{}': expected disable, prefer, require, verify-ca or verify-full",
                crate::error::escape(other)
            ))
        }
    })
}

impl Tls {
    /// What tokio-postgres is told: whether TLS is tried, and whether it
    /// must succeed.
    pub fn ssl_mode(&self) -> SslMode {
        match self.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        }
    }

    fn verifies(&self) -> bool {
        matches!(self.mode, Mode::VerifyCa | Mode::VerifyFull)
    }

    /// The connector for these settings (None for `disable`). Built once at
    /// start-up, so an unreadable or empty `sslrootcert` is a start-up error.
    pub fn connector(&self) -> Result<Option<MakeTlsConnector>, String> {
        if self.mode == Mode::Disable {
            return Ok(None);
        }
        let ossl = |e: openssl::error::ErrorStack| format!("setting up TLS: {e}");
        let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(ossl)?;
        if !self.verifies() {
            // libpq's prefer/require: encrypted, but anyone may answer.
            b.set_verify(SslVerifyMode::NONE);
        } else if let Roots::File(path) = &self.roots {
            // Only this file's certificates are trusted, not the system's.
            let shown = path.display();
            let pem = std::fs::read(path).map_err(|e| format!("sslrootcert {shown}: {e}"))?;
            let certs = X509::stack_from_pem(&pem)
                .map_err(|e| format!("sslrootcert {shown}: not PEM certificates: {e}"))?;
            if certs.is_empty() {
                return Err(format!("sslrootcert {shown}: holds no certificate"));
            }
            let mut store = X509StoreBuilder::new().map_err(ossl)?;
            for c in certs {
                store.add_cert(c).map_err(ossl)?;
            }
            b.set_verify_cert_store(store.build()).map_err(ossl)?;
        }
        // (SslConnector::builder already trusts the system's roots and
        // verifies the peer: that is verify-* without a file.) ALPN as
        // libpq 17 sends it, so `sslnegotiation=direct` works too.
        postgres_openssl::set_postgresql_alpn(&mut b).map_err(ossl)?;
        let mut c = MakeTlsConnector::new(b.build());
        if self.mode != Mode::VerifyFull {
            c.set_callback(|cfg, _host| {
                cfg.set_verify_hostname(false);
                Ok(())
            });
        }
        Ok(Some(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_settings_are_taken_off_the_url() {
        let (url, tls) =
            split("postgresql://u:p@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3")
                .unwrap();
        assert_eq!(url, "postgresql://u:p@h/db?connect_timeout=3");
        assert_eq!(tls.mode, Mode::VerifyFull);
        assert_eq!(tls.roots, Roots::File("/etc/ca.pem".into()));
        let (url, tls) = split("postgresql://h/db").unwrap();
        assert_eq!(
            (url.as_str(), tls.mode),
            ("postgresql://h/db", Mode::Prefer)
        );
        // libpq: require with a root file checks the chain.
        let (_, tls) = split("postgresql://h/db?sslmode=require&sslrootcert=ca.pem").unwrap();
        assert_eq!(tls.mode, Mode::VerifyCa);
        for (bad, says) in [
            ("postgresql://h/db?sslmode=allow", "sslmode 'allow'"),
            ("postgresql://h/db?sslmode=verify", "sslmode 'verify'"),
            (
                "postgresql://h/db?sslcert=c.pem",
                "'sslcert' is not supported",
            ),
            ("postgresql://h/db?sslrootcert=system", "sslrootcert=system"),
        ] {
            let e = split(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn an_unreadable_root_file_is_refused_when_the_connector_is_built() {
        let (_, tls) =
            split("postgresql://h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem").unwrap();
        let e = tls.connector().err().unwrap();
        assert!(e.contains("sslrootcert /nonexistent/ca.pem"), "{e}");
        let (_, off) = split("postgresql://h/db?sslmode=disable").unwrap();
        assert!(off.connector().unwrap().is_none());
    }
}
