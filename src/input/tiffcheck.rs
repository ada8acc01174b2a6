//! Refusing GeoTIFFs whose blocks have no data or lie past the end of the file.
//!
//! GDAL reads a TIFF block whose offset or byte count is 0 as nodata (or
//! zeros) without a word: that is how sparse files (`SPARSE_OK=TRUE`) work,
//! but it is also what a damaged or hand-crafted file looks like, and either
//! way the output would be silently made up. A block that ends past the end
//! of the file is a truncated file: libtiff does report it, but only when
//! that window is read, halfway through a job. So before any pixel is read,
//! every strip/tile of the image GDAL opened is checked here, through the
//! same libtiff GDAL uses (so its fix-ups, e.g. re-estimated byte counts,
//! are seen exactly as GDAL sees them).
//!
//! The rule: every block must have a non-zero offset and byte count, and
//! end within the file. `[input] allow_sparse = true` accepts missing blocks
//! (they read as nodata, or 0 without one); truncation is always refused.

use std::path::Path;

use crate::gdal::libtiff::Tiff;

/// Check every block of the first image in the TIFF at `path`.
pub fn check(path: &Path, allow_sparse: bool) -> anyhow::Result<()> {
    let len = std::fs::metadata(path)?.len();
    // "O": block offsets loaded on demand (libtiff ≥ 4.1; Debian 12 has 4.5).
    let t = Tiff::open(path, c"rO")?;
    let (tiled, n) = (t.is_tiled(), t.blocks());
    let what = if tiled { "tile" } else { "strip" };
    for i in 0..n {
        let Some((off, count)) = t.block_extent(i) else {
            anyhow::bail!(
                "cannot read where {what} {i} of {n} is stored: the TIFF is damaged or truncated"
            );
        };
        if off == 0 || count == 0 {
            if allow_sparse {
                continue;
            }
            anyhow::bail!(
                "{what} {i} of {n} has no data (offset {off}, {count} bytes): a sparse or \
                 damaged TIFF, refused so missing data is never read as 0/nodata \
                 (set [input] allow_sparse = true to accept sparse files)"
            );
        }
        if off.saturating_add(count) > len {
            anyhow::bail!(
                "{what} {i} of {n} needs bytes {off}..{} but the file has {len}: truncated",
                off.saturating_add(count)
            );
        }
    }
    Ok(())
}

/// The same rule for a TIFF inside an archive (libtiff cannot open GDAL's
/// virtual paths): block offsets and sizes from GDAL's `TIFF` metadata
/// domain, checked against the member's size.
pub fn check_member(ds: &gdal::Dataset, path: &Path, allow_sparse: bool) -> anyhow::Result<()> {
    use gdal::Metadata;
    let (len, _) =
        crate::gdal::ffi::stat(path).ok_or_else(|| anyhow::anyhow!("cannot stat the member"))?;
    let (w, h) = ds.raster_size();
    let separate = ds.metadata_item("INTERLEAVE", "IMAGE_STRUCTURE").as_deref() == Some("BAND");
    let bands = if separate { ds.raster_count() } else { 1 };
    for i in 1..=bands {
        let b = ds.rasterband(i)?;
        let (bw, bh) = b.block_size();
        for (by, bx) in (0..h.div_ceil(bh)).flat_map(|y| (0..w.div_ceil(bw)).map(move |x| (y, x))) {
            let item = |k: &str| {
                b.metadata_item(&format!("{k}_{bx}_{by}"), "TIFF")
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let (off, count) = (item("BLOCK_OFFSET"), item("BLOCK_SIZE"));
            if off == 0 || count == 0 {
                if allow_sparse {
                    continue;
                }
                anyhow::bail!(
                    "block {bx},{by} of band {i} has no data (offset {off}, {count} bytes): a \
                     sparse or damaged TIFF (set [input] allow_sparse = true to accept sparse files)"
                );
            }
            if off.saturating_add(count) > len {
                anyhow::bail!(
                    "block {bx},{by} of band {i} needs bytes {off}..{} but the member has {len}: truncated",
                    off.saturating_add(count)
                );
            }
        }
    }
    Ok(())
}
