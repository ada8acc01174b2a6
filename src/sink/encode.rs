//! Compressing output blocks in the workers, with GDAL's own codecs.
//!
//! A worker writes its finished window into a private `/vsimem/` GTiff made
//! with the output's creation options and block size, lets GDAL compress it,
//! and lifts each block's bytes out (GDAL reports where they are through the
//! `TIFF` metadata domain). The bytes are exactly what GDAL would have put in
//! the output, so no codec or predictor is re-implemented here, and
//! compression scales with the workers instead of serialising in the writer.
//! Only whole blocks can be encoded: this path is used when every window is
//! aligned to the block grid, which the default window plan guarantees.

use std::sync::atomic::Ordering;

use anyhow::Context;
use gdal::{Dataset, Metadata};

use crate::gdal::ffi::VsiMem;
use crate::sink::spec::Layout;
use crate::window::Window;

/// Compress the band-sequential `data` of an aligned window `w` into
/// (libtiff block index, bytes) pairs.
pub fn encode(l: &Layout, w: Window, data: &[u8]) -> anyhow::Result<Vec<(u32, Vec<u8>)>> {
    let (bw, bh) = l.block;
    let (nx, ny) = (w.w.div_ceil(bw), w.h.div_ceil(bh));
    // Tiles are always whole (edge tiles padded with nodata, so they
    // compress the same way whatever the window size), but TIFF's last strip
    // holds only the rows that remain: a padded one would not decode.
    let (pw, ph) = if l.tiled {
        (nx * bw, ny * bh)
    } else {
        (w.w, w.h)
    };
    let padded = if (pw, ph) == (w.w, w.h) {
        // Whole blocks already: no copy.
        std::borrow::Cow::Borrowed(data)
    } else {
        std::borrow::Cow::Owned(pad(l, w, (pw, ph), data))
    };
    let scratch = VsiMem::new("enc");
    let name = scratch.name();
    write_scratch(l, name, (pw, ph), &padded)?;
    let ds = Dataset::open(name)?;
    let planes = if l.separate { l.bands } else { 1 };
    let mut out = Vec::with_capacity(nx * ny * planes);
    scratch.with_bytes(|bytes| -> anyhow::Result<()> {
        for p in 0..planes {
            let band = ds.rasterband(p + 1)?;
            for by in 0..ny {
                for bx in 0..nx {
                    let off = block_item(&band, "OFFSET", bx, by)?;
                    let size = block_item(&band, "SIZE", bx, by)?;
                    let chunk = bytes
                        .get(off..off + size)
                        .context("block outside the scratch file")?;
                    let gx = w.x / bw + bx;
                    let gy = w.y / bh + by;
                    let index = p * l.per_plane() + gy * l.per_row() + gx;
                    out.push((index as u32, chunk.to_vec()));
                }
            }
        }
        Ok(())
    })??;
    Ok(out)
}

