//! The operator's commands: submit (twice), status, a replaced output, requeue, cancel, and
//! the refusals of a queue that cannot be used (exit 2, named, no password).

use super::harness::{outcomes, Site};
use super::pg::{free_port, PASSWORD};
use crate::watch::harness::{assert_same_raster, wait_until};

#[test]
fn submitting_twice_returns_the_same_job() {
    let site = Site::new("");
    let inputs = site.inputs(2);
    let first = site.submit(&inputs);
    first.ok();
    let again = site.submit(&inputs[..1]);
    again.ok();
    let a: serde_json::Value =
        serde_json::from_str(first.stdout().lines().next().unwrap()).unwrap();
    let b: serde_json::Value = serde_json::from_str(again.stdout().trim()).unwrap();
    assert_eq!(a["id"], b["id"]);
    assert_eq!(
        (a["created"].as_bool(), b["created"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(site.pg.count("pending"), 2);
    // New content under the same name is a new job.
    std::fs::copy(crate::util::fixture("dem_small.tif"), &inputs[0]).unwrap();
    let changed = site.submit(&inputs[..1]);
    let c: serde_json::Value = serde_json::from_str(changed.stdout().trim()).unwrap();
    assert_ne!(c["id"], a["id"]);
}

/// Two jobs whose outputs share a name (one stem in two folders): both are
/// done, the second's done line says `replaced`, a WARN names the output,
/// and the output is the second input's.
#[test]
fn a_job_replacing_another_jobs_output_says_so() {
    let site = Site::new("jobs = 1");
    let first = site.inputs(2);
    let other = site.inputs.join("again");
    std::fs::create_dir(&other).unwrap();
    let second = other.join("s00.tif");
    std::fs::copy(&first[1], &second).unwrap();
    site.submit(&first[..1]).ok();
    let mut w = site.worker(&[]);
    wait_until(60, "the first job", || site.pg.count("done") == 1);
    site.submit(std::slice::from_ref(&second)).ok();
    wait_until(60, "the second job", || site.pg.count("done") == 2);
    w.stop();
    let done = outcomes(&w, "done");
    let flags: Vec<_> = done.iter().map(|v| v["replaced"].as_bool()).collect();
    assert_eq!(flags, [Some(false), Some(true)], "{}", w.text());
    let out = site.out.join("s00_ndvi.tif");
    let warn: Vec<_> = w
        .logs()
        .into_iter()
        .filter(|v| v["event"] == "replaced")
        .collect();
    assert_eq!(warn.len(), 1, "{}", w.text());
    assert_eq!(warn[0]["output"], out.display().to_string());
    assert_same_raster(&out, &site.reference(&second));
}

#[test]
fn status_requeue_and_cancel() {
    let site = Site::new("max_attempts = 2");
    let mut inputs = site.inputs(3);
    // A corrupt input: bad input fails at once, with its reason.
    let bad = site.inputs.join("corrupt.tif");
    std::fs::write(&bad, b"II*\0 this is not a TIFF").unwrap();
    inputs.push(bad.clone());
    site.submit(&inputs).ok();
    let st = site.status();
    assert_eq!(st["counts"]["pending"], 4, "{st}");
    assert!(st["oldest_pending_secs"].as_f64().is_some(), "{st}");
    let text = site.run(&["status"]);
    text.ok();
    assert!(text.stdout().contains("pending 4"), "{}", text.stdout());
    assert!(!text.stdout().contains(PASSWORD));

    // Cancel one pending job before any worker runs.
    let id = |p: &std::path::Path| {
        site.pg.sql(&format!(
            "SELECT id FROM tilerun.jobs WHERE input = '{}'",
            p.display()
        ))
    };
    let cancelled = id(&inputs[0]);
    site.run(&["cancel", &cancelled]).ok();
    let again = site.run(&["cancel", &cancelled]);
    again.fails(1);
    assert!(
        again.stderr().contains("is cancelled"),
        "{}",
        again.stderr()
    );

    let mut w = site.worker(&[]);
    wait_until(60, "the jobs to end", || {
        site.pg.count("done") == 2 && site.pg.count("failed") == 1
    });
    let failed = outcomes(&w, "failed");
    assert_eq!(failed.len(), 1, "{}", w.text());
    assert_eq!(failed[0]["attempt"], 1, "bad input is not retried");
    let st = site.status();
    let f = &st["recent_failures"][0];
    assert_eq!(f["state"], "failed");
    assert!(
        f["last_error"].as_str().unwrap().contains("corrupt.tif"),
        "{st}"
    );
    assert_eq!(st["counts"]["cancelled"], 1);
    assert!(
        !site.out.join("s00_ndvi.tif").exists(),
        "a cancelled job ran"
    );

    // requeue by id puts the failed job back; it fails again.
    let bad_id = id(&bad);
    let r = site.run(&["requeue", &bad_id]);
    r.ok();
    assert!(
        r.stdout().contains(&format!("requeued 1 job(s): {bad_id}")),
        "{}",
        r.stdout()
    );
    wait_until(60, "the requeued job to fail again", || {
        outcomes(&w, "failed").len() == 2
    });
    let done_id = id(&inputs[1]);
    let r = site.run(&["requeue", &done_id]);
    r.fails(1);
    assert!(r.stderr().contains("is done"), "{}", r.stderr());

    // A job whose lease expires on its last attempt is dead; requeue --dead.
    site.pg.sql(&format!(
        "UPDATE tilerun.jobs SET state = 'running', attempts = 2, host = 'gone:1', \
         lease_expires = now() - interval '1 second' WHERE id = {done_id}"
    ));
    wait_until(60, "the expired job to be dead", || {
        site.pg.count("dead") == 1
    });
    let st = site.status();
    let dead = st["recent_failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["state"] == "dead")
        .cloned()
        .unwrap();
    assert!(
        dead["last_error"].as_str().unwrap().contains("gone:1"),
        "{st}"
    );
    let r = site.run(&["requeue", "--dead"]);
    r.ok();
    assert!(r.stdout().contains("requeued 1 job(s)"));
    wait_until(60, "the requeued job to be done", || {
        site.pg.count("done") == 2
    });

    // A cancelled job is not a dead end: submitting it again finds it and
    // says how to run it, and requeue by id does.
    let r = site.run(&["submit", "--recipe", "ndvi", inputs[0].to_str().unwrap()]);
    r.ok();
    let hint = format!("exists, `tilerun requeue {cancelled}` runs it again");
    assert!(r.stdout().contains(&hint), "{}", r.stdout());
    let r = site.run(&["requeue", &cancelled]);
    r.ok();
    assert!(r
        .stdout()
        .contains(&format!("requeued 1 job(s): {cancelled}")));
    wait_until(60, "the requeued cancelled job to be done", || {
        site.pg.count("done") == 3
    });
    assert!(site.out.join("s00_ndvi.tif").exists());
    w.stop();
}

#[test]
fn an_unusable_queue_is_refused_at_start_up() {
    let site = Site::new("");
    let port = site.pg.port;
    let cases = [
        (
            format!("postgresql://tilerun:wrong-pw@127.0.0.1:{port}/postgres"),
            "password authentication failed",
        ),
        (
            format!(
                "postgresql://tilerun:{PASSWORD}@127.0.0.1:{}/postgres",
                free_port()
            ),
            "127.0.0.1",
        ),
        (
            format!("postgresql://tilerun:{PASSWORD}@127.0.0.1:{port}/nosuchdb"),
            "nosuchdb",
        ),
        (
            format!("postgresql://tilerun:{PASSWORD}@127.0.0.1:notaport/x"),
            "malformed",
        ),
        (
            format!("http://tilerun:{PASSWORD}@example/x"),
            "not a postgresql:// URL",
        ),
        // libpq also takes the password in the query.
        (
            format!("postgresql://127.0.0.1:{port}/postgres?user=tilerun&password={PASSWORD}x"),
            "password authentication failed",
        ),
        (
            format!("postgresql://127.0.0.1:notaport/x?user=tilerun&password={PASSWORD}"),
            "malformed",
        ),
    ];
    for (url, why) in &cases {
        for args in [
            vec!["worker", "--queue", url],
            vec!["status", "--queue", url],
            vec!["submit", "--queue", url, "--recipe", "ndvi", "x.tif"],
        ] {
            let r = site.run(&args);
            r.fails(2);
            let all = format!("{}{}", r.stdout(), r.stderr());
            assert!(all.contains(why), "{args:?}: {all}");
            assert!(
                !all.contains(PASSWORD),
                "{args:?} shows the password: {all}"
            );
        }
    }
    let r = site.run(&["status", "--json", "--queue", &cases[1].0]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["reachable"], false);
    assert!(v["counts"].is_null(), "unknown, not zero: {v}");
    assert!(r.stdout().contains("unreachable") || v["error"].is_string());
}

#[test]
fn cancelling_a_running_job_stops_it_and_refuses_its_result() {
    let site = Site::new("lease_secs = 1.5");
    let input = site.inputs(1);
    site.submit(&input).ok();
    // The output is held 10 s before its commit: the cancel (a process
    // of its own) must land in that time even on a starved box.
    let mut w = site.worker(&[("TILERUN_TEST_COMMIT_DELAY_MS", "10000")]);
    w.wait_log(60, "the output to be staged", |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("staged"))
    });
    site.run(&["cancel", "1"]).ok();
    w.wait_log(60, "the worker to learn of the cancel", |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("cancelled"))
    });
    let refused = w.wait_log(60, "the result to be refused", |v| {
        v["outcome"] == "refused"
    });
    assert_eq!(refused["state"], "cancelled");
    w.stop();
    assert_eq!(site.pg.count("cancelled"), 1);
    assert!(site.out_files().is_empty(), "{:?}", site.out_files());
}

