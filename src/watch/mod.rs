//! `tilerun watch`: the drop-folder daemon.
//!
//! A file's life: it lands in the inbox (by rename, or by a copy that has
//! settled), is claimed by an atomic rename into work/ (the only way a file
//! is ever processed, so two daemons never process one file twice), runs
//! through the shared long-lived engine, and ends in done/ or, with a
//! `NAME.error.json`, in failed/. Everything here is about never losing,
//! repeating or half-writing a file across crashes, signals and full disks.
//!
//! Module map: `scan` (when a file is complete), `watcher` (inotify),
//! `claim` (atomic moves, lock, sweep), `feeder` (prepare + feed thread),
//! `daemon` (the main loop), `inbox` (what to do with each name), `outcome`
//! (how attempts end; retries decided by the error's kind), `finish`
//! (done/failed/retry and the per-file log line), `errors` (watch limits),
//! `sdnotify` (systemd), `log` (journald/JSON). The `[watch]` table itself
//! is `crate::config::watch`.

pub mod claim;
pub mod daemon;
mod enqueue;
pub mod errors;
pub mod feeder;
pub mod finish;
mod gather;
mod inbox;
pub mod log;
mod outcome;
pub mod scan;
pub mod sdnotify;
mod sets;
mod stopping;
pub mod watcher;

use std::time::Instant;

use crate::error::{job, usage, Error};

/// Run the daemon until SIGTERM/SIGINT; Ok(()) after a graceful stop.
pub fn run(config: Option<&std::path::Path>, metrics: Option<&str>) -> Result<(), Error> {
    let cfg_path = crate::config::locate(config).map_err(usage)?;
    let mut cfg = crate::config::load(cfg_path.as_deref()).map_err(usage)?;
    // The whole config is checked before anything exists on disk: every
    // recipe (GDAL's driver lists judge their creation options), then the
    // folders, which `settle` creates only once all of it has passed.
    crate::gdal::env::init(cache_mb(cfg.engine.gdal_cachemax_mb));
    crate::plan::check::all(&cfg)?;
    let s = crate::config::watch::settle(&cfg).map_err(usage)?;
    // Outputs named by recipe templates land in the watch output folder.
    cfg.output.dir = Some(s.output.clone());
    let _lock = claim::lock(&s.work).map_err(job)?;
    let stop = crate::engine::shutdown::install()
        .map_err(|e| job(format!("installing signal handlers: {e}")))?;
    // Order matters: the watch exists before anything is listed, so a file
    // that lands during start-up is seen by the watch, the scan, or both.
    // `[queue] url` turns the hand-over on; the URL itself, password and
    // all, may come from $TILERUN_QUEUE (a root-only EnvironmentFile), as
    // for the other queue commands, so config.toml need not hold it.
    let queue = match &cfg.queue.url {
        Some(url) => {
            let env = std::env::var("TILERUN_QUEUE").ok();
            Some(enqueue::open(
                env.as_deref().filter(|u| !u.is_empty()).unwrap_or(url),
            )?)
        }
        None => None,
    };
    if let Some(addr) = metrics.or(cfg.metrics.listen.as_deref()) {
        crate::metrics::serve(addr, None)?;
    }
    let mut d = daemon::Daemon::new(s.clone(), cfg, stop)?;
    d.queue = queue;
    for dir in [&s.output, &s.failed] {
        for p in claim::sweep_temps(dir) {
            tracing::info!(path = %scan::esc(p.as_os_str()), "removed a stray temp file");
        }
    }
    sweep_spools(&s.output);
    enqueue::replay(&mut d);
    let requeued = requeue(&mut d)?;
    let found = d.rescan(Instant::now())?;
    let status = format!(
        "watching {}: startup scan found {found} files, re-queued {requeued} from work/",
        scan::esc(s.inbox.as_os_str())
    );
    tracing::info!(
        inbox = %scan::esc(s.inbox.as_os_str()),
        found,
        requeued,
        poll = s.poll.is_some(),
        "ready"
    );
    d.notifier.ready(&status);
    let res = d.run();
    sdnotify::flush();
    res
}

/// Put files left in work/ back in the queue, failing those that have
/// been interrupted `max_attempts` times (a file that kills the daemon).
fn requeue(d: &mut daemon::Daemon) -> Result<usize, Error> {
    let s = d.s.clone();
    let names = claim::leftovers(&s.work).map_err(|e| job(format!("{}: {e}", s.work.display())))?;
    let mut n = 0;
    for name in names {
        let recipe = s.recipe_for(&name).map(str::to_string);
        // A set member waits for its set again (its strikes are the set's).
        if let Some(r) = recipe.as_deref().filter(|r| d.is_member(r, &name)) {
            let r = r.to_string();
            tracing::info!(input = %scan::esc(&name), "re-grouped from work/");
            d.on_member(&r, name, Instant::now(), 1);
            n += 1;
            continue;
        }
        let strikes = claim::strikes(&s.work, &name);
        let cause = match (&recipe, strikes >= s.max_attempts) {
            (None, _) => {
                Some("left in work/, and no [watch] rule matches its name any more".into())
            }
            (Some(_), true) => Some(format!(
                "processing was interrupted {strikes} times (the daemon crashed or was killed \
                 while working on this file)"
            )),
            _ => None,
        };
        if let Some(cause) = cause {
            claim::set_strikes(&s.work, &name, 0);
            let rec =
                finish::Record::refused(&name, recipe.as_deref().unwrap_or(""), strikes, &cause);
            finish::to_failed(&s, &s.work.join(&name), &rec).map_err(|e| {
                job(format!(
                    "moving {} to failed/: {e}",
                    s.work.join(&name).display()
                ))
            })?;
            finish::log(&rec, finish::Verdict::Failed, None);
            continue;
        }
        tracing::info!(input = %scan::esc(&name), strikes, "re-queued from work/");
        let item = d.item(name, recipe.unwrap_or_default(), strikes + 1);
        d.backlog.push_back(item);
        n += 1;
    }
    Ok(n)
}

/// Remove `.tar.gz` spool folders a killed daemon left in the output folder.
fn sweep_spools(dir: &std::path::Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with(".tilerun-spool-")
            && std::fs::remove_dir_all(e.path()).is_ok()
        {
            tracing::info!(path = %scan::esc(e.path().as_os_str()), "removed a stray spool folder");
        }
    }
}

/// `$GDAL_CACHEMAX` (set in the unit) wins over the config, as GDAL's own
/// options do everywhere else in tilerun: it is the operator's box.
fn cache_mb(config_mb: usize) -> usize {
    match std::env::var("GDAL_CACHEMAX")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        // GDAL reads values below 100000 as megabytes, above as bytes.
        Some(v) if v < 100_000 => v,
        Some(v) => v / (1024 * 1024),
        None => config_mb,
    }
}
