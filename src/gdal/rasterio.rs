//! Band-sequential dataset RasterIO, for reads and writes alike.
//!
//! Reading and writing several bands in one call matters: a
//! pixel-interleaved tile is decoded (or encoded) once for all bands. And a
//! CE_None return is not enough: GDAL reports some decode and write failures
//! only through the error handler, so every call also checks the messages
//! this thread raised.

use gdal::raster::GdalType;
use gdal::Dataset;
use gdal_sys::{CPLErr, GDALDataType, GDALRWFlag};

use crate::window::Window;

/// Read `bands` over `win` as f64, band-sequential.
pub fn read_bands(ds: &Dataset, win: Window, bands: &[usize]) -> anyhow::Result<Vec<f64>> {
    let mut buf = Vec::new();
    read_bands_into(ds, win, bands, &mut buf)?;
    Ok(buf)
}

/// Append `bands` over `win` to `buf` as `T` (GDAL converts), band-sequential.
///
/// The new samples are not zeroed first: GDAL overwrites every sample, and
/// zeroing a few MB per window was pure memory traffic (about 1 GB of memset
/// for an 8192² two-band read), the kind of work that slows most when both
/// cores stream at once (BENCHMARKS.md, "Codec-bound scene").
pub fn read_bands_into<T: GdalType + Copy>(
    ds: &Dataset,
    win: Window,
    bands: &[usize],
    buf: &mut Vec<T>,
) -> anyhow::Result<()> {
    let n = win.pixels() * bands.len();
    let at = buf.len();
    buf.reserve(n);
    // SAFETY: `buf` has room for n more `T` past `at`, which GDAL writes
    // (GF_Read) before `set_len` claims them; on an error the length is
    // left at `at`, so no unwritten sample is ever read.
    unsafe {
        io(
            ds,
            GDALRWFlag::GF_Read,
            win,
            bands,
            T::gdal_ordinal(),
            buf.as_mut_ptr().add(at).cast(),
        )?;
        buf.set_len(at + n);
    }
    Ok(())
}

/// Write band-sequential `data` of type `t` covering `win` to bands 1..=n.
pub fn write_bands(
    ds: &Dataset,
    win: Window,
    n: usize,
    t: GDALDataType::Type,
    data: &[u8],
) -> anyhow::Result<()> {
    // SAFETY: a pure lookup on the type code.
    let size = unsafe { gdal_sys::GDALGetDataTypeSizeBytes(t) } as usize;
    anyhow::ensure!(
        size > 0 && data.len() == win.pixels() * n * size,
        "buffer size mismatch"
    );
    let bands: Vec<usize> = (1..=n).collect();
    // SAFETY: `data` holds exactly n × w × h samples of type `t`; GDAL only
    // reads it for GF_Write.
    unsafe {
        io(
            ds,
            GDALRWFlag::GF_Write,
            win,
            &bands,
            t,
            data.as_ptr() as *mut _,
        )
    }
}

/// # Safety
/// `buf` must hold `bands.len() × win.w × win.h` samples of `t`,
/// band-sequential (what zero spacings mean to GDAL).
unsafe fn io(
    ds: &Dataset,
    flag: GDALRWFlag::Type,
    win: Window,
    bands: &[usize],
    t: GDALDataType::Type,
    buf: *mut std::ffi::c_void,
) -> anyhow::Result<()> {
    let mut map: Vec<i32> = bands.iter().map(|&b| b as i32).collect();
    let err = gdal_sys::GDALDatasetRasterIO(
        ds.c_dataset(),
        flag,
        win.x as i32,
        win.y as i32,
        win.w as i32,
        win.h as i32,
        buf,
        win.w as i32,
        win.h as i32,
        t,
        map.len() as i32,
        map.as_mut_ptr(),
        0,
        0,
        0,
    );
    check(err)
}

/// Fail on a GDAL failure raised on this thread, or on a failing return.
pub fn check(err: CPLErr::Type) -> anyhow::Result<()> {
    if let Some(msg) = crate::gdal::env::first_failure() {
        anyhow::bail!("{}", msg.trim());
    }
    anyhow::ensure!(err == CPLErr::CE_None, "GDAL RasterIO failed");
    Ok(())
}
