//! Terrain ops — `hillshade`, `slope`, `aspect` — that reproduce
//! `gdaldem … -compute_edges` of GDAL 3.6.2, so tilerun can replace gdaldem
//! in existing pipelines: in the parity tests every value is identical but
//! one hillshade pixel, 1 DN off (see the README). Where gdaldem 3.6.2 is
//! wrong (aspect of south-up and east-to-west DEMs) tilerun is right
//! instead.
//!
//! # Edge and nodata rule (gdaldem `-compute_edges`)
//! Every output cell comes from a 3×3 window around it:
//! * centre nodata → output nodata;
//! * a raster thinner than 2 cells in either direction → all nodata;
//! * first/last raster row: the missing row is extrapolated per column as
//!   `2·inside − next_inside` (gdaldem's `INTERPOL`), while the missing
//!   corner columns are *clamped* (the centre column is repeated);
//! * other rows at the first/last column: the missing column is
//!   extrapolated per row the same way;
//! * an extrapolation involving nodata is nodata, and every nodata cell of
//!   the window is then replaced by the centre value.
//!
//! Because a cell only needs its 1-cell neighbourhood and the engine always
//! reads that halo where the raster has it, a block's own edges are exactly
//! the raster's edges, and windowed output is bit-identical to whole-raster
//! output.
//!
//! # Geometry
//! Pixel size is `gt[1]` (east-west) and `gt[5]` (north-south, negative for
//! north-up). The products describe the terrain, not the storage order: a
//! DEM stored bottom row first (`gt[5] > 0`) or east to west (`gt[1] < 0`)
//! is read as its north-up, west-to-east mirror image, computed exactly as
//! gdaldem computes a north-up DEM, and the result mirrored back. gdaldem
//! 3.6.2 does not do this for aspect, which takes raw row/column
//! differences, so its aspect of a south-up or east-to-west DEM is the
//! mirror of the true one (up to 180° off); hillshade and slope use the
//! signed pixel size and were already right. Rotation terms (`gt[2]`,
//! `gt[4]`) are ignored like gdaldem ignores them, with a warning. A
//! missing geotransform is taken as 1×1 pixels with row 0 at the top
//! (north), as every viewer draws such a raster (warned about); gdaldem
//! uses `[0,1,0,0,0,1]` there, i.e. south-up for hillshade but north-up for
//! aspect. Aspect, like gdaldem's, ignores pixel size (on non-square pixels
//! it is the aspect of the pixel grid). For a geographic CRS without an
//! explicit `scale`, `scale=111120` (metres per degree, gdaldem's documented
//! `-s` for metre DEMs; gdaldem's own default is 1) is applied and reported
//! as a warning and in the job summary.
//!
//! # Values
//! Hillshade is `1 + 254·cos(angle)` rounded half-up like GDAL's float→Byte
//! conversion (so it is integral whatever `--ot` is), 1 when in shadow,
//! nodata 0. Slope/aspect are Float32 with nodata −9999; flat cells have
//! aspect nodata unless `zero_for_flat`. Arithmetic mirrors gdaldem's
//! (see `kernel`).
//!
//! # Known differences from gdaldem 3.6.2
//! * south-up / east-to-west DEMs and DEMs without a geotransform (see
//!   *Geometry*);
//! * `zero_for_flat`: gdaldem then writes no output nodata, so nodata
//!   centres become 0 too; here they stay nodata.
//! * gdaldem divides by an SSE reciprocal-square-root estimate in
//!   hillshade of integer DEMs; we use an exact `sqrt` (≤ 1 DN at rounding
//!   ties).
//! * gdaldem also treats values within two float epsilons of the nodata
//!   value (relative to their sum), and an edge extrapolation landing on
//!   it, as nodata; we see only the cells the engine masked (NaN).
//! * `-igor` shading is not offered.

mod kernel;
pub mod params;
mod sweep;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod build_tests;
#[cfg(test)]
mod fast_path_tests;
#[cfg(test)]
mod gdaldem_oracle;
#[cfg(test)]
mod gdaldem_parity;
#[cfg(test)]
mod orientation_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

use ndarray::{Array2, Axis};

pub use kernel::{aspect, Gradient, Product, Shading, Terrain};
pub use sweep::window;

use super::{Block, InputInfo, Op, OpError, OutType, Params};
use params::Taker;

