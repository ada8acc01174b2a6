//! Window planning: how a raster is cut into units of work.
//!
//! Windows are laid on the *output* tile grid so that, by default, every
//! window covers whole output tiles and the writer can write each tile once:
//! rewriting a compressed tile appends a new copy and bloats the file. The
//! input's block size only nudges the choice (whole input blocks per window
//! avoid decoding a block in two workers; striped inputs get full-width
//! windows so no strip is decoded once per column of windows). Window area
//! is capped so memory stays bounded whatever the file's header says.

/// A rectangle of the raster, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl Window {
    pub fn pixels(&self) -> usize {
        self.w * self.h
    }

    /// True when this window covers whole `block`s of a `size` raster
    /// (clipped only at the right and bottom edges).
    pub fn aligned_to(&self, block: (usize, usize), size: (usize, usize)) -> bool {
        let (bw, bh) = block;
        self.x.is_multiple_of(bw)
            && self.y.is_multiple_of(bh)
            && (self.w.is_multiple_of(bw) || self.x + self.w == size.0)
            && (self.h.is_multiple_of(bh) || self.y + self.h == size.1)
    }

    /// This window grown by `halo` on every side, clipped to the raster.
    /// Also returns where the original window sits inside the grown one.
    pub fn grow(&self, halo: usize, width: usize, height: usize) -> (Window, usize, usize) {
        let x0 = self.x.saturating_sub(halo);
        let y0 = self.y.saturating_sub(halo);
        let x1 = (self.x + self.w + halo).min(width);
        let y1 = (self.y + self.h + halo).min(height);
        let grown = Window {
            x: x0,
            y: y0,
            w: x1 - x0,
            h: y1 - y0,
        };
        (grown, self.y - y0, self.x - x0)
    }
}

/// Upper bound on one window's pixels (per band). With f64 compute buffers
/// this is 32 MiB per band in flight, times the queue depth.
pub const MAX_WINDOW_PIXELS: usize = 4 << 20;

/// Choose the window size.
///
/// `tile` is the output tile size, `block` the input's natural block size,
/// `forced` the user's `--window`.
pub fn choose(
    width: usize,
    height: usize,
    tile: (usize, usize),
    block: (usize, usize),
    forced: Option<usize>,
) -> (usize, usize) {
    if let Some(n) = forced {
        return (n.max(1), n.max(1));
    }
    let (tw, th) = (tile.0.max(1), tile.1.max(1));
    let (bw, bh) = (block.0.max(1), block.1.max(1));
    let striped = bw >= width && bh < height;
    let mut w = if striped {
        round_up(width, tw)
    } else {
        covering(bw, tw)
    };
    let mut h = covering(bh, th);
    // Keep the area bounded: shrink width first (a full-width stripe is the
    // first thing to give), then height, never below one output tile.
    while w * h > MAX_WINDOW_PIXELS && w > tw {
        w = round_up(w / 2, tw);
    }
    while w * h > MAX_WINDOW_PIXELS && h > th {
        h = round_up(h / 2, th);
    }
    (w.min(round_up(width, tw)), h.min(round_up(height, th)))
}

/// The multiple of `tile` that covers `block` when one divides the other,
/// else just `tile` (misaligned grids would cost more than they save).
fn covering(block: usize, tile: usize) -> usize {
    if block > tile && block.is_multiple_of(tile) {
        block
    } else {
        tile
    }
}

fn round_up(v: usize, m: usize) -> usize {
    v.div_ceil(m).max(1) * m
}

/// All windows of a `width × height` raster, row-major, clipped at the right
/// and bottom edges. Row-major order means output tiles complete in the order
/// the writer can write them, and results trickle in roughly sorted.
pub fn plan(width: usize, height: usize, size: (usize, usize)) -> Vec<Window> {
    let (sw, sh) = size;
    let mut out = Vec::with_capacity(width.div_ceil(sw) * height.div_ceil(sh));
    for y in (0..height).step_by(sh) {
        for x in (0..width).step_by(sw) {
            out.push(Window {
                x,
                y,
                w: sw.min(width - x),
                h: sh.min(height - y),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_every_pixel_once() {
        for (w, h, s) in [
            (300, 200, (128, 128)),
            (1, 7, (64, 64)),
            (513, 512, (512, 100)),
        ] {
            let mut hits = vec![0u8; w * h];
            for win in plan(w, h, s) {
                for y in win.y..win.y + win.h {
                    for x in win.x..win.x + win.w {
                        hits[y * w + x] += 1;
                    }
                }
            }
            assert!(hits.iter().all(|&c| c == 1), "{w}x{h} {s:?}");
        }
    }

    #[test]
    fn windows_align_to_output_tiles() {
        // Tiled input, 256 blocks, 512 output tiles: one tile per window.
        assert_eq!(choose(8192, 8192, (512, 512), (256, 256), None), (512, 512));
        // Input blocks that are multiples of the tile are kept whole.
        assert_eq!(
            choose(8192, 8192, (512, 512), (1024, 1024), None),
            (1024, 1024)
        );
        // Striped input: full-width, one tile row high.
        assert_eq!(choose(3000, 5000, (512, 512), (3000, 1), None), (3072, 512));
        // A forced window wins.
        assert_eq!(choose(100, 100, (512, 512), (100, 1), Some(64)), (64, 64));
    }

    #[test]
    fn absurd_blocks_stay_bounded() {
        let (w, h) = choose(100_000, 100_000, (512, 512), (100_000, 1), None);
        assert!(w * h <= MAX_WINDOW_PIXELS, "{w}x{h}");
        let (w, h) = choose(1, 100_000, (512, 512), (1, 100_000), None);
        assert!(w * h <= MAX_WINDOW_PIXELS, "{w}x{h}");
    }

    #[test]
    fn grow_clips_and_reports_offsets() {
        let win = Window {
            x: 0,
            y: 10,
            w: 5,
            h: 5,
        };
        let (g, r, c) = win.grow(2, 6, 16);
        assert_eq!(
            g,
            Window {
                x: 0,
                y: 8,
                w: 6,
                h: 8
            }
        );
        assert_eq!((r, c), (2, 0));
    }
}