/// Compress overview strips (see [`crate::sink::pyramid`]) into (level, block
/// index, bytes). With `spread`, the strips are cut into tile columns
/// encoded on one scoped thread per core.
pub fn encode_strips(
    l: &Layout,
    strips: Vec<crate::sink::pyramid::Strip>,
    spread: bool,
) -> anyhow::Result<Vec<(usize, u32, Vec<u8>)>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let spread = spread && threads > 1;
    let mut pieces = Vec::new();
    for s in strips {
        let cols = s.window.w.div_ceil(l.block.0);
        if !spread || cols < 2 {
            pieces.push(s);
            continue;
        }
        let per = cols.div_ceil(threads).max(1) * l.block.0;
        for x0 in (0..s.window.w).step_by(per) {
            pieces.push(columns(l, &s, x0, per.min(s.window.w - x0)));
        }
    }
    let one = |s: &crate::sink::pyramid::Strip| -> anyhow::Result<Vec<(usize, u32, Vec<u8>)>> {
        let f = 1 << s.level;
        let mut lv = l.clone();
        lv.size = (l.size.0.div_ceil(f), l.size.1.div_ceil(f));
        let enc = encode(&lv, s.window, &s.data)
            .with_context(|| format!("compressing overview level {f}"))?;
        Ok(enc.into_iter().map(|(i, b)| (s.level, i, b)).collect())
    };
    if !spread || pieces.len() < 2 {
        let mut out = Vec::new();
        for p in &pieces {
            out.extend(one(p)?);
        }
        return Ok(out);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<anyhow::Result<Vec<_>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.min(pieces.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(p) = pieces.get(i) else {
                            return Ok(out);
                        };
                        out.extend(one(p)?);
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("encoder thread panicked")))
            })
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// Columns `[x0, x0 + w)` of a band-sequential strip.
fn columns(
    l: &Layout,
    s: &crate::sink::pyramid::Strip,
    x0: usize,
    w: usize,
) -> crate::sink::pyramid::Strip {
    let size = l.out_type.size();
    let (sw, sh) = (s.window.w, s.window.h);
    let mut data = Vec::with_capacity(l.bands * sh * w * size);
    for row in 0..l.bands * sh {
        let at = (row * sw + x0) * size;
        data.extend_from_slice(&s.data[at..at + w * size]);
    }
    crate::sink::pyramid::Strip {
        level: s.level,
        window: Window {
            x: x0,
            y: s.window.y,
            w,
            h: sh,
        },
        data,
    }
}

/// `data` (a `w` window) inside a `pw`×`ph` buffer filled with nodata.
fn pad(l: &Layout, w: Window, (pw, ph): (usize, usize), data: &[u8]) -> Vec<u8> {
    let s = l.out_type.size();
    // NaN converts to nodata (a number equal to nodata would be moved off it).
    let fill = crate::sink::convert::pack(
        &[ndarray::Array2::from_elem((1, 1), f64::NAN)],
        l.out_type,
        l.nodata,
        &mut crate::sink::convert::Counts::default(),
    );
    let mut padded = fill.repeat(pw * ph * l.bands);
    for b in 0..l.bands {
        for y in 0..w.h {
            let src = (b * w.h + y) * w.w * s;
            let dst = (b * ph + y) * pw * s;
            padded[dst..dst + w.w * s].copy_from_slice(&data[src..src + w.w * s]);
        }
    }
    padded
}

fn block_item(
    band: &gdal::raster::RasterBand,
    what: &str,
    bx: usize,
    by: usize,
) -> anyhow::Result<usize> {
    band.metadata_item(&format!("BLOCK_{what}_{bx}_{by}"), "TIFF")
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("GDAL did not report block {bx},{by}"))
}

fn write_scratch(
    l: &Layout,
    name: &str,
    (pw, ph): (usize, usize),
    data: &[u8],
) -> anyhow::Result<()> {
    let driver = gdal::DriverManager::get_driver_by_name("GTiff")?;
    let mut opts = gdal::cpl::CslStringList::new();
    for (k, v) in &l.options {
        if !matches!(k, "TILED" | "BLOCKXSIZE" | "BLOCKYSIZE") {
            opts.set_name_value(k, v)?;
        }
    }
    if l.tiled {
        opts.set_name_value("TILED", "YES")?;
        opts.set_name_value("BLOCKXSIZE", &l.block.0.to_string())?;
    }
    opts.set_name_value("BLOCKYSIZE", &l.block.1.to_string())?;
    let ds = crate::gdal::ffi::create(
        &driver,
        std::path::Path::new(name),
        (pw, ph),
        l.bands,
        l.out_type.gdal(),
        &opts,
    )
    .context("cannot create in-memory scratch GTiff")?;
    let rect = Window {
        x: 0,
        y: 0,
        w: pw,
        h: ph,
    };
    crate::gdal::rasterio::write_bands(&ds, rect, l.bands, l.out_type.gdal(), data)?;
    crate::sink::create::close(ds)
}
