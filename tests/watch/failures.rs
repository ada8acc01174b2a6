//! Bad files, odd entries, full disks and bad set-ups: each file ends in
//! done/ or failed/ with a reason, the daemon carries on, and set-up
//! mistakes are refused at start-up with a message naming the fix.

use std::path::Path;

use serde_json::Value;

use super::harness::*;
use crate::util::*;

fn error_json(site: &Site, name: &str) -> Value {
    let p = site.failed.join(format!("{name}.error.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["cause"].as_str().is_some_and(|c| !c.is_empty()),
        "{name}: no cause in {text}"
    );
    assert!(
        v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{text}"
    );
    v
}

#[test]
fn a_corrupt_file_fails_with_a_reason_and_the_next_good_one_succeeds() {
    let site = Site::new(&[("*.tif", "ndvi")], "");
    let mut d = site.start();
    d.wait_ready();
    site.drop_in(&corpus("corrupt.tif"), "corrupt.tif");
    wait_until(60, "corrupt.tif in failed/", || {
        site.failed.join("corrupt.tif.error.json").exists()
    });
    site.drop_in(&fixture("scene_small.tif"), "good.tif");
    wait_until(60, "good.tif in done/", || {
        site.done.join("good.tif").exists()
    });
    d.stop();
    let e = error_json(&site, "corrupt.tif");
    assert_eq!(e["attempts"], 1, "a corrupt file is not retried: {e}");
    assert!(site.failed.join("corrupt.tif").exists());
    assert_eq!(names(&site.out), ["good_ndvi.tif"]);
    assert_no_temp(&site.out);
}

#[test]
fn unmatched_files_are_left_alone_and_logged_once() {
    let site = Site::new(&[("*.tif", "double")], "rescan_interval_secs = 0.1");
    std::fs::write(site.inbox.join("notes.txt"), "not a raster").unwrap();
    std::fs::write(site.inbox.join("upload.tif.part"), "partial").unwrap();
    let mut d = site.start();
    d.wait_ready();
    std::fs::write(site.inbox.join("late.csv"), "a,b").unwrap();
    site.drop_in(&fixture("rgb_band.tif"), "marker.tif");
    wait_until(60, "marker.tif in done/", || {
        site.done.join("marker.tif").exists()
    });
    // Let several rescans pass over the unmatched files.
    std::thread::sleep(std::time::Duration::from_millis(800));
    d.stop();
    assert_eq!(
        names(&site.inbox),
        ["late.csv", "notes.txt", "upload.tif.part"]
    );
    let logs = d.logs();
    let unmatched = |n: &str| {
        logs.iter()
            .filter(|v| v["input"] == n && v["message"].as_str().unwrap_or("").contains("no rule"))
            .count()
    };
    assert_eq!(unmatched("notes.txt"), 1, "{}", d.text());
    assert_eq!(unmatched("late.csv"), 1, "{}", d.text());
    assert_eq!(
        unmatched("upload.tif.part"),
        0,
        "ignored names are not even logged"
    );
}

#[test]
fn links_folders_and_fifos_in_the_inbox_are_refused() {
    let site = Site::new(&[("*.tif", "double")], "");
    let mut d = site.start();
    d.wait_ready();
    let outside = site.env.path("outside.tif");
    std::fs::copy(fixture("rgb_band.tif"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, site.inbox.join("link_out.tif")).unwrap();
    std::fs::copy(fixture("rgb_band.tif"), site.env.path("inside_target")).unwrap();
    std::os::unix::fs::symlink("../inside_target", site.inbox.join("link_in.tif")).unwrap();
    std::fs::create_dir(site.inbox.join("folder.tif")).unwrap();
    let c = std::ffi::CString::new(site.inbox.join("pipe.tif").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let want = ["folder.tif", "link_in.tif", "link_out.tif", "pipe.tif"];
    wait_until(60, "every odd entry in failed/", || {
        want.iter()
            .all(|n| site.failed.join(format!("{n}.error.json")).exists())
    });
    d.stop();
    assert!(error_json(&site, "link_out.tif")["cause"]
        .as_str()
        .unwrap()
        .contains("symbolic link"));
    assert!(error_json(&site, "link_in.tif")["cause"]
        .as_str()
        .unwrap()
        .contains("symbolic link"));
    assert!(error_json(&site, "folder.tif")["cause"]
        .as_str()
        .unwrap()
        .contains("directory"));
    assert!(error_json(&site, "pipe.tif")["cause"]
        .as_str()
        .unwrap()
        .contains("regular file"));
    // The link targets were never read, let alone moved.
    assert!(outside.exists() && site.env.path("inside_target").exists());
    assert!(names(&site.out).is_empty() && names(&site.inbox).is_empty());
}

#[test]
fn every_corpus_file_through_the_daemon_is_done_or_failed_with_a_reason() {
    let site = Site::new(&[("*.tif", "double")], "");
    let tifs: Vec<String> = list(&corpus_dir())
        .into_iter()
        .filter(|n| n.ends_with(".tif"))
        .collect();
    let mut d = site.start();
    d.wait_ready();
    for n in &tifs {
        site.drop_in(&corpus(n), n);
    }
    let ended = |n: &String| {
        site.done.join(n).exists() || site.failed.join(format!("{n}.error.json")).exists()
    };
    wait_until(180, "an outcome for every corpus file", || {
        tifs.iter().all(ended)
    });
    d.stop();
    let mut failed = 0;
    for n in &tifs {
        if site.failed.join(n).exists() {
            error_json(&site, n);
            assert_eq!(d.count("failed", n), 1, "{n}");
            failed += 1;
        } else {
            assert_eq!(d.count("done", n), 1, "{n}");
            let stem = n.trim_end_matches(".tif");
            assert!(site.out.join(format!("{stem}_x2.tif")).exists(), "{n}");
        }
    }
    assert!(
        site.failed.join("corrupt.tif").exists(),
        "corrupt.tif must fail"
    );
    assert!(
        tifs.len() - failed >= 25,
        "only {} of {} done",
        tifs.len() - failed,
        tifs.len()
    );
    assert!(names(&site.inbox).is_empty() && names(&site.work).is_empty());
    assert_no_temp(&site.out);
}

/// A tiny tmpfs mounted at the output folder; unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, opts: &str) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    /// Fill all free space with a filler file.
    fn fill(&self) {
        let _ = std::process::Command::new("dd")
            .args(["if=/dev/zero", "bs=4096"])
            .arg(format!("of={}", self.0.join(".filler").display()))
            .stderr(std::process::Stdio::null())
            .status();
    }

    fn free(&self) {
        std::fs::remove_file(self.0.join(".filler")).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_output_disk_is_retried_with_backoff_then_failed_or_recovered() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: mounting a tiny tmpfs needs root");
        return;
    }
    let site = Site::new(
        &[("*.tif", "ndvi")],
        "max_attempts = 3\nretry_backoff_secs = 1",
    );
    let Some(disk) = Tmpfs::mount(&site.out, "size=1m") else {
        eprintln!("SKIP: cannot mount tmpfs here");
        return;
    };
    let mut d = site.start();
    d.wait_ready();
    disk.fill();
    site.drop_in(&fixture("scene_small.tif"), "never.tif");
    wait_until(60, "never.tif in failed/", || {
        site.failed.join("never.tif.error.json").exists()
    });
    let e = error_json(&site, "never.tif");
    assert_eq!(e["attempts"], 3, "{e}");
    // The cause names the OS error and the output it was writing.
    let cause = e["cause"].as_str().unwrap();
    assert!(
        cause.contains("No space left on device") && cause.contains("never_ndvi.tif"),
        "{e}"
    );
    assert_eq!(d.count("retry", "never.tif"), 2, "{}", d.text());
    // The one-shot CLI says the same, with exit 1 and nothing left behind.
    let cli = std::process::Command::new(crate::util::BIN)
        .arg(fixture("scene_small.tif"))
        .args(["--expr", "b1 * 1.5", "--ot", "Float64", "-q", "-o"])
        .arg(site.out.join("cli.tif"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&cli.stderr);
    assert_eq!(cli.status.code(), Some(1), "{err}");
    assert!(
        err.contains("No space left on device") && err.contains("cli.tif"),
        "{err}"
    );
    assert_no_temp(&site.out);
    // Now one that recovers: space comes back between attempts. A 1 s
    // backoff leaves this test 3 s to free the space before the last
    // attempt: too little on a starved box. Restarted with 10 s (the
    // retry line is seen at once, so this costs about 10 s, not 30).
    d.stop();
    let text = std::fs::read_to_string(&site.config).unwrap();
    let slower = text.replace("retry_backoff_secs = 1\n", "retry_backoff_secs = 10\n");
    assert_ne!(text, slower);
    std::fs::write(&site.config, slower).unwrap();
    let mut d = site.start();
    d.wait_ready();
    site.drop_in(&fixture("scene_small.tif"), "later.tif");
    d.wait_log(60, "a retry of later.tif", |v| {
        v["outcome"] == "retry" && v["input"] == "later.tif"
    });
    disk.free();
    wait_until(90, "later.tif in done/", || {
        site.done.join("later.tif").exists()
    });
    d.stop();
    let done = d
        .logs()
        .into_iter()
        .find(|v| v["outcome"] == "done")
        .unwrap();
    assert!(done["attempt"].as_u64().unwrap() >= 2, "{done}");
    assert_eq!(names(&site.out), ["later_ndvi.tif"]);
    assert_no_temp(&site.out);
    drop(d);
}

#[track_caller]
fn refused(site: &Site, code: i32, needle: &str) {
    let out = site.cmd().output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "expected '{needle}' in:\n{err}");
}

#[test]
fn set_up_mistakes_are_refused_at_start_up_with_a_named_error() {
    let inside = Site::new(&[("*.tif", "double")], "");
    let text = std::fs::read_to_string(&inside.config).unwrap().replace(
        "[watch]\n",
        &format!(
            "[watch]\nwork = '{}'\n",
            inside.inbox.join("work").display()
        ),
    );
    std::fs::write(&inside.config, text).unwrap();
    refused(&inside, 2, "must never be inside the watched folder");

    let nope = Site::new(&[("*.tif", "nope")], "");
    refused(&nope, 2, "no recipe 'nope'");

    let read_only = Site::new(&[("*.tif", "double")], "");
    if let Some(_ro) = Tmpfs::mount(&read_only.out, "ro,size=64k") {
        refused(&read_only, 2, "output folder");
        refused(&read_only, 2, "not writable: Read-only file system");
    } else {
        eprintln!("SKIP (read-only output case): mounting a tmpfs needs root");
    }

    let shared = Site::new(&[("*.tif", "double")], "");
    let mut d = shared.start();
    d.wait_ready();
    refused(
        &shared,
        1,
        "another tilerun watch is using this work folder",
    );
    d.stop();
}

#[test]
fn running_out_of_file_descriptors_at_start_up_is_a_named_error() {
    let site = Site::new(&[("*.tif", "double")], "");
    let mut named = false;
    // How many descriptors start-up needs before the watch varies with the
    // libraries; try a few limits: each must fail cleanly, one by name.
    for n in 4..=8 {
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
            .arg(BIN)
            .args(site.cmd().get_args())
            .current_dir(site.env.dir.path())
            .env_remove("NOTIFY_SOCKET");
        let mut d = Daemon::spawn(c);
        let mut code = None;
        wait_until(60, "exit or ready", || {
            code = d.child.try_wait().unwrap().map(|s| s.code().unwrap_or(-1));
            code.is_some() || d.text().contains("\"ready\"")
        });
        let Some(code) = code else {
            d.stop();
            continue;
        };
        let code = {
            d.wait_exit(60);
            code
        };
        let text = d.text();
        assert_eq!(code, 1, "limit {n}: {text}");
        assert!(!text.contains("panicked"), "limit {n}: {text}");
        named |= text.contains("too many open files: cannot start watching")
            && text.contains("LimitNOFILE");
    }
    assert!(named, "no limit gave the named 'too many open files' error");
}