#[test]
fn workers_starting_at_once_create_the_schema_once() {
    let site = Site::new("");
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let mut c = site.cmd(&["status", "--json"]);
            c.stdout(std::process::Stdio::null()).spawn().unwrap()
        })
        .collect();
    for mut c in starts {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(
        site.pg
            .sql("SELECT count(*), max(version) FROM tilerun.schema_version"),
        "1|3"
    );
}

#[test]
fn an_idle_worker_wakes_on_notify_not_the_poll() {
    let site = Site::new("");
    let mut w = site.worker_with(&["--poll-secs", "120"], &[]);
    // Wait until every job slot has made its first (empty) claim and gone
    // to sleep: a slot's listener connects, and LISTENs, on its first
    // wait. Seen in the server's own view, so the job below cannot be
    // taken by a first claim however slow the start.
    let slots = w.wait_ready()["slots"].as_u64().unwrap();
    wait_until(60, "every slot to LISTEN", || {
        site.pg
            .sql("SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN tilerun_jobs'")
            == slots.to_string()
    });
    site.submit(&site.inputs(1)).ok();
    // Sooner than the 120 s poll: only the NOTIFY can have woken it.
    w.wait_log(90, "the job to be done", |v| v["outcome"] == "done");
    let waited: f64 = site
        .pg
        .sql("SELECT extract(epoch FROM started_at - created_at) FROM tilerun.jobs")
        .parse()
        .unwrap();
    assert!(waited < 90.0, "{waited}");
    w.stop();
}

