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

use std::ffi::{c_char, c_int, CString};
use std::path::Path;

#[allow(clippy::upper_case_acronyms)]
enum TIFF {}

// `rawtiff` declares some of these with its own opaque handle type; both
// are pointers to the same C struct, so the clash is only nominal.
#[allow(clashing_extern_declarations)]
#[link(name = "tiff")]
extern "C" {
    fn TIFFOpen(name: *const c_char, mode: *const c_char) -> *mut TIFF;
    fn TIFFClose(tif: *mut TIFF);
    fn TIFFIsTiled(tif: *mut TIFF) -> c_int;
    fn TIFFNumberOfTiles(tif: *mut TIFF) -> u32;
    fn TIFFNumberOfStrips(tif: *mut TIFF) -> u32;
    fn TIFFGetStrileOffsetWithErr(tif: *mut TIFF, strile: u32, err: *mut c_int) -> u64;
    fn TIFFGetStrileByteCountWithErr(tif: *mut TIFF, strile: u32, err: *mut c_int) -> u64;
}

/// Closes the handle on every path out.
struct Handle(*mut TIFF);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: a handle returned non-null by TIFFOpen, closed once.
        unsafe { TIFFClose(self.0) }
    }
}

/// Check every block of the first image in the TIFF at `path`.
pub fn check(path: &Path, allow_sparse: bool) -> anyhow::Result<()> {
    let len = std::fs::metadata(path)?.len();
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())?;
    // "O": load block offsets on demand, so a hostile count is never
    // allocated up front (libtiff ≥ 4.1; Debian 12 has 4.5).
    // SAFETY: NUL-terminated path and mode.
    let tif = unsafe { TIFFOpen(c_path.as_ptr(), c"rO".as_ptr()) };
    if tif.is_null() {
        let why =
            crate::gdalenv::first_failure().unwrap_or_else(|| "libtiff cannot open it".into());
        anyhow::bail!("{}", why.trim());
    }
    let h = Handle(tif);
    // SAFETY: valid handle for the whole block below.
    let (tiled, n) = unsafe {
        let tiled = TIFFIsTiled(h.0) != 0;
        let n = if tiled {
            TIFFNumberOfTiles(h.0)
        } else {
            TIFFNumberOfStrips(h.0)
        };
        (tiled, n)
    };
    let what = if tiled { "tile" } else { "strip" };
    for i in 0..n {
        let (mut e1, mut e2) = (0, 0);
        // SAFETY: valid handle, i < number of striles.
        let (off, count) = unsafe {
            (
                TIFFGetStrileOffsetWithErr(h.0, i, &mut e1),
                TIFFGetStrileByteCountWithErr(h.0, i, &mut e2),
            )
        };
        if e1 != 0 || e2 != 0 {
            anyhow::bail!(
                "cannot read where {what} {i} of {n} is stored: the TIFF is damaged or truncated"
            );
        }
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
