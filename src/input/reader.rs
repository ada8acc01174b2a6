//! One input of a running job, settled: its snapshot, the nodata it is read
//! with, the units its bands are converted to, and how it reaches the output
//! grid. Plain data (`Send + Sync`): workers open their own handle with
//! [`Reader::open`] and read output windows with [`Reader::read`].
//!
//! Order of operations per window, which is what the README promises:
//! nodata is tested on the raw values (a band's own or the input's
//! `nodata` override), then the input is resampled onto the output grid
//! (invalid pixels take no part), then unscaled (`raw × scale + offset`,
//! linear, so it commutes with the normalised resampling kernels).

use gdal::Dataset;
use gdal_sys::GDALDataType;
use ndarray::ArrayView2;

use crate::input::resample::{self, Ratio};
use crate::input::source::{Location, Source};
use crate::input::InputMeta;
use crate::ops::{NodataPolicy, Resampling};
use crate::window::Window;

#[derive(Debug, Clone)]
pub struct Reader {
    pub source: Source,
    /// The snapshot, with the input's `nodata` override applied to its bands.
    pub meta: InputMeta,
    /// Per band (index 0 = band 1): `(scale, offset)` applied after reading.
    pub units: Vec<Option<(f64, f64)>>,
    pub ratio: Ratio,
    pub method: Resampling,
}

impl Reader {
    /// Settle how `source` is read, given its snapshot and its ratio to the
    /// output grid. Errors are for the user: an option that cannot be honoured.
    pub fn new(source: Source, mut meta: InputMeta, ratio: Ratio) -> Result<Reader, String> {
        let s = &source.settings;
        if let Some(nd) = s.nodata {
            for b in &mut meta.bands {
                b.nodata = Some(nd);
            }
        }
        let method = s.resampling.unwrap_or(Resampling::Nearest);
        if !resample::allowed(method, ratio) {
            return Err(format!(
                "{}: resampling '{}' is not available here (inputs coarser than the output \
                 grid: nearest, bilinear, cubic, average; finer: nearest, average)",
                source.shown(),
                method.gdal_name().to_ascii_lowercase()
            ));
        }
        let unscale = s.unscale.unwrap_or(false);
        let units = meta
            .bands
            .iter()
            .map(|b| {
                let own = if unscale {
                    (b.scale.unwrap_or(1.0), b.offset.unwrap_or(0.0))
                } else {
                    (1.0, 0.0)
                };
                let u = (s.scale.unwrap_or(own.0), s.offset.unwrap_or(own.1));
                (u != (1.0, 0.0)).then_some(u)
            })
            .collect();
        Ok(Reader {
            source,
            meta,
            units,
            ratio,
            method,
        })
    }

    /// Open a handle of this worker's own on the input.
    pub fn open(&self, drivers: &[String]) -> anyhow::Result<Dataset> {
        match &self.source.location {
            Location::File(p) => crate::input::open(p, drivers),
            m @ Location::Member { .. } => crate::input::open_member(&m.gdal_path(), drivers),
        }
    }

    /// Sample types as the expression sees them: an unscaled band is no
    /// longer whole numbers, so it counts as Float64 (bitwise refused).
    pub fn band_types(&self) -> Vec<GDALDataType::Type> {
        self.meta
            .bands
            .iter()
            .zip(&self.units)
            .map(|(b, u)| match u {
                Some(_) => GDALDataType::GDT_Float64,
                None => b.gdal_type,
            })
            .collect()
    }

    /// `bands` (1-based) over output window `out`, band after band, on
    /// the output grid, nodata NaN (unless the policy is `none`), unscaled,
    /// appended to `buf` (so several inputs share one buffer, uncopied).
    pub fn read_into(
        &self,
        ds: &Dataset,
        out: Window,
        bands: &[usize],
        policy: NodataPolicy,
        buf: &mut Vec<f64>,
    ) -> anyhow::Result<()> {
        let size = (self.meta.width, self.meta.height);
        let src = resample::source_window(out, self.ratio, self.method, size);
        let units: Vec<_> = bands.iter().map(|&b| self.units[b - 1]).collect();
        if self.ratio.is_same() {
            // No resampling between: unscale while widening.
            let read = crate::input::read::read_masked_into;
            return read(ds, &self.meta, src, bands, policy, &units, buf);
        }
        let raw = crate::input::read::read_masked(ds, &self.meta, src, bands, policy)?;
        for (plane, u) in raw.chunks_exact(src.pixels()).zip(units) {
            let v = ArrayView2::from_shape((src.h, src.w), plane)?;
            let r = resample::resample(v, src, size, out, self.ratio, self.method);
            match u {
                Some((scale, offset)) => buf.extend(r.iter().map(|v| v * scale + offset)),
                None => buf.extend(r.iter()),
            }
        }
        Ok(())
    }

    /// What provenance records about this input beyond its file name.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.source.location.file_name()];
        let mut seen = Vec::new();
        for u in self.units.iter().flatten() {
            if !seen.contains(u) {
                seen.push(*u);
                parts.push(format!("scale {} offset {}", u.0, u.1));
            }
        }
        if !self.ratio.is_same() {
            let dir = if self.ratio.coarser { "up" } else { "down" };
            parts.push(format!(
                "{}× {dir} by {}",
                self.ratio.k,
                self.method.gdal_name().to_ascii_lowercase()
            ));
        }
        parts.join(", ")
    }
}
