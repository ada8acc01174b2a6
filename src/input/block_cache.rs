//! A decoded-block cache shared by the workers of one job, for ops with a halo.
//!
//! Workers must not share GDAL handles, so GDAL's block cache (per handle)
//! cannot stop two workers from decoding the same input tile. For a 3×3
//! terrain op on 512² windows, every window's 1-pixel halo touches its eight
//! neighbouring tiles, so each tile would be decompressed up to nine times.
//! Here each input block is decoded once, by whichever worker needs it
//! first, with its own handle; the decoded plain `f64` data (nodata already
//! NaN) is shared; and a block is dropped as soon as the last window that
//! touches it has been assembled, so memory stays at about two rows of
//! blocks whatever the raster size.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};

use crate::window::Window;

enum Slot {
    Loading,
    Ready(Arc<Vec<f64>>),
}

pub struct BlockCache {
    size: (usize, usize),
    block: (usize, usize),
    bands: usize,
    /// Windows still to read each block; the block is dropped at zero.
    users: Mutex<HashMap<(usize, usize), usize>>,
    slots: Mutex<HashMap<(usize, usize), Slot>>,
    loaded: Condvar,
}

impl BlockCache {
    /// A cache for windows `grown` (already grown by the halo).
    pub fn new(
        size: (usize, usize),
        block: (usize, usize),
        bands: usize,
        grown: impl Iterator<Item = Window>,
    ) -> Self {
        let mut users = HashMap::new();
        let c = BlockCache {
            size,
            block,
            bands,
            users: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            loaded: Condvar::new(),
        };
        for g in grown {
            for key in c.keys(&g) {
                *users.entry(key).or_insert(0) += 1;
            }
        }
        *c.users.lock().expect("fresh mutex") = users;
        c
    }

    fn keys(&self, g: &Window) -> impl Iterator<Item = (usize, usize)> {
        let (bw, bh) = self.block;
        let xs = g.x / bw..(g.x + g.w).div_ceil(bw);
        let ys = g.y / bh..(g.y + g.h).div_ceil(bh);
        ys.flat_map(move |by| xs.clone().map(move |bx| (bx, by)))
    }

    fn rect(&self, (bx, by): (usize, usize)) -> Window {
        let (bw, bh) = self.block;
        let (x, y) = (bx * bw, by * bh);
        Window {
            x,
            y,
            w: bw.min(self.size.0 - x),
            h: bh.min(self.size.1 - y),
        }
    }

    /// Assemble `g` (band-sequential) from blocks, decoding missing blocks
    /// with `decode(rect)`, which must return band-sequential data for rect.
    pub fn read(
        &self,
        g: Window,
        mut decode: impl FnMut(Window) -> anyhow::Result<Vec<f64>>,
    ) -> anyhow::Result<Vec<f64>> {
        let plane = g.pixels();
        let mut out = vec![0f64; plane * self.bands];
        let keys: Vec<_> = self.keys(&g).collect();
        let blocks = self.fetch(&keys, &mut decode)?;
        for (&key, data) in keys.iter().zip(&blocks) {
            let r = self.rect(key);
            let (x0, x1) = (g.x.max(r.x), (g.x + g.w).min(r.x + r.w));
            let (y0, y1) = (g.y.max(r.y), (g.y + g.h).min(r.y + r.h));
            for b in 0..self.bands {
                for y in y0..y1 {
                    let src = b * r.pixels() + (y - r.y) * r.w + (x0 - r.x);
                    let dst = b * plane + (y - g.y) * g.w + (x0 - g.x);
                    out[dst..dst + (x1 - x0)].copy_from_slice(&data[src..src + (x1 - x0)]);
                }
            }
        }
        self.release(&keys);
        Ok(out)
    }

    /// Decode every block of `keys` that nobody has claimed, then wait for
    /// the ones other workers are decoding: never idle while work is left.
    fn fetch(
        &self,
        keys: &[(usize, usize)],
        decode: &mut impl FnMut(Window) -> anyhow::Result<Vec<f64>>,
    ) -> anyhow::Result<Vec<Arc<Vec<f64>>>> {
        let mut got: Vec<Option<Arc<Vec<f64>>>> = vec![None; keys.len()];
        let mut pending = Vec::new();
        for (i, &key) in keys.iter().enumerate() {
            let mut slots = self.slots.lock().expect("block cache poisoned");
            match slots.get(&key) {
                Some(Slot::Ready(d)) => got[i] = Some(Arc::clone(d)),
                Some(Slot::Loading) => pending.push(i),
                None => {
                    slots.insert(key, Slot::Loading);
                    drop(slots);
                    got[i] = Some(self.load(key, decode)?);
                }
            }
        }
        for i in pending {
            got[i] = Some(self.wait(keys[i], decode)?);
        }
        Ok(got
            .into_iter()
            .map(|d| d.expect("every block fetched"))
            .collect())
    }

