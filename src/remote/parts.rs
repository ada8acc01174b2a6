//! An S3 output uploaded while the engine is still writing it.
//!
//! Why: an output used to be written locally, then uploaded through GDAL,
//! strictly after the last window (2.45 s for a 187 MB NDVI on loopback,
//! as long as the computing). GDAL 3.6's `/vsis3/` writer numbers the
//! parts of a multipart upload itself, in file order, and a GeoTIFF's
//! start (header, directory, block index) is final only at close while
//! its tiles are appended and final as soon as written. So this module
//! drives the multipart upload itself (rusty-s3 signs, ureq sends): a
//! follower thread sends every [`PART`] of appended bytes as parts 2, 3, …
//! while the writer works; at the commit part 1 (the first [`PART`], the
//! header with it) and the tail go up, and the upload is completed inside
//! the commit's transaction, so the key still appears only at the fenced
//! commit. Every part sent early is checked against the final file
//! (CRC-32) and sent again if a byte changed, so the result never rests on
//! how libtiff lays a file out. A stream that is dropped unfinished (job
//! failed, cancelled, fenced off) aborts its upload.
//!
//! Only credentials given as `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//! (and `AWS_SESSION_TOKEN`) are used here; with any other source
//! (profiles, instance roles, `AWS_NO_SIGN_REQUEST`) [`Stream::start`]
//! answers None and the output goes up through GDAL after the write.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::client::Store;
use super::s3::S3Uri;
use crate::error::{transient, Error, Kind};

/// Bytes per part (S3 wants at least 5 MiB for every part but the last).
const PART: u64 = 16 << 20;

/// [`PART`], or larger for an output that could need more than 9,000
/// parts (S3 takes 10,000) when it does not compress (`size_hint`, its
/// uncompressed bytes); `TILERUN_TEST_S3_PART_BYTES` overrides it (a test
/// hook: small parts against a moto told to accept them).
fn part_size(size_hint: u64) -> u64 {
    let test = std::env::var("TILERUN_TEST_S3_PART_BYTES").ok();
    if let Some(n) = test.and_then(|v| v.parse().ok()) {
        return n;
    }
    PART.max(size_hint.div_ceil(9_000).next_multiple_of(1 << 20))
}
/// A part sent while the file was being written.
struct Part {
    number: u16,
    at: u64,
    crc: u32,
    etag: String,
}

/// How an upload went, for the job's log line.
pub struct Sent {
    pub parts: usize,
    pub early: usize,
    pub resent: usize,
}

pub struct Stream {
    store: Arc<Store>,
    uri: String,
    finished: Arc<AtomicBool>,
    follower: Option<JoinHandle<Result<Vec<Part>, String>>>,
    /// Bytes per part, the same for the follower and the commit.
    part: u64,
    /// Every part's ETag, in order, once all are sent.
    ready: Option<Ready>,
    completed: bool,
}

type Ready = (Vec<String>, Sent);

fn read_at(f: &File, at: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, at)?;
    Ok(buf)
}

