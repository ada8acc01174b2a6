//! The pure 3×3 terrain kernels, written to be read side by side with
//! GDAL 3.6's `apps/gdaldem_lib.cpp`: same constants, same order of float
//! operations, same `-compute_edges` window synthesis. Keeping the two
//! recognisably parallel is what lets us promise gdaldem parity.
//!
//! Precision follows gdaldem on purpose: elevations are narrowed to `f32`
//! (gdaldem reads every non-integer DEM as Float32), the window sums are done
//! in `f32`, and only the gradients onwards are `f64`. Computing the sums in
//! `f64` would be marginally more accurate but would drift from gdaldem by up
//! to ~1e-3° of slope on high, gentle terrain.

use ndarray::{Array2, ArrayView2};

use crate::ops::Core;

const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;
const RAD_TO_DEG: f64 = 180.0 / std::f64::consts::PI;
const INV_SQUARE_OF_HALF_PI: f64 = 1.0 / ((std::f64::consts::PI * std::f64::consts::PI) / 4.0);

/// How the first derivatives are estimated from the 3×3 window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gradient {
    /// Horn (1981): 3×3 weighted differences, gdaldem's default.
    Horn,
    /// Zevenbergen & Thorne (1987): central differences of the 4 neighbours.
    ZevenbergenThorne,
}

/// Hillshade illumination model (gdaldem's `-combined` / `-multidirectional`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shading {
    Standard,
    Combined,
    MultiDirectional,
}

/// What to compute, with its user-facing options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Product {
    Hillshade {
        azimuth: f64,
        altitude: f64,
        z: f64,
        shading: Shading,
    },
    Slope {
        percent: bool,
    },
    Aspect {
        trigonometric: bool,
        zero_for_flat: bool,
    },
}

/// A ready-to-run terrain kernel: options plus gdaldem's precomputed constants.
#[derive(Debug, Clone)]
pub struct Terrain {
    product: Product,
    gradient: Gradient,
    ewres: f64,
    nsres: f64,
    scale: f64,
    // Hillshade constants, named after gdaldem's GDALHillshadeAlgData fields.
    inv_ewres: f64,
    inv_nsres: f64,
    sin_alt: f64,
    sin_alt_254: f64,
    sin_alt_127: f64,
    cos_az_cos_alt_z: f64,
    sin_az_cos_alt_z: f64,
    cos_az_cos_alt_z_254: f64,
    sin_az_cos_alt_z_254: f64,
    cos_alt_z_127: f64,
    cos225_cos_alt_z_127: f64,
    square_z: f64,
    same_res: Option<SameRes>,
}

/// gdaldem's fast path for square, north-up pixels (`gt[1] == -gt[5]`) with
/// the standard Horn hillshade; it sums in a different order, so results can
/// differ in the last bits from the general path and we mirror it.
#[derive(Debug, Clone, Copy)]
struct SameRes {
    square_z_inv_res2: f64,
    cos_254_inv_res: f64,
    sin_254_inv_res: f64,
}

