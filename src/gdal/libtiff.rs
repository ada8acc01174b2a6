//! libtiff, declared once: the raw-block calls GDAL does not expose.
//!
//! Two users: the writer appends blocks that workers compressed with GDAL's
//! own codecs ([`crate::sink::encode`]) into a skeleton GDAL created, because
//! GDAL 3.6 can only compress inside the thread that writes and the single
//! writer would become the bottleneck; and the input check reads every
//! block's offset and size before any pixel is read
//! ([`crate::input::tiffcheck`]). GDAL's libtiff is the system libtiff, and
//! GDAL has installed its tag extender and error handlers process-wide, so a
//! rewritten directory keeps GDAL's tags and libtiff's errors reach
//! [`crate::gdal::env`] like any GDAL error.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;

#[allow(clippy::upper_case_acronyms)]
enum TIFF {}

#[link(name = "tiff")]
extern "C" {
    fn TIFFOpen(name: *const c_char, mode: *const c_char) -> *mut TIFF;
    fn TIFFClose(tif: *mut TIFF);
    fn TIFFIsTiled(tif: *mut TIFF) -> c_int;
    fn TIFFNumberOfTiles(tif: *mut TIFF) -> u32;
    fn TIFFNumberOfStrips(tif: *mut TIFF) -> u32;
    fn TIFFGetStrileOffsetWithErr(tif: *mut TIFF, strile: u32, err: *mut c_int) -> u64;
    fn TIFFGetStrileByteCountWithErr(tif: *mut TIFF, strile: u32, err: *mut c_int) -> u64;
    fn TIFFWriteRawTile(tif: *mut TIFF, tile: u32, data: *mut c_void, cc: i64) -> i64;
    fn TIFFWriteRawStrip(tif: *mut TIFF, strip: u32, data: *mut c_void, cc: i64) -> i64;
}

/// An open libtiff handle, closed on drop (which flushes the block index
/// of a file opened for update).
pub struct Tiff {
    tif: *mut TIFF,
    tiled: bool,
}

// SAFETY: the handle is used by one thread at a time; it is only moved,
// never shared.
unsafe impl Send for Tiff {}

impl Tiff {
    /// Open with a libtiff mode: "r+" to append blocks, "rO" to read block
    /// offsets on demand (so a hostile count is never allocated up front).
    pub fn open(path: &Path, mode: &std::ffi::CStr) -> anyhow::Result<Tiff> {
        let c = CString::new(path.as_os_str().as_encoded_bytes())?;
        // SAFETY: valid NUL-terminated strings.
        let tif = unsafe { TIFFOpen(c.as_ptr(), mode.as_ptr()) };
        if tif.is_null() {
            let why = crate::gdal::env::first_failure()
                .unwrap_or_else(|| format!("libtiff cannot open {}", path.display()));
            anyhow::bail!("{}", why.trim());
        }
        // SAFETY: valid handle.
        let tiled = unsafe { TIFFIsTiled(tif) } != 0;
        Ok(Tiff { tif, tiled })
    }

    pub fn is_tiled(&self) -> bool {
        self.tiled
    }

    /// Number of tiles or strips of the first image.
    pub fn blocks(&self) -> u32 {
        // SAFETY: valid handle.
        unsafe {
            if self.tiled {
                TIFFNumberOfTiles(self.tif)
            } else {
                TIFFNumberOfStrips(self.tif)
            }
        }
    }

    /// (offset, byte count) of block `i`, or None when libtiff cannot tell.
    pub fn block_extent(&self, i: u32) -> Option<(u64, u64)> {
        let (mut e1, mut e2) = (0, 0);
        // SAFETY: valid handle; libtiff checks `i` against the block count.
        let (off, count) = unsafe {
            (
                TIFFGetStrileOffsetWithErr(self.tif, i, &mut e1),
                TIFFGetStrileByteCountWithErr(self.tif, i, &mut e2),
            )
        };
        (e1 == 0 && e2 == 0).then_some((off, count))
    }

    /// Append one compressed block (tile or strip) at `index`. A short
    /// write keeps the OS error (ENOSPC, EDQUOT, ...) so the failure has the
    /// right kind and says "No space left on device".
    pub fn write_raw(&mut self, index: u32, data: &[u8]) -> anyhow::Result<()> {
        let ptr = data.as_ptr() as *mut c_void;
        let n = data.len() as i64;
        // libtiff reports a failed write(2) through its handler without
        // the errno; read it right after the call.
        errno_reset();
        // SAFETY: libtiff only reads `data` for `n` bytes.
        let written = unsafe {
            if self.tiled {
                TIFFWriteRawTile(self.tif, index, ptr, n)
            } else {
                TIFFWriteRawStrip(self.tif, index, ptr, n)
            }
        };
        if written == n {
            return Ok(());
        }
        let os = std::io::Error::last_os_error();
        let e = anyhow::anyhow!("libtiff failed writing block {index}");
        Err(match os.raw_os_error() {
            Some(code) if code != 0 => anyhow::Error::new(os).context(e.to_string()),
            _ => e,
        })
    }
}

fn errno_reset() {
    // SAFETY: errno is thread-local.
    unsafe { *libc::__errno_location() = 0 };
}

impl Drop for Tiff {
    fn drop(&mut self) {
        // SAFETY: valid handle, closed once.
        unsafe { TIFFClose(self.tif) };
    }
}
