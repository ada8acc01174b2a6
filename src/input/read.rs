//! The one reader of pixels: a window of some bands, as f64, with nodata
//! and masked pixels (alpha band or internal mask) turned into NaN unless
//! the policy asks for raw values. Workers and the statistics pass both read
//! through here, so they can never disagree on what counts as nodata.

use anyhow::Context;
use gdal::raster::GdalType;
use gdal::Dataset;
use gdal_sys::GDALDataType;
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
    let mut buf = Vec::new();
    let units = vec![None; bands.len()];
    read_masked_into(ds, meta, win, bands, policy, &units, &mut buf)?;
    Ok(buf)
}

/// [`read_masked`] appending to `buf`, then each band's `units[i]`
/// (`raw × scale + offset`) applied in the same pass; masked pixels stay
/// NaN either way. Callers that resample pass no units: the unscale comes
/// after resampling.
///
/// Bands of one integer (or Float32) type are read in that type and
/// widened here, fused with the nodata test and the unscale: one pass over
/// the window instead of GDAL's conversion to f64 plus two more, and the
/// same values, since every such sample is exact in f64.
pub fn read_masked_into(
    ds: &Dataset,
    meta: &InputMeta,
    win: Window,
    bands: &[usize],
    policy: NodataPolicy,
    units: &[Option<(f64, f64)>],
    buf: &mut Vec<f64>,
) -> anyhow::Result<()> {
    let at = buf.len();
    let nodata: Vec<Option<f64>> = bands
        .iter()
        .map(|&b| meta.bands[b - 1].nodata)
        .map(|nd| nd.filter(|_| policy != NodataPolicy::None))
        .collect();
    let t = bands.first().map(|&b| meta.bands[b - 1].gdal_type);
    let same = bands
        .iter()
        .all(|&b| Some(meta.bands[b - 1].gdal_type) == t);
    let spec = Widen {
        win,
        bands,
        nodata: &nodata,
        units,
    };
    match t.filter(|_| same) {
        Some(GDALDataType::GDT_Byte) => spec.read::<u8>(ds, buf),
        Some(GDALDataType::GDT_UInt16) => spec.read::<u16>(ds, buf),
        Some(GDALDataType::GDT_Int16) => spec.read::<i16>(ds, buf),
        Some(GDALDataType::GDT_UInt32) => spec.read::<u32>(ds, buf),
        Some(GDALDataType::GDT_Int32) => spec.read::<i32>(ds, buf),
        Some(GDALDataType::GDT_Float32) => spec.read::<f32>(ds, buf),
        _ => spec.read_f64(ds, buf),
    }
    .context("reading failed")?;
    if policy == NodataPolicy::None {
        return Ok(());
    }
    let plane = win.pixels();
    for (i, &b) in bands.iter().enumerate() {
        if meta.bands[b - 1].has_mask {
            let slice = &mut buf[at + i * plane..at + (i + 1) * plane];
            apply_mask(ds, b, win, slice).context("reading mask failed")?;
        }
    }
    Ok(())
}

/// One read: its window and bands, and per band the nodata to test
/// (None under policy `none`) and the units to apply.
struct Widen<'a> {
    win: Window,
    bands: &'a [usize],
    nodata: &'a [Option<f64>],
    units: &'a [Option<(f64, f64)>],
}

