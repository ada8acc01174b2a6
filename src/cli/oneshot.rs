//! `tilerun INPUT`: run one job through a fresh engine, with a progress bar
//! on a TTY and an optional one-line JSON summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{Common, RunArgs};
use crate::engine::job::{JobCtx, JobError};
use crate::engine::Engine;
use crate::error::{job, usage, Error};

pub fn run(files: &[PathBuf], args: &RunArgs, common: &Common) -> Result<(), Error> {
    let cfg_path = crate::config::locate(common.config.as_deref()).map_err(usage)?;
    let cfg = crate::config::load(cfg_path.as_deref()).map_err(usage)?;
    crate::gdal::env::init(args.cache_max.unwrap_or(cfg.engine.gdal_cachemax_mb));
    if let Some(name) = &args.recipe {
        crate::plan::check::recipe(&cfg, name)?;
    }
    let spec = crate::plan::recipe::resolve(&args.request(files)?, &cfg)?;
    let input = spec.input.as_path();
    let interrupted = crate::engine::shutdown::install()
        .map_err(|e| job(format!("installing signal handlers: {e}")))?;
    let prepared = crate::plan::prepare::prepare(&spec, 1, Arc::clone(&interrupted))?;
    for w in &prepared.warnings {
        tracing::warn!("{}: {w}", crate::error::show(input));
    }
    let ctx = prepared.ctx;
    let workers = args.workers.unwrap_or(cfg.engine.workers);
    let engine = Engine::start(workers).map_err(|e| job(format!("starting threads: {e}")))?;
    let started = Instant::now();
    let bar = progress(&ctx, args.quiet || args.json);
    let outcome = engine.run(&ctx, &prepared.outcome, || {
        if let Some(b) = &bar {
            let px = ctx.done_pixels.load(Ordering::Relaxed) as f64;
            let rate = px / started.elapsed().as_secs_f64().max(1e-3) / 1e6;
            b.set_position(ctx.done_windows.load(Ordering::Relaxed) as u64);
            b.set_message(format!("{rate:.1} Mpx/s"));
        }
    });
    let n_workers = engine.workers();
    engine.shutdown();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    let Some(outcome) = outcome else {
        return Err(job(format!(
            "{}: internal error: the pipeline stopped",
            crate::error::show(input)
        )));
    };
    for w in &outcome.warnings {
        tracing::warn!("{}: GDAL: {w}", crate::error::show(input));
    }
    match outcome.result {
        Ok(summary) => {
            let own = summary.warnings(&ctx.output);
            for w in &own {
                tracing::warn!("{}: {w}", crate::error::show(input));
            }
            if args.json {
                // Uncompressed input bytes the op read: its bands at their own sample size.
                let sample_bytes = ctx.sample_bytes();
                let bytes_in = summary.pixels as f64 * sample_bytes;
                let warnings: Vec<&String> = prepared
                    .warnings
                    .iter()
                    .chain(&outcome.warnings)
                    .chain(&own)
                    .collect();
                // Values the op chose itself (e.g. the terrain scale).
                let resolved: serde_json::Map<String, serde_json::Value> = ctx
                    .op
                    .resolved()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.into()))
                    .collect();
                // Lossy: serde refuses (and json! panics on) non-UTF-8 paths.
                let line = serde_json::json!({
                    "input": summary.input.to_string_lossy(),
                    "output": summary.output.to_string_lossy(),
                    "windows": summary.windows,
                    "pixels": summary.pixels,
                    "workers": n_workers,
                    "seconds": (secs * 1000.0).round() / 1000.0,
                    "mpix_per_s": (summary.pixels as f64 / secs / 1e6 * 100.0).round() / 100.0,
                    "mb_per_s": (bytes_in / secs / 1e6 * 100.0).round() / 100.0,
                    "saturated": summary.conversion.saturated,
                    "nudged": summary.conversion.nudged,
                    "resolved": resolved,
                    "warnings": warnings,
                });
                println!("{line}");
            }
            Ok(())
        }
        Err(JobError::Cancelled) if interrupted.load(Ordering::SeqCst) => Err(Error::interrupted()),
        Err(e) => Err(job(format!("{}: {e}", crate::error::show(input)))),
    }
}

fn progress(ctx: &JobCtx, quiet: bool) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(ctx.windows.len() as u64);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} windows, {msg} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}
