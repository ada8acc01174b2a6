//! The generated hostile corpus (tests/hostile/gen.py) dropped into the
//! inbox of a running `tilerun watch`. The promise for a drop
//! folder: whatever arrives, each file ends where the manifest says (done/
//! with a faithful output, or failed/ with a reason), odd names cannot break
//! or spoof a log line, nothing is left half-written, and the same daemon
//! goes on to process a good file and stops cleanly.

use std::ffi::OsStr;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::*;
use crate::hostile::{assert_same_pixels, corpus_cases, Case};
use crate::util::*;

/// What the one-shot test runs (`-e b1 --ot Float64 --nodata -1e300`), so
/// the same pixel check applies. `{ext}` keeps good.png and good.jpg apart.
const RECIPE: &str = "\n[recipes.hostile]\nexpr = 'b1'\not = 'Float64'\nnodata = -1e300\n\
                      output = '{stem}_{ext}.tif'\n";

fn name(c: &Case) -> &OsStr {
    c.path.file_name().unwrap()
}

/// The output the recipe's template names, computed here independently.
/// Bytes are kept as they are, so distinct odd names give distinct outputs.
fn output_for(site: &Site, name: &OsStr) -> PathBuf {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let p = Path::new(name);
    let bytes = |s: Option<&OsStr>| s.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
    let mut out = bytes(p.file_stem());
    out.push(b'_');
    out.extend(bytes(p.extension()));
    out.extend(b".tif");
    site.out.join(std::ffi::OsString::from_vec(out))
}

fn ended(site: &Site, c: &Case) -> bool {
    let mut ej = name(c).to_os_string();
    ej.push(".error.json");
    site.done.join(name(c)).symlink_metadata().is_ok() || site.failed.join(ej).exists()
}

fn kind_of(p: &Path) -> &'static str {
    match p.symlink_metadata().map(|m| m.file_type()) {
        Ok(t) if t.is_symlink() => "symlink",
        Ok(t) if t.is_dir() => "dir",
        Ok(t) if t.is_fifo() => "fifo",
        Ok(t) if t.is_file() => "file",
        Ok(_) => "other",
        Err(_) => "missing",
    }
}

