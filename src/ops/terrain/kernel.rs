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
//!
//! The functions are `#[inline(always)]` and take the gradient as an
//! argument so that `sweep` can stamp out one vectorised loop per option
//! set; formulas ending in a libm call (`atan`, `atan2`, `acos`) are split
//! into a call-free first half and the rest for the same reason. `cell`
//! composes the same pieces, so both paths evaluate identical expressions.

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
    pub(super) product: Product,
    pub(super) gradient: Gradient,
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
    pub(super) same_res: Option<SameRes>,
}

/// gdaldem's fast path for square, north-up pixels (`gt[1] == -gt[5]`) with
/// the standard Horn hillshade; it sums in a different order, so results can
/// differ in the last bits from the general path and we mirror it.
#[derive(Debug, Clone, Copy)]
pub(super) struct SameRes {
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

    /// One output value from a complete (nodata-free) 3×3 window; NaN means
    /// nodata (only aspect's flat cells produce it here).
    pub fn cell(&self, w: &[f32; 9]) -> f64 {
        match self.product {
            Product::Hillshade { shading, .. } => {
                let g = self.gradient;
                let v = match (shading, self.same_res) {
                    (Shading::Standard, Some(sr)) => self.hillshade_same_res(w, sr),
                    (Shading::Standard, None) => self.hillshade(w, g),
                    (Shading::Combined, _) => self.hillshade_combined(w, g),
                    (Shading::MultiDirectional, _) => self.hillshade_multi(w, g),
                };
                to_byte(v)
            }
            Product::Slope { percent } => self.slope(w, self.gradient, percent),
            Product::Aspect {
                trigonometric,
                zero_for_flat,
            } => aspect(w, self.gradient, trigonometric, zero_for_flat),
        }
    }

    #[inline(always)]
    fn gradient_xy(&self, w: &[f32; 9], g: Gradient) -> (f64, f64) {
        let (gx, gy) = raw_gradient(w, g);
        (gx * self.inv_ewres, gy * self.inv_nsres)
    }

    #[inline(always)]
    pub(super) fn hillshade(&self, w: &[f32; 9], g: Gradient) -> f32 {
        let (x, y) = self.gradient_xy(w, g);
        let num =
            self.sin_alt_254 - (y * self.cos_az_cos_alt_z_254 - x * self.sin_az_cos_alt_z_254);
        let cang_254 = num / (1.0 + self.square_z * (x * x + y * y)).sqrt();
        (if cang_254 <= 0.0 { 1.0 } else { 1.0 + cang_254 }) as f32
    }

