//! One claimed job on the worker's engine: resolve it with the worker's
//! config, write its output under the staged name, and report the result
//! as an [`Error`] whose kind decides what the queue does next.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::config::Config;
use crate::engine::job::JobError;
use crate::engine::Engine;
use crate::error::{job, Error};

use super::jobs::Claimed;
use crate::plan::recipe::JobSpec;
use crate::remote::parts::Stream;
use crate::remote::s3::{is_s3, S3Uri};

/// Where a job's output ends up.
pub enum Target {
    Local(PathBuf),
    S3(S3Uri),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Local(p) => write!(f, "{}", crate::error::show(p)),
            Target::S3(u) => write!(f, "{u}"),
        }
    }
}

/// A finished run, its output still under the staged name.
pub struct Staged {
    /// Where the commit puts it.
    pub target: Target,
    pub staged: PathBuf,
    pub pixels: u64,
    /// Uncompressed bytes the op read.
    pub bytes: u64,
    /// Seconds spent downloading S3 inputs (0 for local ones), then
    /// computing: with the commit's own, where a job's time went.
    pub fetch_secs: f64,
    pub compute_secs: f64,
    /// An S3 output's upload, its parts sent while the engine wrote them;
    /// finished (and the key made) by the commit, aborted if dropped.
    pub stream: Option<Stream>,
}

/// This run's scratch folder (S3 inputs and outputs pass through it):
/// per token, as a job reclaimed by another slot of this process after a
/// lapsed lease must not share files with its first run.
pub fn scratch_for(scratch: &Path, j: &Claimed) -> PathBuf {
    let short: String = j.token.chars().take(8).collect();
    scratch.join(format!("job{}-{short}", j.id))
}

/// Run the job, its output written under the staged name. `record` notes
/// an S3 upload in the job's row before its first part goes up.
pub fn run(
    engine: &Engine,
    cfg: &Config,
    scratch: &Path,
    j: &Claimed,
    cancel: &Arc<AtomicBool>,
    stop: &AtomicBool,
    record: &mut dyn FnMut(&str) -> Result<(), Error>,
) -> Result<Staged, Error> {
    let scratch = scratch_for(scratch, j);
    let t0 = std::time::Instant::now();
    let (files, from_s3) = fetch(&j.members, &scratch)?;
    let fetch_secs = t0.elapsed().as_secs_f64();
    // A set's files resolve exactly as `tilerun FILE… --recipe R` would:
    // by pattern, the output named by the set key.
    let request = crate::plan::Request::recipe(files, &j.recipe);
    let mut spec = crate::plan::recipe::resolve(&request, cfg)?;
    let target = target(cfg, &spec.output, from_s3.as_ref())?;
    let staged = match &target {
        Target::Local(p) => super::stage::staged_path(p, j.id, &j.token),
        Target::S3(u) => {
            std::fs::create_dir_all(&scratch)
                .map_err(|e| crate::error::io("creating", &scratch, e))?;
            super::stage::staged_path(&scratch.join(u.name()), j.id, &j.token)
        }
    };
    spec.output = staged.clone();
    // The engine's own id: a job reclaimed by another slot of this process
    // (after a lease lapsed) must not share an id with its first run.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let engine_id = SEQ.fetch_add(1, Ordering::Relaxed);
    let prepared = crate::plan::prepare::prepare(&spec, engine_id, Arc::clone(cancel))?;
    for w in &prepared.warnings {
        tracing::warn!(job = j.id, "{}: {w}", j.shown());
    }
    let ctx = prepared.ctx;
    let stream = stream_for(&target, &spec, &staged, &ctx)?;
    if let Some(s) = &stream {
        record(&s.handle())?;
    }
    let outcome = engine.run(&ctx, &prepared.outcome, || {
        if stop.load(Ordering::SeqCst) {
            cancel.store(true, Ordering::SeqCst);
        }
    });
    let Some(outcome) = outcome else {
        return Err(job("internal error: the pipeline stopped"));
    };
    for w in &outcome.warnings {
        tracing::warn!(job = j.id, "{}: GDAL: {w}", j.shown());
    }
    match outcome.result {
        Ok(summary) => Ok(Staged {
            target,
            staged,
            pixels: summary.pixels,
            bytes: (summary.pixels as f64 * ctx.sample_bytes()) as u64,
            fetch_secs,
            compute_secs: t0.elapsed().as_secs_f64() - fetch_secs,
            stream,
        }),
        Err(JobError::Cancelled) => Err(Error::interrupted()),
        Err(JobError::Failed(e)) => Err(e.context(j.shown())),
    }
}