impl Widen<'_> {
    /// Read as `T`, then widen each plane onto `buf`.
    fn read<T: GdalType + Copy + Into<f64>>(
        &self,
        ds: &Dataset,
        buf: &mut Vec<f64>,
    ) -> anyhow::Result<()> {
        let mut raw = Vec::<T>::new();
        crate::gdal::rasterio::read_bands_into(ds, self.win, self.bands, &mut raw)?;
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { self.widen_avx2(&raw, buf) };
            return Ok(());
        }
        self.widen(&raw, buf);
        Ok(())
    }

    /// [`Widen::widen`] compiled for AVX2: the same values, in fewer
    /// instructions.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn widen_avx2<T: Copy + Into<f64>>(&self, raw: &[T], buf: &mut Vec<f64>) {
        self.widen(raw, buf)
    }

    /// Each plane of `raw` onto `buf`: nodata to NaN, then the units.
    #[inline(always)]
    fn widen<T: Copy + Into<f64>>(&self, raw: &[T], buf: &mut Vec<f64>) {
        buf.reserve(raw.len());
        let planes = raw.chunks_exact(self.win.pixels().max(1));
        for ((plane, nd), u) in planes.zip(self.nodata).zip(self.units) {
            // NaN nodata already is "nodata" downstream; NaN equals nothing.
            let nd = nd.unwrap_or(f64::NAN);
            let raw = plane.iter().map(|&r| r.into());
            match *u {
                Some((s, o)) => {
                    buf.extend(raw.map(|v: f64| if v == nd { f64::NAN } else { v * s + o }))
                }
                None => buf.extend(raw.map(|v: f64| if v == nd { f64::NAN } else { v })),
            }
        }
    }

    /// Any other type: GDAL converts to f64, then nodata and units in place.
    fn read_f64(&self, ds: &Dataset, buf: &mut Vec<f64>) -> anyhow::Result<()> {
        let at = buf.len();
        crate::gdal::rasterio::read_bands_into(ds, self.win, self.bands, buf)?;
        let planes = buf[at..].chunks_exact_mut(self.win.pixels().max(1));
        for ((plane, nd), u) in planes.zip(self.nodata).zip(self.units) {
            if let Some(nd) = nd {
                mask_nodata(plane, *nd);
            }
            if let Some((s, o)) = *u {
                plane.iter_mut().for_each(|v| *v = *v * s + o);
            }
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use gdal::raster::{Buffer, GdalType};
    use gdal::{Dataset, DriverManager};

    use super::*;
    use crate::input::Limits;

    const W: usize = 37;
    const H: usize = 23;
    const UNITS: (f64, f64) = (2.75e-5, -0.2);

    /// A two-band `T` file whose samples run over `vals` (extremes, the
    /// nodata value, zero), band 1 with nodata `nd`; band 2 also gets `nd`
    /// when the type is Float32, to cover a NaN nodata.
    fn file<T: GdalType + Copy>(
        dir: &std::path::Path,
        vals: &[T],
        nd: f64,
    ) -> (Dataset, InputMeta) {
        let path = dir.join(format!("t{}.tif", T::gdal_ordinal()));
        let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
        let ds = driver
            .create_with_band_type::<T, _>(&path, W, H, 2)
            .unwrap();
        for b in 1..=2 {
            let mut band = ds.rasterband(b).unwrap();
            let data = (0..W * H)
                .map(|i| vals[(i * 7 + b * 3) % vals.len()])
                .collect();
            band.write((0, 0), (W, H), &mut Buffer::new((W, H), data))
                .unwrap();
        }
        ds.rasterband(1)
            .unwrap()
            .set_no_data_value(Some(nd))
            .unwrap();
        if T::gdal_ordinal() == GDALDataType::GDT_Float32 {
            ds.rasterband(2)
                .unwrap()
                .set_no_data_value(Some(f64::NAN))
                .unwrap();
        }
        drop(ds);
        let ds = Dataset::open(&path).unwrap();
        let meta = InputMeta::read(&path, &ds, &Limits::default()).unwrap();
        (ds, meta)
    }

    /// Reads through the typed fast path (appending after a sentinel) and
    /// checks every sample, bit for bit, against GDAL's own f64 conversion
    /// with nodata and units applied here.
    fn check<T: GdalType + Copy>(vals: &[T], nd: f64) {
        let dir = tempfile::tempdir().unwrap();
        let (ds, meta) = file(dir.path(), vals, nd);
        let win = Window {
            x: 3,
            y: 2,
            w: 20,
            h: 15,
        };
        for policy in [NodataPolicy::Propagate, NodataPolicy::None] {
            let mut got = vec![7.0];
            let units = [Some(UNITS), None];
            read_masked_into(&ds, &meta, win, &[1, 2], policy, &units, &mut got).unwrap();
            let raw = crate::gdal::rasterio::read_bands(&ds, win, &[1, 2]).unwrap();
            let mut want = vec![7.0];
            for (i, plane) in raw.chunks(win.pixels()).enumerate() {
                let nd = meta.bands[i]
                    .nodata
                    .filter(|_| policy != NodataPolicy::None);
                want.extend(plane.iter().map(|&v| match (nd, units[i]) {
                    (Some(nd), _) if v == nd => f64::NAN,
                    (_, Some((s, o))) => v * s + o,
                    _ => v,
                }));
            }
            assert_eq!(got.len(), want.len());
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
                assert!(same, "{} sample {k}: got {g}, want {w}", T::gdal_ordinal());
            }
        }
    }

    #[test]
    fn typed_reads_widen_like_gdal() {
        check::<u8>(&[0, 1, 9, 200, 254, 255], 9.0);
        check::<u16>(&[0, 1, 21824, 65534, 65535, 2], 1.0);
        check::<i16>(&[i16::MIN, -1, 0, 1, 300, i16::MAX], -1.0);
        check::<u32>(&[0, 1, 70000, u32::MAX - 1, u32::MAX], 4294967295.0);
        check::<i32>(&[i32::MIN, -5, 0, 12345, i32::MAX], -5.0);
        let f = [
            f32::NAN,
            -0.0,
            0.0,
            1e-40,
            -3.5,
            f32::MAX,
            f32::MIN,
            -9999.0,
        ];
        check::<f32>(&f, -9999.0);
    }
}