    /// Wait for a block another worker is decoding (or decode it ourselves
    /// if that worker failed).
    fn wait(
        &self,
        key: (usize, usize),
        decode: &mut impl FnMut(Window) -> anyhow::Result<Vec<f64>>,
    ) -> anyhow::Result<Arc<Vec<f64>>> {
        let mut slots = self.slots.lock().expect("block cache poisoned");
        loop {
            match slots.get(&key) {
                Some(Slot::Ready(d)) => return Ok(Arc::clone(d)),
                Some(Slot::Loading) => {
                    slots = self.loaded.wait(slots).expect("block cache poisoned")
                }
                None => break,
            }
        }
        slots.insert(key, Slot::Loading);
        drop(slots);
        self.load(key, decode)
    }

    /// Decode a block this thread has marked Loading, without the lock.
    fn load(
        &self,
        key: (usize, usize),
        decode: &mut impl FnMut(Window) -> anyhow::Result<Vec<f64>>,
    ) -> anyhow::Result<Arc<Vec<f64>>> {
        let res = decode(self.rect(key)).map(Arc::new);
        let mut slots = self.slots.lock().expect("block cache poisoned");
        match &res {
            Ok(d) => slots.insert(key, Slot::Ready(Arc::clone(d))),
            // Let a waiting worker retry (and report its own error).
            Err(_) => slots.remove(&key),
        };
        self.loaded.notify_all();
        res
    }

    fn release(&self, keys: &[(usize, usize)]) {
        let mut users = self.users.lock().expect("block cache poisoned");
        let mut gone = Vec::new();
        for k in keys {
            if let Some(n) = users.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    users.remove(k);
                    gone.push(*k);
                }
            }
        }
        drop(users);
        let mut slots = self.slots.lock().expect("block cache poisoned");
        for k in gone {
            slots.remove(&k);
        }
    }

    /// Blocks currently held.
    #[cfg(test)]
    pub fn resident(&self) -> usize {
        self.slots.lock().map(|s| s.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::plan;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn assembles_windows_decodes_each_block_once_and_frees_them() {
        let (w, h) = (50usize, 37usize);
        let value = |b: usize, x: usize, y: usize| (b * 10_000 + y * w + x) as f64;
        let windows: Vec<Window> = plan(w, h, (16, 16))
            .iter()
            .map(|win| win.grow(1, w, h).0)
            .collect();
        let cache = BlockCache::new((w, h), (8, 8), 2, windows.iter().copied());
        let decodes = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for part in windows.chunks(windows.len().div_ceil(3)) {
                let (cache, decodes) = (&cache, &decodes);
                s.spawn(move || {
                    for g in part {
                        let got = cache
                            .read(*g, |r| {
                                decodes.fetch_add(1, Ordering::SeqCst);
                                let mut d = Vec::new();
                                for b in 0..2 {
                                    for y in r.y..r.y + r.h {
                                        for x in r.x..r.x + r.w {
                                            d.push(value(b, x, y));
                                        }
                                    }
                                }
                                Ok(d)
                            })
                            .unwrap();
                        for b in 0..2 {
                            for y in 0..g.h {
                                for x in 0..g.w {
                                    assert_eq!(
                                        got[(b * g.h + y) * g.w + x],
                                        value(b, g.x + x, g.y + y)
                                    );
                                }
                            }
                        }
                    }
                });
            }
        });
        assert_eq!(
            decodes.load(Ordering::SeqCst),
            w.div_ceil(8) * h.div_ceil(8)
        );
        assert_eq!(cache.resident(), 0);
    }

    #[test]
    fn a_failed_decode_is_retried_by_the_next_reader() {
        let g = Window {
            x: 0,
            y: 0,
            w: 4,
            h: 4,
        };
        let cache = BlockCache::new((4, 4), (4, 4), 1, [g, g].into_iter());
        assert!(cache.read(g, |_| anyhow::bail!("boom")).is_err());
        let ok = cache.read(g, |r| Ok(vec![1.0; r.pixels()])).unwrap();
        assert_eq!(ok, vec![1.0; 16]);
    }
}
