//! Cloud-Optimized GeoTIFF output.
//!
//! GDAL 3.6's COG driver is CreateCopy-only, so the writer first fills a
//! tiled temp GTiff and this module copies it into a COG (overviews built by
//! the driver with the op's resampling) under a second temp name.

use std::ffi::CString;
use std::path::Path;

use crate::gdalenv;
use crate::job::JobCtx;

pub fn translate(job: &JobCtx, src: &Path, dst: &Path) -> anyhow::Result<()> {
    let ds = gdal::Dataset::open(src)?;
    let driver = gdal::DriverManager::get_driver_by_name("COG")?;
    let mut opts = gdal::cpl::CslStringList::new();
    for (k, v) in &job.output.creation_options {
        opts.set_name_value(k, v)?;
    }
    let c_dst = CString::new(dst.as_os_str().as_encoded_bytes())?;
    gdalenv::clear_messages();
    // SAFETY: valid handles and NUL-terminated strings.
    let h = unsafe {
        gdal_sys::GDALCreateCopy(
            driver.c_driver(),
            c_dst.as_ptr(),
            ds.c_dataset(),
            0,
            opts.as_ptr(),
            None,
            std::ptr::null_mut(),
        )
    };
    if h.is_null() {
        let why = gdalenv::first_failure().unwrap_or_else(|| "COG CreateCopy failed".into());
        anyhow::bail!("creating COG: {}", why.trim());
    }
    // SAFETY: we own the handle.
    unsafe { gdal_sys::GDALClose(h) };
    if let Some(msg) = gdalenv::first_failure() {
        anyhow::bail!("creating COG: {}", msg.trim());
    }
    Ok(())
}
