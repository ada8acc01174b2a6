//! Ctrl-C: the first signal stops cleanly, the second exits at once; neither
//! leaves a temp file or anything at the output path.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// Start a slow job (focal median 15×15 on one worker) and wait until its
/// temp output exists, so the signal lands mid-write. `extra` arguments
/// go to tilerun.
fn start_slow_job(env: &Env, extra: &[&str]) -> Child {
    oracle(
        "/usr/bin/gdal_create",
        &[
            "-q",
            "-outsize",
            "3000",
            "3000",
            "-bands",
            "1",
            "-ot",
            "Float32",
            "-burn",
            "7",
            "-co",
            "TILED=YES",
            env.path("big.tif").to_str().unwrap(),
        ],
    );
    let child = env
        .cmd()
        .args([
            "big.tif",
            "--op",
            "focal",
            "--set",
            "stat=median",
            "--set",
            "size=15",
            "-j",
            "1",
            "-o",
            "out.tif",
        ])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !env.files().iter().any(|n| n.contains(".tilerun-tmp-")) {
        assert!(
            Instant::now() < deadline,
            "temp output never appeared: {:?}",
            env.files()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn sigint(child: &Child) {
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
}

/// Wait until signal `sig`, sent to the whole process, is no longer pending:
/// a thread has taken it and is running (or has run) its handler. The
/// kernel's own account in /proc, so the wait ends as soon as it is true
/// however loaded the machine, rather than after a guessed sleep.
fn wait_taken(child: &Child, sig: i32) {
    let status = format!("/proc/{}/status", child.id());
    let bit = 1u64 << (sig - 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        let pending = text
            .lines()
            .find_map(|l| l.strip_prefix("ShdPnd:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap());
        match pending {
            Some(mask) if mask & bit == 0 => return,
            None => panic!("no ShdPnd in {status}:\n{text}"),
            Some(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "signal {sig} still pending after 60 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn wait(mut child: Child, limit: Duration) -> (i32, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tilerun did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn first_ctrl_c_stops_cleanly() {
    if !have("gdal_create") {
        eprintln!("SKIP: gdal_create not installed");
        return;
    }
    let env = Env::new();
    let child = start_slow_job(&env, &[]);
    sigint(&child);
    let (code, err) = wait(child, Duration::from_secs(60));
    assert_eq!(code, 130, "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(!env.path("out.tif").exists());
    assert_no_temp(env.dir.path());
}

#[test]
fn second_ctrl_c_exits_at_once_and_still_cleans_up() {
    if !have("gdal_create") {
        eprintln!("SKIP: gdal_create not installed");
        return;
    }
    let env = Env::new();
    // 1024-pixel windows: the graceful stop finishes the window in hand,
    // some 15 s of work (3 s with the default windows), so the second
    // signal lands before it ends even if this test is starved for
    // seconds. Exiting at once, the test does not wait for it.
    let child = start_slow_job(&env, &["--window", "1024"]);
    sigint(&child);
    // Signals of one kind do not queue: a second SIGINT sent while the
    // first is still pending would merge with it. Send it once the first
    // has been taken, and at once, well before the graceful stop ends.
    wait_taken(&child, libc::SIGINT);
    sigint(&child);
    let (code, err) = wait(child, Duration::from_secs(30));
    assert_eq!(code, 130);
    // The graceful path reports itself; the immediate exit says nothing.
    assert!(
        !err.contains("interrupted"),
        "exited gracefully, not at once: {err}"
    );
    assert!(!env.path("out.tif").exists());
    assert_no_temp(env.dir.path());
}