/// A string a log line or error.json may carry: nothing that ends a line,
/// drives a terminal, or reorders what is displayed.
fn is_safe(s: &str) -> bool {
    let invisible = |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    !s.chars().any(|c| c.is_control() || invisible(c))
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn the_hostile_corpus_cannot_crash_hang_or_fool_the_daemon() {
    let site = Site::new(&[("*", "hostile")], "");
    let mut cfg = std::fs::read_to_string(&site.config).unwrap();
    cfg.push_str(RECIPE);
    std::fs::write(&site.config, cfg).unwrap();
    let corpus = site.env.path("corpus");
    let mut cases = corpus_cases(&corpus);
    assert!(cases.len() >= 50, "only {} cases generated", cases.len());
    // The corpus's odd names are all good files; these refusals put odd
    // names in error.json and in the causes too.
    let odd = |raw: &[u8], kind: &str, reason: &str| Case {
        path: corpus.join(<OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(raw)),
        name: String::from_utf8_lossy(raw).into_owned(),
        expect: "refuse".into(),
        daemon: "refuse".into(),
        kind: kind.into(),
        expr: "b1".into(),
        reason: reason.into(),
    };
    let text = odd(
        b"txt\n\xff\x1b[2J\xe2\x80\xae.tif",
        "file",
        "text, odd name",
    );
    std::fs::copy(corpus.join("text.tif"), &text.path).unwrap();
    let link = odd(b"-link\r\xfe.tif", "symlink", "symlink, odd name");
    std::os::unix::fs::symlink("/etc/passwd", &link.path).unwrap();
    cases.extend([text, link]);
    assert!(cases.iter().all(|c| c.expr == "b1"), "the recipe runs b1");

    let mut d = site.start();
    d.wait_ready();
    // Renames: files arrive whole, hard links stay links, and symlinks,
    // folders and FIFOs arrive as what they are.
    for c in &cases {
        assert_eq!(kind_of(&c.path), c.kind, "{}", c.name.escape_debug());
        std::fs::rename(&c.path, site.inbox.join(name(c))).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let pending: Vec<_> = cases.iter().filter(|c| !ended(&site, c)).collect();
        if pending.is_empty() {
            break;
        }
        if let Some(st) = d.child.try_wait().unwrap() {
            panic!("daemon exited ({st}) with cases pending:\n{}", d.text());
        }
        let names: Vec<_> = pending.iter().map(|c| c.name.escape_debug()).collect();
        assert!(
            Instant::now() < deadline,
            "timed out; no outcome for {names:?}; log:\n{}",
            d.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(d.child.try_wait().unwrap().is_none(), "daemon died");

    // The daemon is alive and still works: a good file after the corpus.
    site.drop_in(&fixture("scene_small.tif"), "after.tif");
    wait_until(60, "after.tif in done/", || {
        site.done.join("after.tif").exists()
    });
    assert_same_pixels(
        &site.done.join("after.tif"),
        &site.out.join("after_tif.tif"),
        &site.env,
        "after.tif",
    );
    d.stop();

    let text = d.text();
    assert!(!text.contains("panicked"), "panic in the log:\n{text}");
    // JSON lines only: a raw newline from a name would split one, and a
    // byte that is not UTF-8 would make one unreadable.
    for l in text.lines() {
        assert!(
            serde_json::from_str::<Value>(l).is_ok(),
            "not a JSON log line: {l:?}"
        );
    }
    let logs = d.logs();
    for v in &logs {
        let mut s = vec![];
        strings(v, &mut s);
        assert!(s.iter().all(|s| is_safe(s)), "unescaped text in {v}");
    }

    let (mut done, mut failed) = (0, 0);
    for c in &cases {
        let n = name(c);
        let shown = tilerun::error::show(Path::new(n));
        let what = format!("{} ({})", c.name.escape_debug(), c.reason);
        let lines = |outcome: &str| {
            logs.iter()
                .filter(|v| v["input"] == shown.as_str() && v["outcome"] == outcome)
                .count()
        };
        assert_eq!(lines("retry"), 0, "retried: {what}");
        let out = output_for(&site, n);
        if c.daemon == "process" {
            assert_eq!(lines("done"), 1, "one done line: {what}\n{text}");
            assert_eq!(lines("failed"), 0, "{what}");
            assert_eq!(kind_of(&site.done.join(n)), "file", "{what}");
            assert_same_pixels(&site.done.join(n), &out, &site.env, &what);
            done += 1;
        } else {
            assert_eq!(c.daemon, "refuse", "{what}");
            assert_eq!(lines("failed"), 1, "one failed line: {what}\n{text}");
            assert_eq!(lines("done"), 0, "{what}");
            // Moved as it was: a link is never followed, a FIFO never opened.
            assert_eq!(kind_of(&site.failed.join(n)), c.kind, "{what}");
            let mut ej = n.to_os_string();
            ej.push(".error.json");
            let body = std::fs::read_to_string(site.failed.join(ej)).unwrap();
            let e: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(e["input"], shown.as_str(), "{what}: {body}");
            let cause = e["cause"].as_str().unwrap_or("");
            assert!(cause.len() > 10, "no cause: {what}: {body}");
            let mut s = vec![];
            strings(&e, &mut s);
            assert!(s.iter().all(|s| is_safe(s)), "unescaped: {what}: {body}");
            assert!(!out.exists(), "output for a refused input: {what}");
            failed += 1;
        }
    }
    assert!(done >= 15 && failed >= 30, "{done} done, {failed} failed");
    assert_eq!(names(&site.out).len(), done + 1, "{:?}", names(&site.out));
    // Nothing left behind: the inbox is empty, work/ holds only its lock.
    assert!(list(&site.inbox).is_empty(), "{:?}", list(&site.inbox));
    assert_eq!(list(&site.work), [".tilerun.lock"]);
    for dir in [&site.out, &site.done, &site.failed] {
        assert_no_temp(dir);
    }
}