/// A server that accepts connections and never answers (a stopped or
/// wedged postmaster) is "unreachable" within the connect timeout, exit 2:
/// `status`, which monitoring runs, must not hang for good.
#[test]
fn a_server_that_never_answers_is_unreachable_not_a_hang() {
    let site = Site::new("");
    // Never accepted: the kernel completes the handshake, nobody answers.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = mute.local_addr().unwrap().port();
    let url = format!("postgresql://tilerun:{PASSWORD}@127.0.0.1:{port}/x?connect_timeout=1");
    let mut c = site.cmd(&["status", "--json", "--queue", &url]);
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("status hangs on a server that never answers");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = crate::util::Run(child.wait_with_output().unwrap());
    r.fails(2);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["reachable"], false);
    assert!(
        v["error"].as_str().unwrap().contains("no answer within 1s"),
        "{v}"
    );
    assert!(!r.stdout().contains(PASSWORD) && !r.stderr().contains(PASSWORD));
    drop(mute);
}

/// The oldest pending age is how long a due job has waited: a job
/// submitted long ago but requeued just now is not an hour-old backlog,
/// and one still in its retry backoff is not waiting yet.
#[test]
fn the_oldest_pending_age_counts_from_when_a_job_became_due() {
    let site = Site::new("");
    site.submit(&site.inputs(2)).ok();
    // Job 1: submitted an hour ago, requeued now; job 2: in backoff.
    site.pg.sql(
        "UPDATE tilerun.jobs SET created_at = now() - interval '1 hour' WHERE id = 1;
         UPDATE tilerun.jobs SET not_before = now() + interval '1 hour' WHERE id = 2",
    );
    let st = site.status();
    let age = st["oldest_pending_secs"].as_f64().unwrap();
    assert!(age < 600.0, "{st}");
    assert_eq!(st["counts"]["pending"], 2);
    // Waiting for 20 minutes since it became due: that is the age.
    site.pg
        .sql("UPDATE tilerun.jobs SET not_before = now() - interval '20 minutes' WHERE id = 1");
    let age = site.status()["oldest_pending_secs"].as_f64().unwrap();
    assert!((1190.0..1300.0).contains(&age), "{age}");
}

/// `tilerun status | head` may close the pipe before status writes: that
/// is the reader's choice, exit 0, not a panic (101).
#[test]
fn status_into_a_closed_pipe_is_not_a_panic() {
    let site = Site::new("");
    let mut c = site.cmd(&["status"]);
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
