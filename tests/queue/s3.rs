//! S3 inputs and outputs against a local S3 server (moto, started per
//! test on a loopback port; the test creates the bucket).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::{outcomes, Site};
use super::pg::free_port;
use crate::util::*;
use crate::watch::harness::{assert_same_raster, wait_until, Daemon};

const SECRET: &str = "moto-Secret-Key-1234";

pub struct Moto {
    child: Child,
    pub port: u16,
}

fn moto_server() -> PathBuf {
    if let Some(p) = std::env::var_os("TILERUN_MOTO_SERVER") {
        return p.into();
    }
    let venv = root().join(".venv/moto/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    PathBuf::from("moto_server")
}

impl Moto {
    pub fn start() -> Moto {
        Moto::spawn(free_port(), &[], &[])
    }

    /// One that accepts multipart parts of any size (S3 wants 5 MiB), so
    /// a small output can be streamed in many parts.
    pub fn start_small_parts() -> Moto {
        Moto::spawn(free_port(), &[("S3_UPLOAD_PART_MIN_SIZE", "1")], &[])
    }

    /// Serving HTTPS with this certificate and key.
    pub fn start_tls(crt: &std::path::Path, key: &std::path::Path) -> Moto {
        let (c, k) = (crt.to_str().unwrap(), key.to_str().unwrap());
        Moto::spawn(free_port(), &[], &["-c", c, "-k", k])
    }

    fn spawn(port: u16, env: &[(&str, &str)], args: &[&str]) -> Moto {
        let child = Command::new(moto_server())
            .envs(env.iter().copied())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (make test-deps installs it in .venv/moto)");
        let mut m = Moto { child, port };
        // Its imports alone take seconds, many more on a loaded box.
        let deadline = Instant::now() + Duration::from_secs(180);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = m.child.try_wait().unwrap() {
                panic!("moto_server exited ({st}) before it listened on {port}");
            }
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        m
    }

    /// One plain HTTP request (moto accepts unsigned ones); (status, body).
    /// Sent again if moto closed the connection without a reply, as its
    /// threaded server now and then does under load.
    pub fn http(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        for _ in 0..6 {
            if let Some(reply) = self.http_once(method, path, body) {
                return reply;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("moto never answered {method} {path}");
    }

    fn http_once(&self, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .ok()?;
        s.write_all(body).ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).ok()?;
        let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&out[..split]).into_owned();
        let code = head.split(' ').nth(1).unwrap().parse().unwrap();
        let mut body = out[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        Some((code, body))
    }

    pub fn put(&self, key: &str, file: &std::path::Path) {
        let (code, _) = self.http("PUT", key, &std::fs::read(file).unwrap());
        assert_eq!(code, 200, "PUT {key}");
    }

    /// Copy the object `key` to `to`, signed (through GDAL's Python bindings).
    pub fn get(&self, key: &str, to: &std::path::Path) -> bool {
        self.py(&format!(
            "from osgeo import gdal\nimport sys\nf = gdal.VSIFOpenL('/vsis3/{key}', 'rb')\n\
             sys.exit(1) if f is None else None\ndata = b''\n\
             while True:\n    b = gdal.VSIFReadL(1, 1 << 20, f)\n    data += b\n    \
             if len(b) < (1 << 20): break\nopen('{}', 'wb').write(data)",
            to.display()
        ))
    }

    pub fn delete(&self, key: &str) -> bool {
        self.py(&format!(
            "from osgeo import gdal\nimport sys\nsys.exit(gdal.Unlink('/vsis3/{key}'))"
        ))
    }

    fn py(&self, code: &str) -> bool {
        let mut c = Command::new("/usr/bin/python3");
        for (k, v) in self.env() {
            c.env(k, v);
        }
        c.args(["-c", code]).status().unwrap().success()
    }

    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_S3_ENDPOINT", format!("127.0.0.1:{}", self.port)),
            ("AWS_HTTPS", "NO".into()),
            ("AWS_VIRTUAL_HOSTING", "FALSE".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 4 + n..];
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A queue site writing outputs to `output_dir`, `queue` extra [queue] keys.
pub fn site_with(output_dir: &str, queue: &str) -> Site {
    let site = Site::new(queue);
    let text = std::fs::read_to_string(&site.config).unwrap();
    let text = text.replacen(
        &format!("dir = '{}'", site.out.display()),
        &format!("dir = '{output_dir}'"),
        1,
    )
        + "[recipes.ndvi_cog]\nexpr = '(b4 - b3) / (b4 + b3)'\not = 'Float32'\nnodata = -9999\n\
         format = 'COG'\noutput = '{stem}_cog.tif'\n";
    std::fs::write(&site.config, text).unwrap();
    site
}

impl Moto {
    /// `submit --recipe RECIPE WHAT` with this store's settings; must succeed.
    pub fn submit(&self, site: &Site, recipe: &str, what: impl AsRef<std::ffi::OsStr>) {
        let mut c = with_env(site.cmd(&["submit", "--recipe", recipe]), self);
        Run(c.arg(what).output().unwrap()).ok();
    }

    /// A worker of `site` with this store's settings, then `extra`.
    pub fn worker(&self, site: &Site, extra: &[(&str, &str)]) -> Daemon {
        let env = self.env();
        let mut env: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.extend_from_slice(extra);
        site.worker(&env)
    }
}

pub fn with_env(mut c: Command, moto: &Moto) -> Command {
    for (k, v) in moto.env() {
        c.env(k, v);
    }
    c
}

#[test]
fn s3_inputs_and_outputs_round_trip() {
    let moto = Moto::start();
    assert_eq!(moto.http("PUT", "/tiles", b"").0, 200);
    let site = site_with("s3://tiles/out", "");
    let inputs = site.inputs(3);
    for p in &inputs {
        let name = p.file_name().unwrap().to_string_lossy();
        moto.put(&format!("/tiles/in/{name}"), p);
    }
    let submit = |recipe: &str, what: &str| {
        let c = with_env(site.cmd(&["submit", "--recipe", recipe, what]), &moto);
        Run(with_env(c, &moto).output().unwrap())
    };
    let r = submit("ndvi", "s3://tiles/in/s0[01].tif");
    r.ok();
    assert_eq!(r.stdout().lines().count(), 2, "{}", r.stdout());
    submit("ndvi_cog", "s3://tiles/in/s02.tif").ok();
    // Submitting again (same ETag) finds the same jobs.
    assert!(submit("ndvi", "s3://tiles/in/s00.tif")
        .stdout()
        .contains("already queued"));

    let mut w = moto.worker(&site, &[]);
    wait_until(60, "three jobs done", || site.pg.count("done") == 3);
    w.stop();
    assert!(!w.text().contains(SECRET));
    for (i, input) in inputs.iter().enumerate() {
        let stem = input.file_stem().unwrap().to_string_lossy();
        let key = if i == 2 {
            format!("{stem}_cog.tif")
        } else {
            format!("{stem}_ndvi.tif")
        };
        let got = site.env.path(&key);
        assert!(moto.get(&format!("tiles/out/{key}"), &got), "{key}");
        assert_same_raster(&got, &site.reference(input));
    }
    // The COG on S3 is read in place with range requests.
    let mut c = with_env(Command::new("gdalinfo"), &moto);
    let info = c.arg("/vsis3/tiles/out/s02_cog.tif").output().unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("LAYOUT=COG"), "{text}");
    let output = site
        .pg
        .sql("SELECT output FROM tilerun.jobs ORDER BY id LIMIT 1");
    assert_eq!(output, "s3://tiles/out/s00_ndvi.tif");
}

/// Credentials from a file (any source but the AWS_* variables) keep the
/// upload in GDAL, after the write: the same object, no streamed parts.
#[test]
fn credentials_from_a_file_upload_through_gdal() {
    let moto = Moto::start();
    assert_eq!(moto.http("PUT", "/tiles", b"").0, 200);
    let site = site_with("s3://tiles/out", "");
    let input = site.inputs(1).remove(0);
    moto.submit(&site, "ndvi", &input);
    let creds = site.env.write(
        "aws-credentials",
        &format!("[default]\naws_access_key_id = testing\naws_secret_access_key = {SECRET}\n"),
    );
    let creds = creds.to_string_lossy().into_owned();
    let env = moto.env();
    let mut env: Vec<(&str, &str)> = env
        .iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("CPL_AWS_CREDENTIALS_FILE", &creds));
    let mut w = site.worker(&env);
    wait_until(60, "the job done", || site.pg.count("done") == 1);
    w.stop();
    assert!(!w.text().contains("while writing"), "{}", w.text());
    assert!(!w.text().contains(SECRET));
    let got = site.env.path("got.tif");
    assert!(moto.get("tiles/out/s00_ndvi.tif", &got));
    assert_same_raster(&got, &site.reference(&input));
}

#[test]
fn missing_objects_and_buckets() {
    let moto = Moto::start();
    assert_eq!(moto.http("PUT", "/tiles", b"").0, 200);
    let site = site_with("s3://tiles/out", "");
    let input = site.inputs(1).remove(0);
    moto.put("/tiles/in/gone.tif", &input);
    let run = |args: &[&str]| Run(with_env(site.cmd(args), &moto).output().unwrap());
    run(&["submit", "--recipe", "ndvi", "s3://tiles/in/gone.tif"]).ok();
    assert!(moto.delete("tiles/in/gone.tif"));

    // A job whose input vanished fails with that reason, at once.
    let mut w = moto.worker(&site, &[]);
    wait_until(60, "the job to fail", || site.pg.count("failed") == 1);
    w.stop();
    let failed = outcomes(&w, "failed");
    assert!(
        failed[0]["cause"]
            .as_str()
            .unwrap()
            .contains("no such object"),
        "{}",
        w.text()
    );

    // Start-up refusals, exit 2 and named: a missing bucket (input or
    // output) and a malformed URI.
    let r = run(&["submit", "--recipe", "ndvi", "s3://nobucket/x.tif"]);
    r.fails(2);
    assert!(r.stderr().contains("s3://nobucket"), "{}", r.stderr());
    let r = run(&["submit", "--recipe", "ndvi", "s3://tiles"]);
    r.fails(2);
    assert!(
        r.stderr().contains("not an S3 object URI"),
        "{}",
        r.stderr()
    );
    // A folder delivery (a prefix, see s3_folder) with nothing under it.
    let r = run(&["submit", "--recipe", "ndvi", "s3://tiles/none/"]);
    r.fails(1);
    assert!(
        r.stderr().contains(
            "s3://tiles/none: no such object in the bucket (no object under this prefix)"
        ),
        "{}",
        r.stderr()
    );
    let r = run(&["submit", "--recipe", "ndvi", "s3://tiles/in/none-*.tif"]);
    r.fails(1);
    assert!(r.stderr().contains("matches no object"), "{}", r.stderr());
    let other = site_with("s3://nobucket/out", "");
    let r = Run(with_env(other.cmd(&["worker"]), &moto).output().unwrap());
    r.fails(2);
    assert!(r.stderr().contains("s3://nobucket"), "{}", r.stderr());
    assert!(!r.stderr().contains(SECRET));
}

/// A heartbeat that falls during the commit waits on the job's row lock
/// and then finds the job done, by this very worker: it must not log that
/// the lease was taken over and the result "will be refused" (a slow
/// upload at the commit makes that the common case on S3).
#[test]
fn a_beat_during_its_own_commit_is_not_reported_as_a_takeover() {
    let moto = Moto::start();
    assert_eq!(moto.http("PUT", "/tiles", b"").0, 200);
    let site = site_with("s3://tiles/out", "lease_secs = 1.5\njobs = 1");
    let input = site.inputs(1).remove(0);
    moto.submit(&site, "ndvi", &input);
    // The upload, inside the commit's transaction, outlasts several beats.
    let mut w = moto.worker(&site, &[("TILERUN_TEST_UPLOAD_CHUNK_DELAY_MS", "2500")]);
    wait_until(60, "the job to be done", || site.pg.count("done") == 1);
    // Give a beat blocked behind the commit time to report.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    w.stop();
    assert_eq!(outcomes(&w, "done").len(), 1, "{}", w.text());
    assert!(!w.text().contains("taken over"), "{}", w.text());
    assert!(moto.get("tiles/out/s00_ndvi.tif", &site.env.path("got.tif")));
    // The job ended when the upload did, not when its transaction began.
    let took: f64 = site
        .pg
        .sql("SELECT extract(epoch FROM finished_at - started_at) FROM tilerun.jobs")
        .parse()
        .unwrap();
    assert!(took >= 2.5, "finished_at precedes the upload: {took} s");
    // The done line says where the time went: the upload is the commit's.
    let done = &outcomes(&w, "done")[0];
    let commit = done["commit_s"].as_f64().unwrap();
    let (fetch, compute) = (
        done["fetch_s"].as_f64().unwrap(),
        done["compute_s"].as_f64().unwrap(),
    );
    // A local input: nothing to fetch.
    assert!(commit >= 2.5 && fetch == 0.0 && compute > 0.0, "{done}");
    assert!(
        fetch + compute + commit <= done["seconds"].as_f64().unwrap() + 0.01,
        "{done}"
    );
}
