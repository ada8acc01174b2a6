//! The one reader of pixels: a window of some bands, as f64, with nodata
//! and masked pixels (alpha band or internal mask) turned into NaN unless
//! the policy asks for raw values. Workers and the statistics pass both read
//! through here, so they can never disagree on what counts as nodata.

use anyhow::Context;
use gdal::Dataset;
use ndarray::ArrayViewMut2;

use crate::input::InputMeta;
use crate::ops::NodataPolicy;
use crate::window::Window;

/// Bands `bands` (1-based) over `win`, band after band.
pub fn read_masked(
    ds: &Dataset,
    meta: &InputMeta,
    win: Window,
    bands: &[usize],
    policy: NodataPolicy,
) -> anyhow::Result<Vec<f64>> {
    let mut buf = crate::gdal::rasterio::read_bands(ds, win, bands).context("reading failed")?;
    if policy == NodataPolicy::None {
        return Ok(buf);
    }
    let plane = win.pixels();
    for (i, &b) in bands.iter().enumerate() {
        let slice = &mut buf[i * plane..(i + 1) * plane];
        if let Some(nd) = meta.bands[b - 1].nodata {
            mask_nodata(slice, nd);
        }
        if meta.bands[b - 1].has_mask {
            apply_mask(ds, b, win, slice).context("reading mask failed")?;
        }
    }
    Ok(buf)
}

fn mask_nodata(data: &mut [f64], nodata: f64) {
    if nodata.is_nan() {
        return; // NaN already is "nodata" downstream.
    }
    for v in data.iter_mut() {
        if *v == nodata {
            *v = f64::NAN;
        }
    }
}

/// Honour an alpha band or internal mask: 0 in the mask means nodata.
fn apply_mask(ds: &Dataset, band: usize, win: Window, data: &mut [f64]) -> anyhow::Result<()> {
    let b = ds.rasterband(band)?;
    let mask = b.open_mask_band()?;
    let m = mask.read_as::<u8>(
        (win.x as isize, win.y as isize),
        (win.w, win.h),
        (win.w, win.h),
        None,
    )?;
    crate::gdal::rasterio::check(gdal_sys::CPLErr::CE_None)?;
    let mut view = ArrayViewMut2::from_shape((win.h, win.w), data)?;
    for (v, &k) in view.iter_mut().zip(m.data().iter()) {
        if k == 0 {
            *v = f64::NAN;
        }
    }
    Ok(())
}
