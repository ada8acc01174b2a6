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

use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use gdal::{Dataset, Metadata};

use crate::job::{Format, OutputSpec};
use crate::ops::OutType;
use crate::window::Window;

/// Codecs whose blocks are self-contained (JPEG keeps shared tables in the
/// directory, so its blocks cannot move between files).
const PORTABLE: &[&str] = &[
    "NONE",
    "DEFLATE",
    "ZSTD",
    "LZW",
    "LZMA",
    "PACKBITS",
    "LERC",
    "LERC_DEFLATE",
    "LERC_ZSTD",
];

/// Options that affect the file, not the bytes of a block.
const FILE_ONLY: &[&str] = &[
    "BIGTIFF",
    "NUM_THREADS",
    "SPARSE_OK",
    "TFW",
    "WORLDFILE",
    "RPB",
    "PROFILE",
];

/// How output blocks are laid out, as libtiff numbers them.
#[derive(Debug, Clone)]
pub struct Layout {
    pub size: (usize, usize),
    pub block: (usize, usize),
    pub tiled: bool,
    pub separate: bool,
    pub bands: usize,
    pub out_type: OutType,
    pub nodata: f64,
    /// Creation options for the per-window scratch GTiff.
    pub options: Vec<(String, String)>,
}

fn get<'a>(opts: &'a [(String, String)], key: &str) -> Option<&'a str> {
    opts.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl Layout {
    /// The block layout for `out`, or None when blocks cannot be encoded
    /// apart from the file (JPEG, YCbCr, bit packing, COG's own tiling).
    pub fn for_output(
        out: &OutputSpec,
        gtiff_options: &[(String, String)],
        size: (usize, usize),
        bands: usize,
    ) -> Option<Layout> {
        let compress = get(gtiff_options, "COMPRESS")
            .unwrap_or("NONE")
            .to_ascii_uppercase();
        if !PORTABLE.contains(&compress.as_str())
            || get(gtiff_options, "PHOTOMETRIC").is_some_and(|p| p.eq_ignore_ascii_case("YCBCR"))
            || get(gtiff_options, "NBITS").is_some()
        {
            return None;
        }
        let tiled = get(gtiff_options, "TILED").is_some_and(|v| v.eq_ignore_ascii_case("YES"));
        let separate = bands > 1
            && get(gtiff_options, "INTERLEAVE").is_some_and(|v| v.eq_ignore_ascii_case("BAND"));
        let block = if out.format == Format::Cog || tiled {
            out.tile
        } else {
            (size.0, out.tile.1)
        };
        let options = gtiff_options
            .iter()
            .filter(|(k, _)| !FILE_ONLY.contains(&k.as_str()))
            .cloned()
            .collect();
        Some(Layout {
            size,
            block,
            tiled,
            separate,
            bands,
            out_type: out.out_type,
            nodata: out.nodata,
            options,
        })
    }

    /// True when `w` covers whole blocks (clipped only at the raster edge).
    pub fn aligned(&self, w: &Window) -> bool {
        w.aligned_to(self.block, self.size)
    }

    fn per_row(&self) -> usize {
        self.size.0.div_ceil(self.block.0)
    }

    fn per_plane(&self) -> usize {
        self.per_row() * self.size.1.div_ceil(self.block.1)
    }
}

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
    let c_name = CString::new(name)?;
    let mut len: gdal_sys::vsi_l_offset = 0;
    // SAFETY: borrows the in-memory file's buffer; it lives until VsiMem drops.
    let base = unsafe { gdal_sys::VSIGetMemFileBuffer(c_name.as_ptr(), &mut len, 0) };
    anyhow::ensure!(!base.is_null(), "scratch file vanished");
    // SAFETY: `len` bytes at `base` belong to the in-memory file.
    let bytes = unsafe { std::slice::from_raw_parts(base, len as usize) };
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
    Ok(out)
}

/// Compress overview strips (see [`crate::pyramid`]) into (level, block
/// index, bytes). With `spread`, the strips are cut into tile columns
/// encoded on one scoped thread per core.
pub fn encode_strips(
    l: &Layout,
    strips: Vec<crate::pyramid::Strip>,
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
    let one = |s: &crate::pyramid::Strip| -> anyhow::Result<Vec<(usize, u32, Vec<u8>)>> {
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
fn columns(l: &Layout, s: &crate::pyramid::Strip, x0: usize, w: usize) -> crate::pyramid::Strip {
    let size = l.out_type.size();
    let (sw, sh) = (s.window.w, s.window.h);
    let mut data = Vec::with_capacity(l.bands * sh * w * size);
    for row in 0..l.bands * sh {
        let at = (row * sw + x0) * size;
        data.extend_from_slice(&s.data[at..at + w * size]);
    }
    crate::pyramid::Strip {
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
    let fill = crate::convert::pack(
        &[ndarray::Array2::from_elem((1, 1), f64::NAN)],
        l.out_type,
        l.nodata,
        &mut crate::convert::Counts::default(),
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
        if !matches!(k.as_str(), "TILED" | "BLOCKXSIZE" | "BLOCKYSIZE") {
            opts.set_name_value(k, v)?;
        }
    }
    if l.tiled {
        opts.set_name_value("TILED", "YES")?;
        opts.set_name_value("BLOCKXSIZE", &l.block.0.to_string())?;
    }
    opts.set_name_value("BLOCKYSIZE", &l.block.1.to_string())?;
    let c = CString::new(name)?;
    // SAFETY: valid driver, name and options.
    let h = unsafe {
        gdal_sys::GDALCreate(
            driver.c_driver(),
            c.as_ptr(),
            pw as i32,
            ph as i32,
            l.bands as i32,
            l.out_type.gdal(),
            opts.as_ptr(),
        )
    };
    anyhow::ensure!(!h.is_null(), "cannot create in-memory scratch GTiff");
    // SAFETY: fresh handle, owned here.
    let ds = unsafe { Dataset::from_c_dataset(h) };
    let rect = Window {
        x: 0,
        y: 0,
        w: pw,
        h: ph,
    };
    crate::rasterio::write_bands(&ds, rect, l.bands, l.out_type, data)?;
    crate::create::close(ds)
}

/// A unique in-memory file name, removed when dropped.
pub struct VsiMem(String);

impl VsiMem {
    pub fn new(tag: &str) -> VsiMem {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        VsiMem(format!(
            "/vsimem/tilerun-{tag}-{}-{}.tif",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ))
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    /// A copy of the file's contents.
    pub fn bytes(&self) -> anyhow::Result<Vec<u8>> {
        let c = CString::new(self.0.as_str())?;
        let mut len: gdal_sys::vsi_l_offset = 0;
        // SAFETY: borrows the in-memory file's buffer, copied before `self`
        // (which owns the file) can drop it.
        let base = unsafe { gdal_sys::VSIGetMemFileBuffer(c.as_ptr(), &mut len, 0) };
        anyhow::ensure!(!base.is_null(), "{} vanished", self.0);
        // SAFETY: `len` bytes at `base` belong to the in-memory file.
        Ok(unsafe { std::slice::from_raw_parts(base, len as usize) }.to_vec())
    }
}

impl Drop for VsiMem {
    fn drop(&mut self) {
        if let Ok(c) = CString::new(self.0.as_str()) {
            // SAFETY: valid name; unlinking a missing file is harmless.
            unsafe { gdal_sys::VSIUnlink(c.as_ptr()) };
        }
    }
}
