//! A drop-folder site in a temp dir (inbox, state and output folders, a
//! test-only config), and the real `tilerun watch` process with its JSON
//! log lines collected as they come. Waits poll with generous deadlines:
//! the box may be loaded, and no test asserts on timing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

pub const NDVI: &str = "(b4 - b3) / (b4 + b3)";

/// `[engine]` setting that makes a job on [`Site::big_input`] take seconds
/// (2-pixel windows, some 240 000 of them): a signal sent once its temp
/// output is seen then lands mid-job even if the test is starved of CPU
/// for seconds in between. (8-pixel windows took half a second.)
pub const SLOW: &str = "window = 2";

pub struct Site {
    pub env: Env,
    pub inbox: PathBuf,
    pub out: PathBuf,
    pub work: PathBuf,
    pub done: PathBuf,
    pub failed: PathBuf,
    pub config: PathBuf,
}

impl Site {
    /// A site whose `[watch]` gets `extra` keys and `rules` (glob, recipe).
    pub fn new(rules: &[(&str, &str)], extra: &str) -> Site {
        Site::with_engine(rules, extra, "")
    }

    pub fn with_engine(rules: &[(&str, &str)], extra: &str, engine: &str) -> Site {
        let env = Env::new();
        let p = |n: &str| env.path(n);
        let mut rules_toml = String::new();
        for (g, r) in rules {
            rules_toml.push_str(&format!("[[watch.rules]]\nglob = '{g}'\nrecipe = '{r}'\n"));
        }
        let mut defaults = String::new();
        for (k, v) in [
            ("settle_secs", "0.3"),
            ("rescan_interval_secs", "1"),
            ("retry_backoff_secs", "0.2"),
        ] {
            if !extra.contains(&format!("{k} =")) {
                defaults.push_str(&format!("{k} = {v}\n"));
            }
        }
        let text = format!(
            "[engine]\nworkers = 1\n{engine}\n\
             [recipes.ndvi]\nexpr = '{NDVI}'\not = 'Float32'\nnodata = -9999\noutput = '{{stem}}_ndvi.tif'\n\
             [recipes.double]\nexpr = 'b1 * 2'\not = 'Float32'\noutput = '{{stem}}_x2.tif'\n\
             [watch]\ninbox = '{}'\noutput = '{}'\n{defaults}{extra}\n{rules_toml}",
            p("inbox").display(),
            p("out").display()
        );
        let config = env.write("watch.toml", &text);
        for d in ["inbox", "out"] {
            std::fs::create_dir_all(p(d)).unwrap();
        }
        Site {
            inbox: p("inbox"),
            out: p("out"),
            work: p("work"),
            done: p("done"),
            failed: p("failed"),
            config,
            env,
        }
    }

    /// A second site watching `other`'s inbox, with its own state and
    /// output folders.
    pub fn sharing_inbox_of(other: &Site, rules: &[(&str, &str)]) -> Site {
        let mut s = Site::new(rules, "");
        let line = format!("inbox = '{}'", s.inbox.display());
        let own = format!(
            "inbox = '{}'\nwork = '{}'\ndone = '{}'\nfailed = '{}'",
            other.inbox.display(),
            s.work.display(),
            s.done.display(),
            s.failed.display()
        );
        let text = std::fs::read_to_string(&s.config)
            .unwrap()
            .replace(&line, &own);
        std::fs::write(&s.config, text).unwrap();
        s.inbox = other.inbox.clone();
        s
    }

    /// Add TOML (e.g. a `[recipes.NAME]` table) at the end of the config.
    pub fn append(&self, toml: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        std::fs::write(&self.config, format!("{text}\n{toml}\n")).unwrap();
    }

    /// The 1-based line of the config holding `needle` (first match).
    pub fn line_of(&self, needle: &str) -> usize {
        let text = std::fs::read_to_string(&self.config).unwrap();
        1 + text
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in the config:\n{text}"))
    }

    pub fn cmd(&self) -> Command {
        let mut c = self.env.cmd();
        for v in [
            "NOTIFY_SOCKET",
            "WATCHDOG_USEC",
            "WATCHDOG_PID",
            "JOURNAL_STREAM",
        ] {
            c.env_remove(v);
        }
        c.args(["watch", "--log-format", "json", "--config"])
            .arg(&self.config);
        c
    }

    pub fn start(&self) -> Daemon {
        Daemon::spawn(self.cmd())
    }

    /// Drop a file the recommended way: write under a hidden name, rename in.
    pub fn drop_in(&self, src: &Path, name: &str) {
        let hidden = self.inbox.join(format!(".{name}.part"));
        std::fs::copy(src, &hidden).unwrap();
        std::fs::rename(&hidden, self.inbox.join(name)).unwrap();
    }

