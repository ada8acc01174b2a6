//! Reading for the statistics pass: whole-block chunks spread over threads,
//! each with its own dataset handle, masking exactly as the workers do, and
//! each thread filling its own copy of the histograms, summed at the end.

use std::sync::atomic::Ordering;

use gdal::Dataset;

use super::{Group, Key, Open, Pass};
use crate::window::{self, Window};

/// f64 values read per chunk, all bands together: 32 MiB per thread.
const CHUNK_VALUES: usize = 4 << 20;

pub(super) struct Scan<'a> {
    pass: &'a Pass<'a>,
    bands: &'a [usize],
    chunks: Vec<Window>,
}

impl<'a> Scan<'a> {
    pub(super) fn new(pass: &'a Pass<'a>, bands: &'a [usize]) -> Self {
        let meta = pass.meta;
        let (w, h) = (meta.width, meta.height);
        let (bw, bh) = (meta.block.0.clamp(1, w), meta.block.1.clamp(1, h));
        let budget = CHUNK_VALUES / bands.len().max(1);
        // Whole input blocks per chunk, so no block is decoded twice.
        let size = if bw >= w {
            (w, ((budget / w / bh).max(1) * bh).min(h))
        } else {
            (((budget / bh / bw).max(1) * bw).min(w), bh)
        };
        Scan {
            pass,
            bands,
            chunks: window::plan(w, h, size),
        }
    }

    /// Add every valid value to `groups` (one list per band of `bands`).
    pub(super) fn run(
        &self,
        open: &Open<'_>,
        keys: &[Key],
        groups: &mut [Vec<Group>],
    ) -> anyhow::Result<()> {
        let n = self.pass.threads.clamp(1, self.chunks.len().max(1));
        let parts: Vec<anyhow::Result<Vec<Vec<Group>>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|t| {
                    let mut mine: Vec<Vec<Group>> = groups
                        .iter()
                        .map(|gs| gs.iter().map(|g| Group::new(g.prefix, g.known)).collect())
                        .collect();
                    s.spawn(move || -> anyhow::Result<Vec<Vec<Group>>> {
                        let ds = open()?;
                        for win in self.chunks.iter().skip(t).step_by(n) {
                            self.chunk(&ds, *win, keys, &mut mine)?;
                        }
                        Ok(mine)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("statistics thread panicked")))
                })
                .collect()
        });
        for part in parts {
            for (mine, theirs) in groups.iter_mut().zip(part?) {
                for (g, o) in mine.iter_mut().zip(&theirs) {
                    g.merge(o);
                }
            }
        }
        Ok(())
    }

    fn chunk(
        &self,
        ds: &Dataset,
        win: Window,
        keys: &[Key],
        groups: &mut [Vec<Group>],
    ) -> anyhow::Result<()> {
        if self.pass.cancel.load(Ordering::Relaxed) {
            anyhow::bail!("cancelled");
        }
        let plane = win.pixels();
        crate::gdal::env::clear_messages();
        let buf =
            crate::input::read::read_masked(ds, self.pass.meta, win, self.bands, self.pass.policy)
                .map_err(|e| anyhow::anyhow!("statistics pass: {e:#}"))?;
        for i in 0..self.bands.len() {
            let vals = &buf[i * plane..(i + 1) * plane];
            let bits = keys[i].bits();
            for &v in vals {
                if v.is_nan() {
                    continue;
                }
                let k = keys[i].key(v);
                for g in groups[i].iter_mut() {
                    g.add(k, bits);
                }
            }
        }
        Ok(())
    }
}