    #[inline(always)]
    pub(super) fn hillshade_same_res(&self, w: &[f32; 9], sr: SameRes) -> f32 {
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

    #[inline(always)]
    fn hillshade_combined(&self, w: &[f32; 9], g: Gradient) -> f32 {
        combined_value(self.combined_parts(w, g))
    }

    /// The libm-free part of the combined shading: cosine of the
    /// illumination angle and tangent of the slope.
    #[inline(always)]
    pub(super) fn combined_parts(&self, w: &[f32; 9], g: Gradient) -> (f64, f64) {
        let (x, y) = self.gradient_xy(w, g);
        let slope = (x * x + y * y) * self.square_z;
        let num = self.sin_alt - (y * self.cos_az_cos_alt_z - x * self.sin_az_cos_alt_z);
        (num / (1.0 + slope).sqrt(), slope.sqrt())
    }

    /// USGS multidirectional oblique weighting (azimuths 225/270/315/360).
    #[inline(always)]
    pub(super) fn hillshade_multi(&self, w: &[f32; 9], g: Gradient) -> f32 {
        let (x, y) = self.gradient_xy(w, g);
        let (xx, yy) = (x * x, y * y);
        let xx_plus_yy = xx + yy;
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
        // Flat cells: a select rather than an early return keeps the loop
        // vectorisable (the discarded 0/0 above is harmless).
        if xx_plus_yy == 0.0 {
            (1.0 + self.sin_alt_254) as f32
        } else {
            (1.0 + cang_127) as f32
        }
    }

    #[inline(always)]
    fn slope(&self, w: &[f32; 9], g: Gradient, percent: bool) -> f64 {
        slope_value(self.rise(w, g), percent)
    }

    /// Slope as rise over run (the vectorisable part of [`Terrain::slope`]).
    #[inline(always)]
    pub(super) fn rise(&self, w: &[f32; 9], g: Gradient) -> f64 {
        let (gx, gy) = raw_gradient(w, g);
        let dx = gx / self.ewres;
        let dy = gy / self.nsres;
        let divisor = match g {
            Gradient::Horn => 8.0,
            Gradient::ZevenbergenThorne => 2.0,
        };
        (dx * dx + dy * dy).sqrt() / (divisor * self.scale)
    }
}

/// Combined shading from [`Terrain::combined_parts`].
#[inline(always)]
pub(super) fn combined_value((cos_angle, tan_slope): (f64, f64)) -> f32 {
    let mut cang = cos_angle.acos();
    cang = 1.0 - cang * tan_slope.atan() * INV_SQUARE_OF_HALF_PI;
    if cang <= 0.0 {
        1.0
    } else {
        (1.0 + 254.0 * cang) as f32
    }
}

/// Slope output from rise over run, in percent or degrees, stored as f32.
#[inline(always)]
pub(super) fn slope_value(rise: f64, percent: bool) -> f64 {
    let v = if percent {
        100.0 * rise
    } else {
        rise.atan() * RAD_TO_DEG
    };
    f64::from(v as f32)
}

/// gdaldem stores the shade as a float and GDAL converts it to Byte by
/// adding 0.5 and truncating; we round the same way so any `--ot` gets
/// gdaldem's numbers.
#[inline(always)]
pub(super) fn to_byte(v: f32) -> f64 {
    f64::from(trunc_small((v + 0.5).clamp(0.0, 255.0)))
}

/// `f32::trunc` for NaN or `0 <= x < 2^23`, in plain arithmetic: baseline
/// x86-64 has no truncating instruction, so `trunc` is a libm call that
/// also blocks vectorisation. Adding and removing 2^23 rounds `x` to an
/// integer (exactly, since the sum's ulp is 1); stepping back one when that
/// rounded up gives the floor, which is the truncation for `x >= 0`. A NaN
/// stays NaN. `x` is never −0 here (`v + 0.5` cannot be), so the sign of a
/// zero result is the same as `trunc`'s.
#[inline(always)]
pub(super) fn trunc_small(x: f32) -> f32 {
    const TWO_POW_23: f32 = 8_388_608.0;
    let r = (x + TWO_POW_23) - TWO_POW_23;
    if r > x {
        r - 1.0
    } else {
        r
    }
}

/// Unscaled x/y differences, in gdaldem's float evaluation order: x grows
/// from the right column to the left, y from the top row to the bottom.
#[inline(always)]
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
#[inline(always)]
pub fn aspect(w: &[f32; 9], gradient: Gradient, trigonometric: bool, zero_for_flat: bool) -> f64 {
    aspect_value(aspect_diffs(w, gradient), trigonometric, zero_for_flat)
}

/// Aspect's x/y differences (unscaled, in f32 like gdaldem).
#[inline(always)]
pub(super) fn aspect_diffs(w: &[f32; 9], gradient: Gradient) -> (f32, f32) {
    match gradient {
        Gradient::Horn => (
            (w[2] + w[5] + w[5] + w[8]) - (w[0] + w[3] + w[3] + w[6]),
            (w[6] + w[7] + w[7] + w[8]) - (w[0] + w[1] + w[1] + w[2]),
        ),
        Gradient::ZevenbergenThorne => (w[5] - w[3], w[7] - w[1]),
    }
}

/// Aspect from [`aspect_diffs`].
#[inline(always)]
pub(super) fn aspect_value((dx, dy): (f32, f32), trigonometric: bool, zero_for_flat: bool) -> f64 {
    let (dx, dy) = (f64::from(dx), f64::from(dy));
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
