//! The operator's side: `submit`, `requeue` and `cancel`. (`status` has
//! its own module.) Each opens the database like a worker does, so a bad
//! URL or an unreachable server is exit 2 naming it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use crate::config::Config;
use crate::error::{self, job, usage, Error};

use super::db::Db;
use super::jobs;
use crate::remote::s3::{is_s3, S3Uri};

/// What one submitted input (or set) became.
#[derive(Debug, serde::Serialize)]
pub struct Submitted {
    pub id: i64,
    /// The input, or a set's first member.
    pub input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    pub recipe: String,
    pub state: String,
    /// False when the same input (and content) was already queued with
    /// this recipe: its existing job is returned.
    pub created: bool,
}

/// Queue `inputs` with `recipe`: one job per input, or per set for a
/// recipe with `inputs` (see `group`). Waits out a database outage unless
/// `stop` is raised.
pub fn submit(
    db: &mut Db,
    cfg: &Config,
    inputs: &[String],
    recipe: &str,
    stop: &AtomicBool,
) -> Result<Vec<Submitted>, Error> {
    if cfg.source.is_some() && !cfg.recipes.contains_key(recipe) {
        let known: Vec<&str> = cfg.recipes.keys().map(String::as_str).collect();
        return Err(usage(format!(
            "--recipe: no recipe '{recipe}' in the config (known: {})",
            known.join(", ")
        )));
    }
    let mut found = Vec::with_capacity(inputs.len());
    for i in inputs {
        if is_s3(i) {
            found.extend(identify_s3(i)?);
        } else {
            found.push(identify(i)?);
        }
    }
    let decls = cfg.recipes.get(recipe).and_then(|r| r.inputs.as_ref());
    let (jobs, skipped) = super::group::jobs(decls, found)?;
    if !skipped.is_empty() {
        tracing::warn!(
            "not submitted: {} file(s) that no input of recipe '{recipe}' names: {}",
            skipped.len(),
            skipped.join(", ")
        );
    }
    enqueue(db, &jobs, recipe, stop)
}

/// Add `jobs` in one transaction (each, or the existing one) and wake workers.
pub fn enqueue(
    db: &mut Db,
    jobs: &[jobs::New],
    recipe: &str,
    stop: &AtomicBool,
) -> Result<Vec<Submitted>, Error> {
    db.run(stop, |c| {
        let mut out = Vec::with_capacity(jobs.len());
        let mut tx = c.transaction()?;
        for j in jobs {
            let (id, state, created) = jobs::submit(&mut tx, j, recipe)?;
            out.push(Submitted {
                id,
                input: j.input.clone(),
                set_key: j.set_key.clone(),
                members: j.members.clone(),
                recipe: recipe.to_string(),
                state,
                created,
            });
        }
        // Delivered at commit, so no worker wakes before the rows exist.
        jobs::notify(&mut tx)?;
        tx.commit()?;
        Ok(out)
    })
}

/// The input as stored (an absolute path, the same on every host that
/// shares the storage) and its content fingerprint: size and mtime, or
/// for a folder (a `.SAFE`) its file count, bytes and newest change.
pub fn identify(input: &str) -> Result<(String, String), Error> {
    let p = Path::new(input);
    let abs = std::fs::canonicalize(p).map_err(|e| error::io("cannot read input", p, e))?;
    let md = std::fs::metadata(&abs).map_err(|e| error::io("cannot read input", p, e))?;
    let fp = if md.is_dir() {
        tree_fingerprint(&abs).map_err(|e| error::io("cannot read input", p, e))?
    } else if md.is_file() {
        let (s, ns) = mtime(&md);
        format!("size={} mtime={s}.{ns:09}", md.len())
    } else {
        return Err(job(format!(
            "{}: not a regular file or folder",
            error::show(p)
        )));
    };
    let Some(s) = abs.to_str() else {
        return Err(job(format!(
            "{}: the queue stores UTF-8 paths only",
            error::show(p)
        )));
    };
    Ok((s.to_string(), fp))
}

fn mtime(md: &std::fs::Metadata) -> (i64, i64) {
    (md.mtime(), md.mtime_nsec())
}

/// A folder's content in one short line: any file added, removed, renamed
/// or rewritten changes its count, its bytes or the newest mtime (a folder's
/// own mtime moves when its entries change).
fn tree_fingerprint(dir: &Path) -> std::io::Result<String> {
    let (mut files, mut bytes) = (0u64, 0u64);
    let mut newest = mtime(&std::fs::metadata(dir)?);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let md = e.metadata()?;
            newest = newest.max(mtime(&md));
            if md.is_dir() {
                stack.push(e.path());
            } else {
                files += 1;
                bytes += md.len();
            }
        }
    }
    let (s, ns) = newest;
    Ok(format!(
        "tree files={files} bytes={bytes} newest={s}.{ns:09}"
    ))
}

/// Every object an `s3://` input (or pattern) names, with its fingerprint
/// (size and ETag); a key prefix (`s3://b/X.SAFE/`, or a name that turns
/// out to be one) is a folder delivery, identified by all its objects. A
/// bucket that cannot be reached is a usage error.
fn identify_s3(input: &str) -> Result<Vec<(String, String)>, Error> {
    use crate::remote::s3;
    let folder = s3::is_folder(input);
    let uri = input.strip_suffix('/').unwrap_or(input);
    crate::remote::s3::check_bucket(&S3Uri::parse(uri)?.bucket)?;
    if folder {
        return Ok(vec![s3::identify_folder(&S3Uri::parse(uri)?)?]);
    }
    s3::expand(input)?.iter().map(s3::identify).collect()
}

/// `requeue --dead` (ids None) or `requeue ID…`.
pub fn requeue(db: &mut Db, ids: Option<&[i64]>) -> Result<Vec<i64>, Error> {
    let never = AtomicBool::new(false);
    let done = db.run(&never, |c| {
        let done = jobs::requeue(c, ids)?;
        jobs::notify(c)?;
        Ok(done)
    })?;
    if let Some(ids) = ids {
        unchanged(
            db,
            ids,
            &done,
            "requeued (only dead, failed or cancelled jobs are)",
        )?;
    }
    Ok(done)
}

pub fn cancel(db: &mut Db, ids: &[i64]) -> Result<Vec<i64>, Error> {
    let never = AtomicBool::new(false);
    let done = db.run(&never, |c| jobs::cancel(c, ids))?;
    unchanged(
        db,
        ids,
        &done,
        "cancelled (only pending or running jobs are)",
    )?;
    Ok(done)
}

/// An error naming each id that was not changed, and why.
fn unchanged(db: &mut Db, ids: &[i64], done: &[i64], what: &str) -> Result<(), Error> {
    let left: Vec<i64> = ids.iter().copied().filter(|i| !done.contains(i)).collect();
    if left.is_empty() {
        return Ok(());
    }
    let never = AtomicBool::new(false);
    let states = db.run(&never, |c| jobs::states(c, &left))?;
    let why: Vec<String> = left
        .iter()
        .map(|id| match states.iter().find(|(i, _)| i == id) {
            Some((_, s)) => format!("job {id} is {s}"),
            None => format!("no job {id}"),
        })
        .collect();
    Err(job(format!("not {what}: {}", why.join(", "))))
}
