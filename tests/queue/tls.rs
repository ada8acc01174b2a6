//! TLS to the queue database: a real cluster serving a certificate that
//! the test makes with the `openssl` CLI (its own CA, a server certificate
//! for `localhost` only, and a second, unrelated CA), and the real binary
//! connecting with libpq's `sslmode`/`sslrootcert` settings. Encryption is
//! checked on the server's side: `pg_stat_ssl` for tilerun's sessions.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::Site;
use super::pg::PASSWORD;
use crate::watch::harness::wait_until;

pub struct Certs {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub crt: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate it signed for DNS:localhost (so 127.0.0.1 is
/// the wrong name), and an unrelated CA.
pub fn make_certs(dir: &Path) -> Certs {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other"] {
        let mut a = vec!["req", "-x509", "-days", "2", "-subj"];
        let subj = format!("/CN=tilerun test {ca}");
        a.push(&subj);
        a.extend(ec);
        let (k, c) = (format!("{ca}.key"), format!("{ca}.crt"));
        a.extend(["-keyout", &k, "-out", &c]);
        openssl(dir, &a);
    }
    let mut a = vec!["req", "-subj", "/CN=localhost"];
    a.extend(ec);
    a.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &a);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "server.crt",
        ],
    );
    Certs {
        ca: dir.join("ca.crt"),
        other_ca: dir.join("other.crt"),
        crt: dir.join("server.crt"),
        key: dir.join("server.key"),
    }
}

fn url(site: &Site, host: &str, query: &str) -> String {
    format!(
        "postgresql://tilerun:{PASSWORD}@{host}:{}/postgres?{query}",
        site.pg.port
    )
}

/// `tilerun status --queue URL`: the exit code and stderr.
fn status(site: &Site, url: &str) -> (i32, String) {
    let r = site.run(&["status", "--queue", url]);
    let code = r.0.status.code().unwrap_or(-1);
    let err = r.stderr();
    assert!(!err.contains(PASSWORD), "{err}");
    (code, err)
}

/// `ssl` of every session named tilerun, as the server sees it.
fn sessions_encrypted(site: &Site) -> String {
    site.pg.sql(
        "SELECT string_agg(s.ssl::text, ',') FROM pg_stat_ssl s \
         JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'tilerun'",
    )
}

#[test]
fn tls_settings_are_honoured_and_verified() {
    let site = Site::new("");
    let dir = site.env.path("certs");
    std::fs::create_dir_all(&dir).unwrap();
    let certs = make_certs(&dir);
    let ca = certs.ca.display().to_string();
    let other = certs.other_ca.display().to_string();

    // A server without TLS: require fails clearly, disable connects.
    let (code, err) = status(&site, &url(&site, "localhost", "sslmode=require"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("server does not support TLS"), "{err}");
    assert_eq!(
        status(&site, &url(&site, "localhost", "sslmode=disable")).0,
        0
    );

    site.pg.set_ssl(Some((&certs.crt, &certs.key)));
    // require encrypts without checking; verify-full with the right CA and
    // name connects; the default is prefer.
    for q in [
        "sslmode=require".to_string(),
        format!("sslmode=verify-full&sslrootcert={ca}"),
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        String::new(),
    ] {
        let (code, err) = status(&site, &url(&site, "localhost", &q));
        assert_eq!(code, 0, "{q}: {err}");
    }
    // An unrelated CA: refused at start-up, exit 2, saying why.
    for mode in ["verify-full", "verify-ca", "require"] {
        let q = format!("sslmode={mode}&sslrootcert={other}");
        let (code, err) = status(&site, &url(&site, "localhost", &q));
        assert_eq!(code, 2, "{q}: {err}");
        assert!(err.contains("certificate verify failed"), "{q}: {err}");
        assert!(err.contains("unable to get local issuer"), "{q}: {err}");
    }
    // The right CA but the wrong name: verify-full refuses, verify-ca
    // (which does not check names) connects.
    let q = format!("sslmode=verify-full&sslrootcert={ca}");
    let (code, err) = status(&site, &url(&site, "127.0.0.1", &q));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("certificate verify failed"), "{err}");
    assert!(err.contains("IP address mismatch"), "{err}");
    let q = format!("sslmode=verify-ca&sslrootcert={ca}");
    assert_eq!(status(&site, &url(&site, "127.0.0.1", &q)).0, 0);
    // Settings that cannot be honoured are named, not ignored.
    for (q, says) in [
        ("sslmode=allow", "sslmode 'allow'"),
        ("sslcert=/tmp/c.pem", "'sslcert' is not supported"),
        (
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "/nonexistent/ca.pem",
        ),
    ] {
        let (code, err) = status(&site, &url(&site, "localhost", q));
        assert_eq!(code, 2, "{q}: {err}");
        assert!(err.contains(says), "{q}: {err}");
    }

    // The worker's sessions really are encrypted, as the server sees them;
    // and with sslmode=disable they are not (so the check can fail).
    let full = url(
        &site,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let plain = url(&site, "localhost", "sslmode=disable");
    for (u, want) in [(&full, "true"), (&plain, "false")] {
        // A session of an earlier tilerun process can outlive it for a
        // moment on the server: wait for none, so all seen are this one's.
        wait_until(60, "no tilerun session left", || {
            sessions_encrypted(&site).is_empty()
        });
        let mut w = site.worker_with(&["--queue", u], &[]);
        let seen = sessions_encrypted(&site);
        w.stop();
        assert!(!seen.is_empty(), "no tilerun session seen");
        assert!(seen.split(',').all(|s| s == want), "{u}: ssl = {seen}");
    }
    // And a job runs end to end over TLS.
    let inputs = site.inputs(1);
    let mut c = site.cmd(&["submit", "--recipe", "ndvi", "--queue", &full]);
    crate::util::Run(c.arg(&inputs[0]).output().unwrap()).ok();
    let mut w = site.worker_with(&["--queue", &full], &[]);
    wait_until(60, "the job done", || site.pg.count("done") == 1);
    w.stop();
    assert!(!w.text().contains(PASSWORD));
}