impl Terrain {
    /// `ewres`/`nsres` are the geotransform's `gt[1]`/`gt[5]` with their signs
    /// (north-up rasters have a negative `nsres`), exactly as gdaldem uses them.
    pub fn new(product: Product, gradient: Gradient, ewres: f64, nsres: f64, scale: f64) -> Self {
        let (azimuth, altitude, z) = match product {
            Product::Hillshade {
                azimuth,
                altitude,
                z,
                ..
            } => (azimuth, altitude, z),
            _ => (315.0, 45.0, 1.0),
        };
        let divisor = match gradient {
            Gradient::Horn => 8.0,
            Gradient::ZevenbergenThorne => 2.0,
        };
        let z_scaled = z / (divisor * scale);
        let az = azimuth * DEG_TO_RAD;
        let sin_alt = (altitude * DEG_TO_RAD).sin();
        let cos_alt_z = (altitude * DEG_TO_RAD).cos() * z_scaled;
        let cos_az_cos_alt_z = az.cos() * cos_alt_z;
        let sin_az_cos_alt_z = az.sin() * cos_alt_z;
        let inv_ewres = 1.0 / ewres;
        let inv_nsres = 1.0 / nsres;
        let square_z = z_scaled * z_scaled;
        let cos_az_cos_alt_z_254 = 254.0 * cos_az_cos_alt_z;
        let sin_az_cos_alt_z_254 = 254.0 * sin_az_cos_alt_z;
        let same_res = matches!(
            product,
            Product::Hillshade {
                shading: Shading::Standard,
                ..
            }
        ) && gradient == Gradient::Horn
            && ewres == -nsres;
        Terrain {
            product,
            gradient,
            ewres,
            nsres,
            scale,
            inv_ewres,
            inv_nsres,
            sin_alt,
            sin_alt_254: 254.0 * sin_alt,
            sin_alt_127: 127.0 * sin_alt,
            cos_az_cos_alt_z,
            sin_az_cos_alt_z,
            cos_az_cos_alt_z_254,
            sin_az_cos_alt_z_254,
            cos_alt_z_127: 127.0 * cos_alt_z,
            cos225_cos_alt_z_127: 127.0 * (225.0 * DEG_TO_RAD).cos() * cos_alt_z,
            square_z,
            same_res: same_res.then_some(SameRes {
                square_z_inv_res2: square_z * inv_ewres * inv_ewres,
                cos_254_inv_res: cos_az_cos_alt_z_254 * -inv_ewres,
                sin_254_inv_res: sin_az_cos_alt_z_254 * inv_ewres,
            }),
        }
    }

    /// Compute the `core` region of a halo'd block (see [`Core`]). Raster
    /// edges are recognised as the block's own edges: the engine always reads
    /// the 1-pixel halo where the raster has it.
    pub fn run(&self, dem: ArrayView2<'_, f64>, core: Core) -> Array2<f64> {
        let (rows, cols) = dem.dim();
        let grid: Vec<f32> = dem.iter().map(|&v| v as f32).collect();
        Array2::from_shape_fn((core.rows, core.cols), |(i, j)| {
            match window(&grid, rows, cols, core.row + i, core.col + j) {
                Some(w) => self.cell(&w),
                None => f64::NAN,
            }
        })
    }

    /// Compute a whole raster held in memory (the block *is* the raster).
    pub fn run_full(&self, dem: ArrayView2<'_, f64>) -> Array2<f64> {
        let (rows, cols) = dem.dim();
        self.run(
            dem,
            Core {
                row: 0,
                col: 0,
                rows,
                cols,
            },
        )
    }

    /// One output value from a complete (nodata-free) 3×3 window; NaN means
    /// nodata (only aspect's flat cells produce it here).
    pub fn cell(&self, w: &[f32; 9]) -> f64 {
        match self.product {
            Product::Hillshade { shading, .. } => {
                let v = match (shading, self.same_res) {
                    (Shading::Standard, Some(sr)) => self.hillshade_same_res(w, sr),
                    (Shading::Standard, None) => self.hillshade(w),
                    (Shading::Combined, _) => self.hillshade_combined(w),
                    (Shading::MultiDirectional, _) => self.hillshade_multi(w),
                };
                to_byte(v)
            }
            Product::Slope { percent } => self.slope(w, percent),
            Product::Aspect {
                trigonometric,
                zero_for_flat,
            } => aspect(w, self.gradient, trigonometric, zero_for_flat),
        }
    }

    fn gradient_xy(&self, w: &[f32; 9]) -> (f64, f64) {
        let (gx, gy) = raw_gradient(w, self.gradient);
        (gx * self.inv_ewres, gy * self.inv_nsres)
    }

    fn hillshade(&self, w: &[f32; 9]) -> f32 {
        let (x, y) = self.gradient_xy(w);
        let num =
            self.sin_alt_254 - (y * self.cos_az_cos_alt_z_254 - x * self.sin_az_cos_alt_z_254);
        let cang_254 = num / (1.0 + self.square_z * (x * x + y * y)).sqrt();
        (if cang_254 <= 0.0 { 1.0 } else { 1.0 + cang_254 }) as f32
    }

