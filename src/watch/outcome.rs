//! How each attempt ends, as the main loop learns it: the feeder's report
//! (started, refused, skipped) and the writer's outcome, turned into a move
//! to done/ or failed/, a scheduled retry, or a rollback.

use std::time::{Duration, Instant};

use super::claim;
use super::daemon::{Daemon, Started};
use super::feeder::{self, Fed, Item};
use super::finish::{self, Record, Verdict};
use super::scan::esc;
use super::sets::Ended;
use crate::engine::job::{JobError, Outcome};

impl Daemon {
    pub(super) fn on_fed(&mut self, f: Fed) {
        match f {
            Fed::Started {
                id,
                ctx,
                outcome,
                warnings,
                at,
            } => {
                if let Some(r) = self.inflight.get_mut(&id) {
                    r.job = Some(Started {
                        ctx,
                        outcome,
                        at,
                        warnings,
                    });
                }
            }
            Fed::Refused { id, error, at } => {
                if let Some(r) = self.inflight.remove(&id) {
                    let secs = at.elapsed().as_secs_f64();
                    self.attempt_failed(r.item, &error, None, 0, secs, &[]);
                }
            }
            Fed::Skipped { id } => {
                self.inflight.remove(&id);
            }
        }
    }

    /// Collect every outcome that has arrived.
    pub(super) fn drain_outcomes(&mut self) {
        let mut ended = Vec::new();
        for (id, r) in &self.inflight {
            if let Some(j) = &r.job {
                match j.outcome.try_recv() {
                    Ok(o) => ended.push((*id, Some(o))),
                    Err(crossbeam_channel::TryRecvError::Empty) => {}
                    Err(crossbeam_channel::TryRecvError::Disconnected) => ended.push((*id, None)),
                }
            }
        }
        for (id, o) in ended {
            let Some(r) = self.inflight.remove(&id) else {
                continue;
            };
            let j = r.job.expect("only started jobs have outcomes");
            let outcome = o.unwrap_or(Outcome {
                result: Err(JobError::Failed(crate::error::job(
                    "internal: the pipeline ended without a result",
                ))),
                warnings: vec![],
            });
            self.on_outcome(r.item, j, outcome);
        }
    }

    fn on_outcome(&mut self, item: Item, j: Started, o: Outcome) {
        let mut warnings = j.warnings;
        warnings.extend(o.warnings);
        let secs = j.at.elapsed().as_secs_f64();
        let windows = j.ctx.windows.len();
        self.progress += 1;
        let output = j.ctx.output.path.clone();
        match o.result {
            Ok(summary) => {
                warnings.extend(summary.warnings(&j.ctx.output));
                if let Some(m) = crate::metrics::get() {
                    m.processed(
                        summary.pixels,
                        (summary.pixels as f64 * j.ctx.sample_bytes()) as u64,
                    );
                }
                if feeder::failpoint("after-commit") {
                    tracing::warn!(input = %esc(&item.name), "failpoint after-commit reached");
                    loop {
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
                claim::set_strikes(&self.s.work, &item.name, 0);
                let rec = Record {
                    name: &item.name,
                    recipe: &item.recipe,
                    output: Some(&output),
                    windows,
                    seconds: secs,
                    attempt: item.attempt,
                    cause: None,
                    warnings: &warnings,
                };
                if summary.replaced {
                    finish::replaced(&item.name, &output);
                }
                match finish::to_done(&self.s, &item.members) {
                    Ok(()) => {
                        self.done += 1;
                        let key = item.name.to_string_lossy();
                        self.sets.ended(&item.recipe, &key, Ended::Done);
                        finish::log(&rec, Verdict::Done, None);
                    }
                    Err(e) => tracing::error!(
                        input = %esc(&item.name),
                        "output written, but moving the input to done/ failed: {e}; it stays in work/"
                    ),
                }
            }
            Err(JobError::Cancelled) => {
                let n = claim::strikes(&self.s.work, &item.name);
                claim::set_strikes(&self.s.work, &item.name, n.saturating_sub(1));
                let rec = Record {
                    name: &item.name,
                    recipe: &item.recipe,
                    output: None,
                    windows,
                    seconds: secs,
                    attempt: item.attempt,
                    cause: Some("stopped: the input stays in work/ for the next start"),
                    warnings: &warnings,
                };
                finish::log(&rec, Verdict::RolledBack, None);
            }
            Err(JobError::Failed(cause)) => {
                self.attempt_failed(item, &cause, Some(&output), windows, secs, &warnings)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn attempt_failed(
        &mut self,
        item: Item,
        error: &crate::error::Error,
        output: Option<&std::path::Path>,
        windows: usize,
        secs: f64,
        warnings: &[String],
    ) {
        claim::set_strikes(&self.s.work, &item.name, 0);
        self.progress += 1;
        let transient = error.kind == crate::error::Kind::Transient;
        let cause = error.msg.as_str();
        let rec = Record {
            name: &item.name,
            recipe: &item.recipe,
            output,
            windows,
            seconds: secs,
            attempt: item.attempt,
            cause: Some(cause),
            warnings,
        };
        if transient && item.attempt < self.s.max_attempts {
            let delay = self.s.backoff_for(item.attempt + 1);
            finish::log(&rec, Verdict::Retry, Some(delay));
            let mut next = self.item(item.name.clone(), item.recipe.clone(), item.attempt + 1);
            next.members = item.members.clone();
            self.retries.push((Instant::now() + delay, next));
            return;
        }
        let moved = if item.members == [item.name.clone()] {
            finish::to_failed(&self.s, &self.s.work.join(&item.name), &rec)
        } else {
            let paths: Vec<_> = item.members.iter().map(|m| self.s.work.join(m)).collect();
            finish::to_failed_set(&self.s, &paths, &[], &rec)
        };
        match moved {
            Ok(()) => {
                self.failed += 1;
                let key = item.name.to_string_lossy();
                self.sets.ended(&item.recipe, &key, Ended::Failed);
                finish::log(&rec, Verdict::Failed, None);
            }
            Err(e) => tracing::error!(
                input = %esc(&item.name),
                cause,
                "the file failed, and moving it to failed/ failed too: {e}; it stays in work/"
            ),
        }
    }
}