impl Stream {
    /// Open a multipart upload for `uri` and follow the file written for
    /// `staged`: first the engine's temp file beside it (the name starting
    /// with `temp_prefix`), then `staged` itself. None when the credentials
    /// are not in the environment (GDAL uploads after the write).
    pub fn start(
        uri: &S3Uri,
        staged: &Path,
        temp_prefix: String,
        size_hint: u64,
    ) -> Result<Option<Stream>, Error> {
        let fail = |e: String| transient(format!("{uri}: starting the upload: {e}"));
        let Some(store) = Store::create(&uri.bucket, &uri.key).map_err(fail)? else {
            return Ok(None);
        };
        let (store, part) = (Arc::new(store), part_size(size_hint));
        let finished = Arc::new(AtomicBool::new(false));
        let (s, f, staged) = (
            Arc::clone(&store),
            Arc::clone(&finished),
            staged.to_path_buf(),
        );
        let follower = std::thread::Builder::new()
            .name("tilerun-upload".into())
            .spawn(move || follow(&s, part, &staged, &temp_prefix, &f))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Some(Stream {
            store,
            uri: uri.to_string(),
            finished,
            follower: Some(follower),
            part,
            ready: None,
            completed: false,
        }))
    }

    /// How to find this upload again, to abort it after a crash:
    /// "bucket\nkey\nupload id" (keys hold no control characters).
    pub fn handle(&self) -> String {
        let s = &self.store;
        format!("{}\n{}\n{}", s.bucket_name(), s.key, s.upload_id)
    }

    /// The file is final at `staged`: check the parts sent early and send
    /// what is left, all but the completion (the commit's, see
    /// [`Stream::complete`]). A raised `stop` between parts ends it as
    /// Interrupted; on any failure the upload is aborted and the error
    /// says so.
    pub fn send_rest(&mut self, staged: &Path, stop: &AtomicBool) -> Result<(), Error> {
        match self.send_rest_inner(staged, stop) {
            Ok(ready) => {
                self.ready = Some(ready);
                Ok(())
            }
            Err(mut e) => {
                self.completed = true;
                e.msg += &match self.store.abort() {
                    Ok(()) => "; the partial upload was aborted".to_string(),
                    Err(a) => format!("; aborting the partial upload failed too ({a})"),
                };
                Err(e)
            }
        }
    }

    /// Complete the upload: the key appears now. Called inside the
    /// commit's transaction, after the lease check and before the job is
    /// marked done there.
    pub fn complete(mut self) -> Result<Sent, Error> {
        let Some((etags, sent)) = self.ready.take() else {
            return Err(transient(format!("{}: nothing sent yet", self.uri)));
        };
        let r = self.store.complete(&etags);
        self.completed = r.is_ok();
        r.map(|()| sent)
            .map_err(|e| transient(format!("{}: completing the upload: {e}", self.uri)))
    }

    fn send_rest_inner(&mut self, staged: &Path, stop: &AtomicBool) -> Result<Ready, Error> {
        let uri = self.uri.clone();
        // A request cut short by a stop is the stop's, not the store's.
        let fail = |e: String| match stop.load(Ordering::SeqCst) {
            true => Error::new(Kind::Interrupted, format!("{uri}: upload stopped ({e})")),
            false => transient(format!("{uri}: uploading: {e}")),
        };
        self.finished.store(true, Ordering::SeqCst);
        let early = match self.follower.take().map(|h| h.join()) {
            Some(Ok(r)) => r.map_err(fail)?,
            _ => return Err(fail("the upload thread failed".into())),
        };
        let f = File::open(staged).map_err(|e| fail(format!("{}: {e}", staged.display())))?;
        let len = f.metadata().map_err(|e| fail(e.to_string()))?.len();
        let read = |at: u64, n: u64| read_at(&f, at, n).map_err(|e| fail(e.to_string()));
        // Before each part: the test hook's delay, then a stop ends it.
        let pace = || {
            if let Some(d) = super::s3::test_chunk_delay() {
                std::thread::sleep(d);
            }
            match stop.load(Ordering::SeqCst) {
                true => Err(fail("between parts".into())),
                false => Ok(()),
            }
        };
        pace()?;
        let part = self.part;
        let first = read(0, part.min(len))?;
        let mut etags = vec![self.store.put_part(1, &first).map_err(fail)?];
        let mut resent = 0;
        for p in &early {
            if p.at + part > len {
                return Err(fail(format!("the output shrank below part {}", p.number)));
            }
            let bytes = read(p.at, part)?;
            if crc32fast::hash(&bytes) == p.crc {
                etags.push(p.etag.clone());
                continue;
            }
            // Rewritten since it went up: send it again under its number,
            // which replaces it.
            pace()?;
            resent += 1;
            etags.push(self.store.put_part(p.number, &bytes).map_err(fail)?);
        }
        let mut at = part + part * early.len() as u64;
        while at < len {
            pace()?;
            let n = part.min(len - at);
            let number =
                u16::try_from(etags.len() + 1).map_err(|_| fail("over 65535 parts".into()))?;
            etags.push(self.store.put_part(number, &read(at, n)?).map_err(fail)?);
            at += n;
        }
        let sent = Sent {
            parts: etags.len(),
            early: early.len() - resent,
            resent,
        };
        Ok((etags, sent))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.finished.store(true, Ordering::SeqCst);
        if let Some(h) = self.follower.take() {
            let _ = h.join();
        }
        if !self.completed {
            if let Err(e) = self.store.abort() {
                tracing::warn!(
                    "{}: aborting the upload failed ({e}); a bucket lifecycle rule \
                    (AbortIncompleteMultipartUpload) removes its parts",
                    self.uri
                );
            }
        }
    }
}