    fn hillshade_same_res(&self, w: &[f32; 9], sr: SameRes) -> f32 {
        let mut acc_x = w[0] - w[8];
        let six_minus_two = w[6] - w[2];
        let mut acc_y = acc_x;
        let three_minus_five = w[3] - w[5];
        let one_minus_seven = w[1] - w[7];
        acc_x += three_minus_five;
        acc_y += one_minus_seven;
        acc_x += three_minus_five;
        acc_y += one_minus_seven;
        acc_x += six_minus_two;
        acc_y -= six_minus_two;
        let (x, y) = (f64::from(acc_x), f64::from(acc_y));
        let num = self.sin_alt_254 + (x * sr.sin_254_inv_res + y * sr.cos_254_inv_res);
        let cang_254 = num / (1.0 + sr.square_z_inv_res2 * (x * x + y * y)).sqrt();
        (if cang_254 <= 0.0 { 1.0 } else { 1.0 + cang_254 }) as f32
    }

    fn hillshade_combined(&self, w: &[f32; 9]) -> f32 {
        let (x, y) = self.gradient_xy(w);
        let slope = (x * x + y * y) * self.square_z;
        let num = self.sin_alt - (y * self.cos_az_cos_alt_z - x * self.sin_az_cos_alt_z);
        let mut cang = (num / (1.0 + slope).sqrt()).acos();
        cang = 1.0 - cang * slope.sqrt().atan() * INV_SQUARE_OF_HALF_PI;
        if cang <= 0.0 {
            1.0
        } else {
            (1.0 + 254.0 * cang) as f32
        }
    }

    /// USGS multidirectional oblique weighting (azimuths 225/270/315/360).
    fn hillshade_multi(&self, w: &[f32; 9]) -> f32 {
        let (x, y) = self.gradient_xy(w);
        let (xx, yy) = (x * x, y * y);
        let xx_plus_yy = xx + yy;
        if xx_plus_yy == 0.0 {
            return (1.0 + self.sin_alt_254) as f32;
        }
        let lit = |v: f64| if v <= 0.0 { 0.0 } else { v };
        let val225 = lit(self.sin_alt_127 + (x - y) * self.cos225_cos_alt_z_127);
        let val270 = lit(self.sin_alt_127 - x * self.cos_alt_z_127);
        let val315 = lit(self.sin_alt_127 + (x + y) * self.cos225_cos_alt_z_127);
        let val360 = lit(self.sin_alt_127 - y * self.cos_alt_z_127);
        let w225 = 0.5 * xx_plus_yy - x * y;
        let w270 = xx;
        let w315 = xx_plus_yy - w225;
        let w360 = yy;
        let num = (w225 * val225 + w270 * val270 + w315 * val315 + w360 * val360) / xx_plus_yy;
        let cang_127 = num / (1.0 + self.square_z * xx_plus_yy).sqrt();
        (1.0 + cang_127) as f32
    }

    fn slope(&self, w: &[f32; 9], percent: bool) -> f64 {
        let (gx, gy) = raw_gradient(w, self.gradient);
        let dx = gx / self.ewres;
        let dy = gy / self.nsres;
        let divisor = match self.gradient {
            Gradient::Horn => 8.0,
            Gradient::ZevenbergenThorne => 2.0,
        };
        let rise = (dx * dx + dy * dy).sqrt() / (divisor * self.scale);
        let v = if percent {
            100.0 * rise
        } else {
            rise.atan() * RAD_TO_DEG
        };
        f64::from(v as f32)
    }
}

/// gdaldem stores the shade as a float and GDAL converts it to Byte by
/// adding 0.5 and truncating; we round the same way so any `--ot` gets
/// gdaldem's numbers.
fn to_byte(v: f32) -> f64 {
    f64::from((v + 0.5).clamp(0.0, 255.0).trunc())
}