/// Local paths for the job's files (S3 members downloaded into `scratch`)
/// and the first S3 member, beside which an output may go.
fn fetch(members: &[String], scratch: &Path) -> Result<(Vec<PathBuf>, Option<S3Uri>), Error> {
    let mut files = Vec::with_capacity(members.len());
    let mut first_s3 = None;
    for m in members {
        if !is_s3(m) {
            files.push(PathBuf::from(m));
            continue;
        }
        // A folder delivery (`s3://b/X.SAFE/`) comes down whole, as
        // scratch/X.SAFE/…, and is read as the local folder it then is.
        let folder = crate::remote::s3::is_folder(m);
        let uri = S3Uri::parse(m.strip_suffix('/').unwrap_or(m))?;
        std::fs::create_dir_all(scratch).map_err(|e| crate::error::io("creating", scratch, e))?;
        let local = scratch.join(uri.name());
        if folder {
            crate::remote::s3::download_tree(&uri, &local)?;
        } else {
            crate::remote::s3::download(&uri, &local)?;
        }
        files.push(local);
        first_s3.get_or_insert(uri);
    }
    Ok((files, first_s3))
}

/// Where the output goes: `[output] dir` (a folder or an s3:// prefix),
/// else beside the input (its S3 "folder" for an S3 input).
fn target(cfg: &Config, resolved: &Path, from_s3: Option<&S3Uri>) -> Result<Target, Error> {
    let name = resolved
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = cfg.output.dir.as_ref().and_then(|d| d.to_str());
    Ok(match (dir, from_s3) {
        (Some(d), _) if is_s3(d) => Target::S3(S3Uri::in_dir(d, &name)?),
        (None, Some(uri)) => Target::S3(uri.sibling(&name)),
        _ => Target::Local(resolved.to_path_buf()),
    })
}

/// A GeoTIFF for S3 starts its upload now, to send parts while it is
/// written (other formats are written whole, then converted: they go up
/// at the commit).
fn stream_for(
    target: &Target,
    spec: &JobSpec,
    staged: &Path,
    ctx: &crate::engine::job::JobCtx,
) -> Result<Option<Stream>, Error> {
    let Target::S3(uri) = target else {
        return Ok(None);
    };
    if spec.format != crate::sink::format::Format::GTiff {
        return Ok(None);
    }
    let name = staged.file_name().unwrap_or_default().to_string_lossy();
    let temp = format!(".{name}{}", crate::sink::temp_file::TEMP_MARKER);
    // Its size if nothing compressed, with a full pyramid (+1/3).
    let g = ctx.grid_meta();
    let px = (g.width * g.height) as f64 * ctx.op.out_bands() as f64;
    let raw = px * ctx.output.out_type.size() as f64 * 4.0 / 3.0;
    Stream::start(uri, staged, temp, raw as u64)
}

/// Put the staged output at its target: a rename, the completion of an
/// upload whose parts are all sent, or a whole upload through GDAL (which
/// a raised `stop` aborts). True when a local file was replaced; an S3 key
/// is overwritten as S3 does, unreported (knowing would cost a HEAD).
pub fn place(
    staged: &Path,
    target: &Target,
    stream: &mut Option<Stream>,
    stop: &AtomicBool,
) -> Result<bool, Error> {
    let u = match target {
        Target::Local(p) => return super::stage::place(staged, p),
        Target::S3(u) => u,
    };
    match stream.take() {
        Some(s) => {
            let sent = s.complete()?;
            tracing::info!(output = %u, parts = sent.parts, early = sent.early,
                resent = sent.resent, "uploaded in {} parts, {} of them while writing",
                sent.parts, sent.early);
        }
        None => {
            crate::remote::s3::upload(staged, u, stop)?;
        }
    }
    let _ = std::fs::remove_file(staged);
    Ok(false)
}