/// Metres per degree, gdaldem's `-s` for metre elevations on lat/long grids.
pub const GEOGRAPHIC_SCALE: f64 = 111_120.0;

/// The `--set` keys each terrain op takes.
pub fn keys(op: &str) -> &'static [&'static str] {
    match op {
        "hillshade" => &[
            "band",
            "alg",
            "scale",
            "azimuth",
            "altitude",
            "z",
            "multidirectional",
            "combined",
        ],
        "slope" => &["band", "alg", "scale", "units"],
        _ => &["band", "alg", "scale", "trigonometric", "zero_for_flat"],
    }
}

/// Build a terrain op from `--set` parameters. Warnings are for the caller
/// to log (they do not stop the run).
pub fn build(
    op: &str,
    params: &Params,
    info: &InputInfo,
) -> Result<(Box<dyn Op>, Vec<String>), OpError> {
    let name = match op {
        "hillshade" => "hillshade",
        "slope" => "slope",
        "aspect" => "aspect",
        other => return Err(OpError::new(other, "not a terrain op")),
    };
    let mut t = Taker::new(name, params, keys(name));
    let band = t.band(info)?;
    let gradient = take_gradient(&mut t)?;
    let scale = t.number("scale", |v| v > 0.0, "a positive number")?;
    let product = take_product(name, &mut t)?;
    t.finish()?;

    let mut warnings = Vec::new();
    let gt = pixel_geometry(name, info, &mut warnings)?;
    let uses_scale = !matches!(product, Product::Aspect { .. });
    let scale = match scale {
        Some(s) => s,
        None if info.geographic && uses_scale => {
            warnings.push(format!(
                "{name}: input CRS is geographic; using scale={GEOGRAPHIC_SCALE} (metres per degree, \
                 gdaldem -s {GEOGRAPHIC_SCALE}; gdaldem's default is 1); override with --set scale=..."
            ));
            GEOGRAPHIC_SCALE
        }
        None => 1.0,
    };
    // The kernel always sees a north-up, west-to-east DEM (see *Geometry*).
    let kernel = Terrain::new(product, gradient, gt[1].abs(), -gt[5].abs(), scale);
    let describe = format!("{name} band={band} alg={gradient:?} scale={scale} {product:?}");
    Ok((
        Box::new(TerrainOp {
            name,
            bands: [band],
            kernel,
            mirror: Mirror {
                rows: gt[5] > 0.0,
                cols: gt[1] < 0.0,
            },
            scale: uses_scale.then_some(scale),
            describe,
        }),
        warnings,
    ))
}

/// `alg=Horn|ZevenbergenThorne`, any case; Horn when not given.
fn take_gradient(t: &mut Taker) -> Result<Gradient, OpError> {
    Ok(match t.take("alg").as_deref() {
        None => Gradient::Horn,
        Some(s) if s.eq_ignore_ascii_case("horn") => Gradient::Horn,
        Some(s) if s.eq_ignore_ascii_case("zevenbergenthorne") => Gradient::ZevenbergenThorne,
        Some(s) => {
            return Err(t.err_at(
                "alg",
                format!("alg must be Horn or ZevenbergenThorne, got '{s}'"),
            ))
        }
    })
}

/// The product op `name` computes, from the keys only it takes.
fn take_product(name: &str, t: &mut Taker) -> Result<Product, OpError> {
    Ok(match name {
        "hillshade" => take_hillshade(t)?,
        "slope" => {
            let percent = match t.take("units").as_deref() {
                None => false,
                Some(s) if s.eq_ignore_ascii_case("degrees") => false,
                Some(s) if s.eq_ignore_ascii_case("percent") => true,
                Some(s) => {
                    return Err(t.err_at(
                        "units",
                        format!("units must be degrees or percent, got '{s}'"),
                    ))
                }
            };
            Product::Slope { percent }
        }
        _ => Product::Aspect {
            trigonometric: t.flag("trigonometric")?,
            zero_for_flat: t.flag("zero_for_flat")?,
        },
    })
}

