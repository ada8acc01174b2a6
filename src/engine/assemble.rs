//! Tile assembly: turn windows of any size into whole output tiles.
//!
//! A compressed GTiff tile that is written twice keeps its first copy as dead
//! bytes in the file, so every output tile must be written exactly once and
//! complete. Windows on the tile grid pass straight through; windows off the
//! grid (`--window 100` on 512-pixel tiles) are copied into per-tile buffers
//! until each tile is complete. Buffers live only while a tile is partially
//! covered: with row-major windows that is about one row of tiles.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::window::Window;

pub struct Assembler {
    tile: (usize, usize),
    size: (usize, usize),
    bands: usize,
    sample: usize,
    partial: HashMap<(usize, usize), (Vec<u8>, usize)>,
}

impl Assembler {
    pub fn new(tile: (usize, usize), size: (usize, usize), bands: usize, sample: usize) -> Self {
        Assembler {
            tile,
            size,
            bands,
            sample,
            partial: HashMap::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.partial.is_empty()
    }

    fn tile_rect(&self, tx: usize, ty: usize) -> Window {
        let (tw, th) = self.tile;
        let (x, y) = (tx * tw, ty * th);
        Window {
            x,
            y,
            w: tw.min(self.size.0 - x),
            h: th.min(self.size.1 - y),
        }
    }

    /// Take a window's band-sequential data; return the rectangles that are
    /// now complete, each with its band-sequential data.
    pub fn accept<'a>(&mut self, win: Window, data: &'a [u8]) -> Vec<(Window, Cow<'a, [u8]>)> {
        if win.aligned_to(self.tile, self.size) {
            return vec![(win, Cow::Borrowed(data))];
        }
        let (tw, th) = self.tile;
        let s = self.sample;
        let mut done = Vec::new();
        for ty in win.y / th..(win.y + win.h).div_ceil(th) {
            for tx in win.x / tw..(win.x + win.w).div_ceil(tw) {
                let rect = self.tile_rect(tx, ty);
                let x0 = win.x.max(rect.x);
                let x1 = (win.x + win.w).min(rect.x + rect.w);
                let y0 = win.y.max(rect.y);
                let y1 = (win.y + win.h).min(rect.y + rect.h);
                let entry = self
                    .partial
                    .entry((tx, ty))
                    .or_insert_with(|| (vec![0; rect.pixels() * self.bands * s], 0));
                for b in 0..self.bands {
                    for y in y0..y1 {
                        let src = ((b * win.h + (y - win.y)) * win.w + (x0 - win.x)) * s;
                        let dst = ((b * rect.h + (y - rect.y)) * rect.w + (x0 - rect.x)) * s;
                        let n = (x1 - x0) * s;
                        entry.0[dst..dst + n].copy_from_slice(&data[src..src + n]);
                    }
                }
                entry.1 += (x1 - x0) * (y1 - y0);
                if entry.1 == rect.pixels() {
                    let (buf, _) = self.partial.remove(&(tx, ty)).expect("present");
                    done.push((rect, Cow::Owned(buf)));
                }
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::plan;

    /// Assemble a raster from odd windows and compare with the direct fill.
    #[test]
    fn odd_windows_make_whole_tiles_with_the_right_bytes() {
        let (w, h, bands) = (37usize, 23usize, 2usize);
        let value = |b: usize, x: usize, y: usize| ((b * 1000 + y * w + x) % 251) as u8;
        let mut out = vec![0u8; w * h * bands];
        let mut asm = Assembler::new((16, 8), (w, h), bands, 1);
        let mut rects = Vec::new();
        for win in plan(w, h, (10, 7)) {
            let mut data = Vec::new();
            for b in 0..bands {
                for y in win.y..win.y + win.h {
                    for x in win.x..win.x + win.w {
                        data.push(value(b, x, y));
                    }
                }
            }
            for (r, buf) in asm.accept(win, &data) {
                rects.push(r);
                for b in 0..bands {
                    for y in 0..r.h {
                        for x in 0..r.w {
                            out[(b * h + r.y + y) * w + r.x + x] = buf[(b * r.h + y) * r.w + x];
                        }
                    }
                }
            }
        }
        assert!(asm.is_empty());
        // Every tile emitted exactly once.
        assert_eq!(rects.len(), w.div_ceil(16) * h.div_ceil(8));
        for b in 0..bands {
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(out[(b * h + y) * w + x], value(b, x, y));
                }
            }
        }
    }

    #[test]
    fn aligned_windows_pass_through() {
        let mut asm = Assembler::new((16, 16), (40, 40), 1, 1);
        let win = Window {
            x: 32,
            y: 16,
            w: 8,
            h: 16,
        };
        let data = vec![1u8; 8 * 16];
        let out = asm.accept(win, &data);
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0].1, Cow::Borrowed(_)));
    }
}
