//! Ops: the pure computations tilerun runs over windows.
//!
//! An op never touches GDAL or the filesystem. The engine reads a window
//! (grown by the op's halo and clipped to the raster), turns nodata into NaN,
//! and hands the op plain `ndarray` views; the op returns one array per output
//! band, NaN meaning "nodata here". That contract is what lets every op be
//! unit-tested without files and keeps GDAL handles out of the maths.
//! This file holds that contract; `registry` builds ops by name.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2};

pub mod bandmath;
pub mod expr;
pub mod focal;
pub mod nodata;
pub mod reclass;
mod registry;
mod resampling;
pub mod rescale;
pub mod terrain;

pub use expr::Slot;
pub use registry::{
    build, build_expr, build_expr_named, build_with_stats, check, check_expr, check_expr_params,
    keys, nominal_input, stats_request, Built, NAMED,
};
pub use resampling::Resampling;

/// Where the window being computed sits inside the (halo-grown) block.
///
/// The block was read over the window grown by the op's halo on every side,
/// then clipped to the raster. So `row`/`col` is the halo actually available
/// above/left of the window: less than the halo means the window touches the
/// raster's top/left edge. Likewise for bottom/right via `rows`/`cols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Core {
    pub row: usize,
    pub col: usize,
    pub rows: usize,
    pub cols: usize,
}

/// One window's input: the bands the op asked for, in the order of
/// [`Op::bands`], all of the same shape. Nodata (and masked) pixels are NaN,
/// unless the nodata policy is `none`.
pub struct Block<'a> {
    pub bands: Vec<ArrayView2<'a, f64>>,
    pub core: Core,
}

/// What an op may know about its input when it is built: geometry and
/// per-band facts, never a dataset handle.
#[derive(Debug, Clone)]
pub struct InputInfo {
    pub width: usize,
    pub height: usize,
    pub band_count: usize,
    /// GDAL geotransform `[x0, dx, rx, y0, ry, dy]`.
    pub geo_transform: Option<[f64; 6]>,
    /// True when the CRS is geographic (degrees).
    pub geographic: bool,
    /// Per-band nodata value, index 0 = band 1.
    pub nodata: Vec<Option<f64>>,
    /// Per-band GDAL sample type, index 0 = band 1: band math allows
    /// bitwise operators on integer bands only.
    pub band_types: Vec<gdal_sys::GDALDataType::Type>,
}

/// Output sample types tilerun writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde_with::DeserializeFromStr)]
pub enum OutType {
    Byte,
    UInt16,
    Int16,
    UInt32,
    Int32,
    Float32,
    Float64,
}

/// How nodata inputs reach an op (see README, "Nodata policy").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde_with::DeserializeFromStr)]
pub enum NodataPolicy {
    /// Any nodata input at a pixel makes that output pixel nodata.
    #[default]
    Propagate,
    /// Nodata inputs are NaN; NaN-skipping functions (min/max/mean) skip them.
    Ignore,
    /// Raw values: nodata is not masked at all.
    None,
}

impl std::str::FromStr for NodataPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "propagate" => Ok(NodataPolicy::Propagate),
            "ignore" => Ok(NodataPolicy::Ignore),
            "none" => Ok(NodataPolicy::None),
            _ => Err(format!(
                "unknown policy '{s}' (expected propagate, ignore or none)"
            )),
        }
    }
}

/// `--set key=value` parameters, in the order given; the op builder removes
/// what it understands so leftovers can be reported as unknown keys.
pub type Params = BTreeMap<String, String>;

/// A built op, ready to run on any number of threads at once.
pub trait Op: Send + Sync {
    /// Short name used in messages ("hillshade", "expr").
    fn name(&self) -> &str;
    /// 1-based input bands the op reads, in the order `Block::bands` holds them.
    fn bands(&self) -> &[usize];
    /// The (input, band) slots the op reads, in the order `Block::bands`
    /// holds them, grouped by input. Ops on one file read input 0; band
    /// math over named inputs overrides this.
    fn slots(&self) -> Vec<Slot> {
        self.bands()
            .iter()
            .map(|&band| Slot { input: 0, band })
            .collect()
    }
    /// Pixels of context needed on every side of a window.
    fn halo(&self) -> usize {
        0
    }
    /// Number of output bands.
    fn out_bands(&self) -> usize;
    /// Output type when the user gives no `--ot`.
    fn default_out_type(&self) -> OutType {
        OutType::Float32
    }
    /// Output nodata when the user gives no `--nodata` (None = the type's default).
    fn default_nodata(&self) -> Option<f64> {
        None
    }
    /// Compute the core region of `block`: one `core.rows × core.cols` array
    /// per output band, NaN where the output is nodata.
    fn compute(&self, block: &Block<'_>) -> Vec<Array2<f64>>;
    /// Human-readable parameters, recorded in the output's metadata.
    fn describe(&self) -> String;
    /// The input band whose meaning output band `out` (0-based) keeps, so its
    /// description and colour interpretation are copied (e.g. a per-band
    /// rescale). None for derived products such as NDVI.
    fn band_source(&self, _out: usize) -> Option<usize> {
        None
    }
    /// A description for output band `out` (0-based) when it has no source.
    fn band_description(&self, _out: usize) -> Option<String> {
        None
    }
    /// The input band whose units output band `out` keeps (its values are
    /// the input's raw values or a statistic of them, e.g. a focal mean), so
    /// scale/offset are copied. None when values are recomputed.
    fn units_source(&self, _out: usize) -> Option<usize> {
        None
    }
    /// Values the op chose itself that change its results, for the job
    /// summary (e.g. the terrain `scale` assumed for a geographic CRS).
    fn resolved(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
    /// Default overview resampling: average suits continuous values; ops
    /// producing classes say `Mode` (averaging classes invents new ones).
    fn overview_resampling(&self) -> Resampling {
        Resampling::Average
    }
}

/// Errors building an op: always name the op and the reason, and the
/// parameter at fault when there is one (so a config error can point at
/// its line).
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{op}: {reason}")]
    Invalid {
        op: String,
        key: Option<String>,
        reason: String,
    },
}

impl OpError {
    pub fn new(op: &str, reason: impl Into<String>) -> Self {
        OpError::Invalid {
            op: op.to_string(),
            key: None,
            reason: reason.into(),
        }
    }

    /// An error about parameter `key`.
    pub fn at(op: &str, key: &str, reason: impl Into<String>) -> Self {
        OpError::Invalid {
            op: op.to_string(),
            key: Some(key.to_string()),
            reason: reason.into(),
        }
    }

    /// The parameter at fault, if the error is about one.
    pub fn key(&self) -> Option<&str> {
        let OpError::Invalid { key, .. } = self;
        key.as_deref()
    }
}

/// Helpers shared by the ops' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{InputInfo, Params};

    /// A 10×10 input with `bands` bands, all with `nodata`.
    pub fn info(bands: usize, nodata: Option<f64>) -> InputInfo {
        InputInfo {
            width: 10,
            height: 10,
            band_count: bands,
            geo_transform: None,
            geographic: false,
            nodata: vec![nodata; bands],
            band_types: vec![gdal_sys::GDALDataType::GDT_Float32; bands],
        }
    }

    /// `--set` parameters from pairs.
    pub fn params(kv: &[(&str, &str)]) -> Params {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}