/// Abort the upload a [`Stream::handle`] names (one a killed run left
/// open). An upload already gone (completed, aborted) counts as done.
pub fn abort_handle(handle: &str) -> Result<(), String> {
    // Bucket names and upload ids hold no newline; split around the key.
    let parts = handle
        .split_once('\n')
        .and_then(|(b, rest)| rest.rsplit_once('\n').map(|(k, id)| (b, k, id)));
    let Some((bucket_name, key, upload_id)) = parts else {
        return Err(format!("unreadable upload handle {handle:?}"));
    };
    let Some(store) = Store::existing(bucket_name, key, upload_id)? else {
        return Err("the S3 credentials are not in the AWS_* variables".into());
    };
    match store.abort() {
        Err(e) if e.contains("HTTP 404") => Ok(()),
        r => r,
    }
}

/// The file the engine is writing for `staged`: its temp name, or
/// `staged` once renamed. An open handle follows the file through that
/// rename.
fn find(staged: &Path, temp: &str) -> Option<File> {
    let dir = staged.parent()?;
    let found: Option<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            // Not a sidecar GDAL may write beside it (`.aux.xml`, `.msk`).
            n.starts_with(temp) && n.ends_with(".tif")
        })
        .map(|e| e.path());
    found
        .and_then(|p| File::open(p).ok())
        .or_else(|| File::open(staged).ok())
}

/// Send each whole [`PART`] past the first as the file grows, until the
/// writer is done; returns what went up.
fn follow(
    store: &Store,
    part: u64,
    staged: &Path,
    temp: &str,
    finished: &AtomicBool,
) -> Result<Vec<Part>, String> {
    let mut file = None;
    let mut parts: Vec<Part> = Vec::new();
    loop {
        let last_look = finished.load(Ordering::SeqCst);
        if last_look {
            return Ok(parts);
        }
        if file.is_none() {
            file = find(staged, temp);
        }
        if let Some(f) = &file {
            let len = f.metadata().map_err(|e| e.to_string())?.len();
            let mut at = part + part * parts.len() as u64;
            while at + part <= len && !finished.load(Ordering::SeqCst) {
                let bytes = read_at(f, at, part).map_err(|e| e.to_string())?;
                let number = u16::try_from(parts.len() + 2).map_err(|e| e.to_string())?;
                let etag = match store.put_part(number, &bytes) {
                    Ok(etag) => etag,
                    Err(e) => {
                        // The commit sends the rest (and retries then).
                        tracing::warn!(
                            "{}: part {number} failed while writing ({e}); \
                            the rest goes up at the commit",
                            store.key
                        );
                        return Ok(parts);
                    }
                };
                parts.push(Part {
                    number,
                    at,
                    crc: crc32fast::hash(&bytes),
                    etag,
                });
                at += part;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_so_an_output_never_needs_more_than_9000() {
        assert_eq!(part_size(0), PART);
        assert_eq!(part_size(100 << 30), PART);
        let huge = 500u64 << 30;
        let p = part_size(huge);
        assert!(
            p > PART && p.is_multiple_of(1 << 20) && huge.div_ceil(p) <= 9_000,
            "{p}"
        );
    }
}