/// Unscaled x/y differences, in gdaldem's float evaluation order: x grows
/// from the right column to the left, y from the top row to the bottom.
fn raw_gradient(w: &[f32; 9], gradient: Gradient) -> (f64, f64) {
    match gradient {
        Gradient::Horn => (
            f64::from((w[0] + w[3] + w[3] + w[6]) - (w[2] + w[5] + w[5] + w[8])),
            f64::from((w[6] + w[7] + w[7] + w[8]) - (w[0] + w[1] + w[1] + w[2])),
        ),
        Gradient::ZevenbergenThorne => (f64::from(w[3] - w[5]), f64::from(w[7] - w[1])),
    }
}

/// Aspect in degrees. Like gdaldem it ignores pixel size and geotransform
/// signs entirely (it works on raw row/column differences), so on
/// non-square pixels it is the aspect of the pixel grid, not of the ground.
pub fn aspect(w: &[f32; 9], gradient: Gradient, trigonometric: bool, zero_for_flat: bool) -> f64 {
    let (dx, dy) = match gradient {
        Gradient::Horn => (
            f64::from((w[2] + w[5] + w[5] + w[8]) - (w[0] + w[3] + w[3] + w[6])),
            f64::from((w[6] + w[7] + w[7] + w[8]) - (w[0] + w[1] + w[1] + w[2])),
        ),
        Gradient::ZevenbergenThorne => (f64::from(w[5] - w[3]), f64::from(w[7] - w[1])),
    };
    if dx == 0.0 && dy == 0.0 {
        return if zero_for_flat { 0.0 } else { f64::NAN };
    }
    let mut a = (dy.atan2(-dx) / DEG_TO_RAD) as f32;
    if !trigonometric {
        a = if a > 90.0 { 450.0 - a } else { 90.0 - a };
    } else if a < 0.0 {
        a += 360.0;
    }
    if a == 360.0 {
        a = 0.0;
    }
    f64::from(a)
}

/// gdaldem's INTERPOL: linear extrapolation one cell outwards, `2a - b`,
/// in f32. A nodata (NaN) operand yields NaN, later replaced by the centre.
fn extrapolate(a: f32, b: f32) -> f32 {
    2.0 * a - b
}

/// The 3×3 window gdaldem `-compute_edges` uses for cell (r, c) of a
/// `rows × cols` row-major grid, or None when the output is nodata (centre
/// is nodata, or the grid is thinner than 2 cells). See the module header
/// of `terrain` for the rule in words.
pub fn window(grid: &[f32], rows: usize, cols: usize, r: usize, c: usize) -> Option<[f32; 9]> {
    if rows < 2 || cols < 2 {
        return None;
    }
    let at = |rr: usize, cc: usize| grid[rr * cols + cc];
    let centre = at(r, c);
    if centre.is_nan() {
        return None;
    }
    let mut w = [0f32; 9];
    if r == 0 || r == rows - 1 {
        // First/last row: columns are clamped (not extrapolated), the
        // missing row is extrapolated from the two rows inside.
        let cs = [c.saturating_sub(1), c, (c + 1).min(cols - 1)];
        for (k, &cc) in cs.iter().enumerate() {
            if r == 0 {
                w[k] = extrapolate(at(0, cc), at(1, cc));
                w[3 + k] = at(0, cc);
                w[6 + k] = at(1, cc);
            } else {
                w[k] = at(r - 1, cc);
                w[3 + k] = at(r, cc);
                w[6 + k] = extrapolate(at(r, cc), at(r - 1, cc));
            }
        }
    } else {
        for (k, rr) in [r - 1, r, r + 1].into_iter().enumerate() {
            let row = if c == 0 {
                [extrapolate(at(rr, 0), at(rr, 1)), at(rr, 0), at(rr, 1)]
            } else if c == cols - 1 {
                let (a, b) = (at(rr, c), at(rr, c - 1));
                [b, a, extrapolate(a, b)]
            } else {
                [at(rr, c - 1), at(rr, c), at(rr, c + 1)]
            };
            w[3 * k..3 * k + 3].copy_from_slice(&row);
        }
    }
    // ComputeVal with -compute_edges: nodata neighbours take the centre value.
    for v in &mut w {
        if v.is_nan() {
            *v = centre;
        }
    }
    Some(w)
}
