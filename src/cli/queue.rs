//! The queue subcommands: `submit`, `worker`, `status`, `requeue`,
//! `cancel`. Flags over `[queue]` in the config; the work is in
//! `crate::queue`.

use crate::cli::args::{Command, Common, QueueArgs};
use crate::config::queue::QueueConfig;
use crate::config::Config;
use crate::error::{usage, Error};
use crate::queue::Db;

pub fn common(c: &Command) -> &Common {
    match c {
        Command::Watch { common, .. }
        | Command::Submit { common, .. }
        | Command::Worker { common, .. }
        | Command::Status { common, .. }
        | Command::Requeue { common, .. }
        | Command::Cancel { common, .. } => common,
    }
}

fn config(common: &Common) -> Result<Config, Error> {
    let path = crate::config::locate(common.config.as_deref()).map_err(usage)?;
    crate::config::load(path.as_deref()).map_err(usage)
}

/// The URL: `--queue` / `$TILERUN_QUEUE`, else `[queue] url`.
fn url(args: &QueueArgs, cfg: &Config) -> Result<String, Error> {
    args.queue
        .clone()
        .or_else(|| cfg.queue.url.clone())
        .ok_or_else(|| usage("no queue: give --queue postgresql://… or set [queue] url"))
}

pub fn run(c: &Command) -> Result<(), Error> {
    let cfg = config(common(c))?;
    match c {
        Command::Watch { .. } => unreachable!("dispatched by cli::run"),
        Command::Submit {
            inputs,
            recipe,
            queue,
            json,
            ..
        } => {
            let mut db = Db::open(&url(queue, &cfg)?)?;
            crate::gdal::env::init(cfg.engine.gdal_cachemax_mb);
            crate::remote::s3::set_stall_limit(cfg.queue.store_stall_secs);
            let never = std::sync::atomic::AtomicBool::new(false);
            for s in crate::queue::admin::submit(&mut db, &cfg, inputs, recipe, &never)? {
                if *json {
                    println!("{}", serde_json::to_string(&s).unwrap_or_default());
                } else {
                    // The same input and content again finds its job, even a
                    // finished one: say how to run that one again.
                    let how = match (s.created, s.state.as_str()) {
                        (true, _) => "queued".to_string(),
                        (false, "pending" | "running" | "done") => "already queued".into(),
                        (false, _) => format!("exists, `tilerun requeue {}` runs it again", s.id),
                    };
                    let what = match (&s.set_key, &s.members) {
                        (Some(k), Some(m)) => format!("set {k} ({} files)", m.len()),
                        _ => s.input.clone(),
                    };
                    println!("job {} {how} ({}): {} {what}", s.id, s.state, s.recipe);
                }
            }
            Ok(())
        }
        Command::Worker {
            queue,
            lease_secs,
            max_attempts,
            backoff_secs,
            poll_secs,
            threads,
            jobs,
            metrics,
            ..
        } => {
            let url = url(queue, &cfg)?;
            let q = QueueConfig {
                url: None,
                lease_secs: lease_secs.unwrap_or(cfg.queue.lease_secs),
                max_attempts: max_attempts.unwrap_or(cfg.queue.max_attempts),
                backoff_secs: backoff_secs.unwrap_or(cfg.queue.backoff_secs),
                poll_secs: poll_secs.unwrap_or(cfg.queue.poll_secs),
                jobs: jobs.unwrap_or(cfg.queue.jobs),
                store_pause_secs: cfg.queue.store_pause_secs,
                store_stall_secs: cfg.queue.store_stall_secs,
            };
            q.check().map_err(|e| usage(e.replace("[queue] ", "--")))?;
            let mut cfg = cfg;
            if let Some(t) = threads {
                cfg.engine.workers = *t;
            }
            let listen = metrics.clone().or(cfg.metrics.listen.clone());
            crate::gdal::env::init(cfg.engine.gdal_cachemax_mb);
            crate::remote::s3::set_stall_limit(q.store_stall_secs);
            crate::queue::worker::run(&url, cfg, q, listen.as_deref())
        }
        Command::Status { queue, json, .. } => status(&url(queue, &cfg)?, *json),
        Command::Requeue {
            dead, ids, queue, ..
        } => {
            let mut db = Db::open(&url(queue, &cfg)?)?;
            let ids = (!*dead).then_some(ids.as_slice());
            let done = crate::queue::admin::requeue(&mut db, ids)?;
            println!("requeued {} job(s): {}", done.len(), list(&done));
            Ok(())
        }
        Command::Cancel { ids, queue, .. } => {
            let mut db = Db::open(&url(queue, &cfg)?)?;
            let done = crate::queue::admin::cancel(&mut db, ids)?;
            println!("cancelled {} job(s): {}", done.len(), list(&done));
            Ok(())
        }
    }
}

fn list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")
}

/// Print the status; an unreachable database is reported (text or JSON)
/// and then exits 2 like every other start-up failure.
fn status(url: &str, json: bool) -> Result<(), Error> {
    let st = match Db::open(url) {
        Ok(mut db) => {
            let shown = db.shown().to_string();
            let never = std::sync::atomic::AtomicBool::new(false);
            db.run(&never, |c| crate::queue::status::read(c, &shown))?
        }
        Err(e) => {
            let st = crate::queue::status::Status {
                queue: crate::queue::db::shown_url(url),
                error: Some(e.msg.clone()),
                ..Default::default()
            };
            print(&st, json);
            return Err(e);
        }
    };
    print(&st, json);
    Ok(())
}

/// Written, not `print!`ed: `tilerun status | head` closes the pipe early,
/// which is the reader's choice, not a panic of ours.
fn print(st: &crate::queue::status::Status, json: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = if json {
        writeln!(out, "{}", serde_json::to_string(st).unwrap_or_default())
    } else {
        write!(out, "{st}")
    };
}
