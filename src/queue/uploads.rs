//! Multipart uploads a run left open, found again through the job's row.
//!
//! Why: an S3 output's upload opens when the job starts (its parts go up
//! while the engine writes), and a store keeps, and bills, the parts of an
//! upload until it is completed or aborted. A run that ends normally
//! completes or aborts its own; a run that is killed (`kill -9`, a lost
//! host) cannot, and a run's abort can fail (the store being down is the
//! usual reason a run fails). So each run notes its upload in the job's
//! row before the first part, and the run that claims the job next aborts
//! every upload noted there before it starts (one already gone counts as
//! aborted); the commit clears the list. A bucket lifecycle rule
//! (`AbortIncompleteMultipartUpload`) stays the backstop for a job that is
//! never claimed again.

use std::sync::atomic::AtomicBool;

use super::db::Db;
use super::jobs::{self, Claimed};
use crate::error::{job, Error};

/// Abort what earlier runs of `j` left open, and forget them.
pub fn abort_stale(db: &mut Db, j: &Claimed, stop: &AtomicBool) {
    if j.stale_uploads.is_empty() {
        return;
    }
    let mut gone = Vec::new();
    for h in &j.stale_uploads {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let shown = h.splitn(3, '\n').take(2).collect::<Vec<_>>().join("/");
        match crate::remote::parts::abort_handle(h) {
            Ok(()) => {
                tracing::info!(
                    job = j.id,
                    "aborted the upload of s3://{shown} an earlier run left open"
                );
                gone.push(h.clone());
            }
            Err(e) => tracing::warn!(
                job = j.id,
                "aborting the upload of s3://{shown} an earlier \
                run left open: {e}; a bucket lifecycle rule will have to remove its parts"
            ),
        }
    }
    if gone.is_empty() {
        return;
    }
    if let Err(e) = db.run(stop, |c| jobs::forget_uploads(c, j.id, &gone)) {
        tracing::warn!(job = j.id, "forgetting aborted uploads: {}", e.msg);
    }
}

/// Note this run's upload before its first part goes up. A run whose
/// lease is gone is stopped here (its commit would be refused anyway).
pub fn record(db: &mut Db, j: &Claimed, handle: &str, stop: &AtomicBool) -> Result<(), Error> {
    match db.run(stop, |c| jobs::record_upload(c, j.id, &j.token, handle)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(job("the lease is no longer ours")),
        Err(e) => Err(e),
    }
}