/// Light direction, `z` and shading mode; `multidirectional` excludes both
/// `combined` and an explicit `azimuth`, as in gdaldem.
fn take_hillshade(t: &mut Taker) -> Result<Product, OpError> {
    let az = t.number("azimuth", |v| (0.0..=360.0).contains(&v), "within 0..360")?;
    let altitude = t
        .number("altitude", |v| (0.0..=90.0).contains(&v), "within 0..90")?
        .unwrap_or(45.0);
    let z = t.number("z", |_| true, "a number")?.unwrap_or(1.0);
    let multi = t.flag("multidirectional")?;
    let combined = t.flag("combined")?;
    let shading = match (multi, combined) {
        (true, true) => {
            return Err(t.err_at(
                "multidirectional",
                "multidirectional and combined cannot be used together",
            ))
        }
        (true, false) if az.is_some() => {
            return Err(t.err_at(
                "multidirectional",
                "multidirectional and azimuth cannot be used together",
            ))
        }
        (true, false) => Shading::MultiDirectional,
        (false, true) => Shading::Combined,
        (false, false) => Shading::Standard,
    };
    Ok(Product::Hillshade {
        azimuth: az.unwrap_or(315.0),
        altitude,
        z,
        shading,
    })
}

/// The input's geotransform, or 1x1 north-up pixels when it has none
/// (warned); an unusable pixel size is refused and a rotation warned about
/// (see *Geometry*).
fn pixel_geometry(
    name: &str,
    info: &InputInfo,
    warnings: &mut Vec<String>,
) -> Result<[f64; 6], OpError> {
    let gt = info.geo_transform.unwrap_or_else(|| {
        warnings.push(format!(
            "{name}: input has no geotransform; using 1x1 pixels, row 0 at the top (north)"
        ));
        [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]
    });
    if !(gt[1].is_finite() && gt[5].is_finite() && gt[1] != 0.0 && gt[5] != 0.0) {
        return Err(OpError::new(
            name,
            format!(
                "unusable pixel size {} x {} in the geotransform",
                gt[1], gt[5]
            ),
        ));
    }
    if gt[2] != 0.0 || gt[4] != 0.0 {
        warnings.push(format!(
            "{name}: geotransform is rotated; like gdaldem, only pixel width {} and height {} are used",
            gt[1], gt[5]
        ));
    }
    Ok(gt)
}

struct TerrainOp {
    name: &'static str,
    bands: [usize; 1],
    kernel: Terrain,
    mirror: Mirror,
    /// The scale applied, for the job summary (aspect uses none).
    scale: Option<f64>,
    describe: String,
}

/// Which axes of the stored DEM run against north-up, west-to-east.
#[derive(Debug, Clone, Copy)]
struct Mirror {
    rows: bool,
    cols: bool,
}

impl Mirror {
    /// Run `kernel` on the north-up, west-to-east view of `block` and hand
    /// the result back in storage order. Mirroring is a view (negative
    /// strides); the kernel copies the block into its own grid anyway, so
    /// only the output costs one extra copy.
    fn run(self, kernel: &Terrain, block: &Block<'_>) -> Array2<f64> {
        let mut dem = block.bands[0].view();
        let mut core = block.core;
        let (rows, cols) = dem.dim();
        if self.rows {
            dem.invert_axis(Axis(0));
            core.row = rows - core.row - core.rows;
        }
        if self.cols {
            dem.invert_axis(Axis(1));
            core.col = cols - core.col - core.cols;
        }
        let mut out = kernel.run(dem, core);
        if self.rows {
            out.invert_axis(Axis(0));
        }
        if self.cols {
            out.invert_axis(Axis(1));
        }
        if self.rows || self.cols {
            out = out.as_standard_layout().into_owned();
        }
        out
    }
}

impl Op for TerrainOp {
    fn name(&self) -> &str {
        self.name
    }
    fn bands(&self) -> &[usize] {
        &self.bands
    }
    fn halo(&self) -> usize {
        1
    }
    fn out_bands(&self) -> usize {
        1
    }
    fn default_out_type(&self) -> OutType {
        if self.name == "hillshade" {
            OutType::Byte
        } else {
            OutType::Float32
        }
    }
    fn default_nodata(&self) -> Option<f64> {
        Some(if self.name == "hillshade" {
            0.0
        } else {
            -9999.0
        })
    }
    fn compute(&self, block: &Block<'_>) -> Vec<Array2<f64>> {
        vec![self.mirror.run(&self.kernel, block)]
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
    fn resolved(&self) -> Vec<(&'static str, f64)> {
        self.scale.map(|s| ("scale", s)).into_iter().collect()
    }
}
