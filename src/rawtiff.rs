//! Writing pre-compressed blocks into a GeoTIFF through libtiff.
//!
//! Compression is the most expensive stage of a write, and GDAL 3.6 can only
//! compress inside the thread that writes (or a pool it owns), which would
//! make the single writer the bottleneck. So workers compress whole blocks
//! with GDAL itself ([`crate::encode`]) and the writer appends those bytes
//! with `TIFFWriteRawTile`/`TIFFWriteRawStrip` into a skeleton file that GDAL
//! created (every tag, GeoTIFF key and metadata item already in place, all
//! blocks still sparse). GDAL's libtiff is the system libtiff, and GDAL has
//! installed its tag extender and error handlers process-wide, so the
//! rewritten directory keeps GDAL's tags and libtiff's errors reach
//! `gdalenv` like any GDAL error.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;

#[allow(clippy::upper_case_acronyms)]
enum TIFF {}

#[link(name = "tiff")]
extern "C" {
    fn TIFFOpen(name: *const c_char, mode: *const c_char) -> *mut TIFF;
    fn TIFFClose(tif: *mut TIFF);
    fn TIFFWriteRawTile(tif: *mut TIFF, tile: u32, data: *mut c_void, cc: i64) -> i64;
    fn TIFFWriteRawStrip(tif: *mut TIFF, strip: u32, data: *mut c_void, cc: i64) -> i64;
    fn TIFFIsTiled(tif: *mut TIFF) -> c_int;
}

/// An open libtiff handle on a skeleton file; owned by the writer thread.
pub struct RawTiff {
    tif: *mut TIFF,
    tiled: bool,
}

// SAFETY: the handle is used by one thread at a time (the writer); it is
// only moved, never shared.
unsafe impl Send for RawTiff {}

impl RawTiff {
    pub fn open(path: &Path) -> anyhow::Result<RawTiff> {
        let c = CString::new(path.as_os_str().as_encoded_bytes())?;
        // SAFETY: valid NUL-terminated strings.
        let tif = unsafe { TIFFOpen(c.as_ptr(), c"r+".as_ptr()) };
        anyhow::ensure!(
            !tif.is_null(),
            "libtiff could not reopen {}",
            path.display()
        );
        // SAFETY: valid handle.
        let tiled = unsafe { TIFFIsTiled(tif) } != 0;
        Ok(RawTiff { tif, tiled })
    }

    /// Append one compressed block (tile or strip) at `index`.
    pub fn write(&mut self, index: u32, data: &[u8]) -> anyhow::Result<()> {
        let ptr = data.as_ptr() as *mut c_void;
        let n = data.len() as i64;
        // SAFETY: libtiff only reads `data` for `n` bytes.
        let written = unsafe {
            if self.tiled {
                TIFFWriteRawTile(self.tif, index, ptr, n)
            } else {
                TIFFWriteRawStrip(self.tif, index, ptr, n)
            }
        };
        anyhow::ensure!(written == n, "libtiff failed writing block {index}");
        Ok(())
    }

    /// Flush the block index and close.
    pub fn close(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        if !self.tif.is_null() {
            // SAFETY: valid handle, closed once.
            unsafe { TIFFClose(self.tif) };
            self.tif = std::ptr::null_mut();
        }
    }
}

impl Drop for RawTiff {
    fn drop(&mut self) {
        self.shut();
    }
}