    /// A file staged beside the inbox (same filesystem), ready to rename in.
    pub fn stage(&self, src: &Path, name: &str) -> PathBuf {
        let dir = self.env.path("staging");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::copy(src, &p).unwrap();
        p
    }

    /// Back to automatic windows (a restart need not be [`SLOW`]).
    pub fn unslow(&self) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        std::fs::write(&self.config, text.replace(SLOW, "window = 0")).unwrap();
    }

    /// A larger input (1200×800, 4 bands) so a job takes a while with a
    /// small window, made from the bundled fixture.
    pub fn big_input(&self) -> PathBuf {
        let p = self.env.path("big.tif");
        let (src, dst) = (fixture("scene_small.tif"), p.to_str().unwrap().to_string());
        oracle(
            "/usr/bin/gdal_translate",
            &[
                "-q",
                "-outsize",
                "1200",
                "800",
                "-co",
                "TILED=YES",
                src.to_str().unwrap(),
                &dst,
            ],
        );
        p
    }

    /// The same recipe run by the one-shot CLI, for comparison.
    pub fn reference(&self, input: &Path, recipe: &str) -> PathBuf {
        let out = self.env.path(&format!("ref_{recipe}.tif"));
        self.env
            .run([
                input.as_os_str(),
                "--config".as_ref(),
                self.config.as_os_str(),
                "--recipe".as_ref(),
                recipe.as_ref(),
                "-o".as_ref(),
                out.as_os_str(),
            ])
            .ok();
        out
    }
}

/// Non-hidden names in `dir`, sorted (empty if it does not exist).
pub fn names(dir: &Path) -> Vec<String> {
    if !dir.is_dir() {
        return vec![];
    }
    list(dir)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// Every path under `dir`, relative and sorted: a refused start must leave
/// this unchanged.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[track_caller]
pub fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Same size, values and nodata as the reference output.
#[track_caller]
pub fn assert_same_raster(got: &Path, want: &Path) {
    let (g, w) = (read(got), read(want));
    assert_eq!((g.width, g.height), (w.width, w.height));
    assert_eq!(g.nodata, w.nodata);
    assert_eq!(g.types, w.types);
    assert!(
        g.bands == w.bands,
        "{} differs from {}",
        got.display(),
        want.display()
    );
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, sig) };
}

pub struct Daemon {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    pub fn spawn(mut cmd: Command) -> Daemon {
        let mut child = cmd
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tilerun watch");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (sink, err) = (Arc::clone(&lines), child.stderr.take().unwrap());
        // Lossy, so a line that is not UTF-8 is kept (and can be asserted
        // on) instead of ending the reader and leaving the pipe to fill up.
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(err);
            let mut buf = Vec::new();
            while matches!(r.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                let l = String::from_utf8_lossy(buf.strip_suffix(b"\n").unwrap_or(&buf));
                sink.lock().unwrap().push(l.into_owned());
                buf.clear();
            }
        });
        Daemon {
            child,
            lines,
            reader: Some(reader),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Log records (JSON lines only).
    pub fn logs(&self) -> Vec<Value> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Per-file lines with this outcome, for this input.
    pub fn count(&self, outcome: &str, input: &str) -> usize {
        self.logs()
            .iter()
            .filter(|v| v["outcome"] == outcome && v["input"] == input)
            .count()
    }

    #[track_caller]
    pub fn wait_log(&mut self, secs: u64, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = self.logs().into_iter().find(|v| f(v)) {
                return v;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                self.join_reader();
                if let Some(v) = self.logs().into_iter().find(|v| f(v)) {
                    return v;
                }
                panic!("daemon exited ({st}) before {what}:\n{}", self.text());
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {secs}s waiting for {what}; log:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[track_caller]
    pub fn wait_ready(&mut self) -> Value {
        self.wait_log(60, "ready", |v| v["message"] == "ready")
    }

    pub fn signal(&self, sig: i32) {
        signal(self.pid(), sig);
    }

    fn join_reader(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    /// Wait for exit; returns the exit code (-1 for a signal).
    #[track_caller]
    pub fn wait_exit(&mut self, secs: u64) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                self.join_reader();
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("daemon did not exit within {secs}s:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_reader();
    }

    /// SIGTERM and a clean exit 0.
    #[track_caller]
    pub fn stop(&mut self) {
        self.signal(libc::SIGTERM);
        let code = self.wait_exit(60);
        assert_eq!(code, 0, "daemon did not stop cleanly:\n{}", self.text());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
