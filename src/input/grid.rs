//! Do the inputs of a job share one grid, up to integer resolution factors?
//!
//! Deliveries put every band on one tile (Landsat: one 30 m grid;
//! Sentinel-2: 10, 20 and 60 m grids of one UTM tile, corner to corner), so
//! tilerun resamples by whole factors and never reprojects: same CRS, no
//! rotation, pixel sizes in integer ratio, same origin and the same
//! footprint. Anything else is refused before an output exists, naming both
//! files and both grids, so a wrong file in a set is found at once instead
//! of showing up as a shifted or stretched product.

use gdal::spatial_ref::SpatialRef;

use crate::input::resample::Ratio;
use crate::input::InputMeta;

/// Relative tolerance on pixel sizes and extents (GDAL writes them as
/// decimal text in some formats).
const TOL: f64 = 1e-9;

/// The output grid: which input's it is, and each input's ratio to it.
#[derive(Debug, Clone)]
pub struct Grid {
    pub index: usize,
    pub ratios: Vec<Ratio>,
}

/// Choose the grid (input `chosen`, else the finest) and relate every
/// input to it. `inputs` are (shown name, snapshot).
pub fn settle(inputs: &[(String, &InputMeta)], chosen: Option<usize>) -> Result<Grid, String> {
    let pixel = |m: &InputMeta| m.geo_transform.map_or(1.0, |g| g[1].abs());
    let index = chosen.unwrap_or_else(|| {
        (0..inputs.len())
            .min_by(|&a, &b| pixel(inputs[a].1).total_cmp(&pixel(inputs[b].1)))
            .unwrap_or(0)
    });
    let (gname, g) = (&inputs[index].0, inputs[index].1);
    let mut ratios = Vec::with_capacity(inputs.len());
    for (name, m) in inputs {
        let r = relate(m, g).map_err(|why| {
            format!(
                "{name} is {}; {gname} is {}: not on one grid ({why}); inputs must share CRS \
                 and footprint, with pixel sizes in integer ratio (tilerun does not reproject)",
                describe(m),
                describe(g)
            )
        })?;
        ratios.push(r);
    }
    Ok(Grid { index, ratios })
}

fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= TOL * scale.abs().max(1.0) * 1e3
}

/// How `m` relates to grid `g`, or why it cannot.
fn relate(m: &InputMeta, g: &InputMeta) -> Result<Ratio, String> {
    if !same_crs(&m.projection, &g.projection) {
        return Err("different CRS".into());
    }
    let (Some(a), Some(b)) = (m.geo_transform, g.geo_transform) else {
        if m.geo_transform.is_none()
            && g.geo_transform.is_none()
            && (m.width, m.height) == (g.width, g.height)
        {
            return Ok(Ratio::SAME);
        }
        return Err("one has no geotransform".into());
    };
    if a == b && (m.width, m.height) == (g.width, g.height) {
        return Ok(Ratio::SAME);
    }
    if a[2] != 0.0 || a[4] != 0.0 || b[2] != 0.0 || b[4] != 0.0 {
        return Err("rotated grids must be identical".into());
    }
    let (rx, ry) = (a[1] / b[1], a[5] / b[5]);
    let ratio = if rx >= 1.0 {
        let k = rx.round();
        (k >= 1.0 && (rx - k).abs() <= 1e-9 * k && (ry - k).abs() <= 1e-9 * k).then_some(Ratio {
            k: k as usize,
            coarser: k > 1.0,
            map: None,
        })
    } else {
        let k = (1.0 / rx).round();
        let (ix, iy) = (1.0 / rx, 1.0 / ry);
        ((ix - k).abs() <= 1e-9 * k && (iy - k).abs() <= 1e-9 * k).then_some(Ratio {
            k: k as usize,
            coarser: false,
            map: None,
        })
    }
    .ok_or_else(|| {
        format!(
            "pixel sizes {}×{} and {}×{} are not in integer ratio",
            a[1], a[5], b[1], b[5]
        )
    })?;
    let fine = b[1].abs().min(a[1].abs());
    if !close(a[0], b[0], fine) || !close(a[3], b[3], fine) {
        return Err("origins differ".into());
    }
    let (w, h) = (m.width as f64 * a[1], m.height as f64 * a[5]);
    let (gw, gh) = (g.width as f64 * b[1], g.height as f64 * b[5]);
    if !close(w, gw, fine) || !close(h, gh, fine) {
        return Err("footprints differ".into());
    }
    Ok(ratio.mapped(b, a, g.width))
}

/// Same CRS by OSR's definition (WKT text may differ between drivers).
fn same_crs(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (SpatialRef::from_wkt(a), SpatialRef::from_wkt(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// A grid in words: CRS, origin, pixel size, size.
pub fn describe(m: &InputMeta) -> String {
    let crs = SpatialRef::from_wkt(&m.projection)
        .ok()
        .map(|s| match (s.auth_name(), s.auth_code()) {
            (Some(n), Ok(c)) => format!("{n}:{c}"),
            _ => s.name().unwrap_or_else(|| "unnamed CRS".into()),
        })
        .unwrap_or_else(|| "no CRS".into());
    match m.geo_transform {
        Some(g) => format!(
            "{crs}, origin ({}, {}), pixel {}×{}, {}×{} px",
            g[0],
            g[3],
            g[1],
            g[5].abs(),
            m.width,
            m.height
        ),
        None => format!("{crs}, no geotransform, {}×{} px", m.width, m.height),
    }
}
