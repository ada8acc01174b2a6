//! Ops: the pure computations tilerun runs over windows.
//!
//! An op never touches GDAL or the filesystem. The engine reads a window
//! (grown by the op's halo and clipped to the raster), turns nodata into NaN,
//! and hands the op plain `ndarray` views; the op returns one array per output
//! band, NaN meaning "nodata here". That contract is what lets every op be
//! unit-tested without files and keeps GDAL handles out of the maths.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2};

pub mod bandmath;
pub mod expr;
pub mod focal;
pub mod nodata;
pub mod reclass;
mod resampling;
pub mod rescale;
pub mod terrain;

pub use expr::Slot;
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

/// Ops that `--op` accepts.
pub const NAMED: &[&str] = &[
    "hillshade",
    "slope",
    "aspect",
    "focal",
    "rescale",
    "reclass",
];

/// Built op plus warnings for the user (e.g. an assumed scale).
pub type Built = (Box<dyn Op>, Vec<String>);

/// The `--set` keys a named op takes (empty for an unknown name).
pub fn keys(name: &str) -> &'static [&'static str] {
    match name {
        "hillshade" | "slope" | "aspect" => terrain::keys(name),
        "focal" => focal::KEYS,
        "rescale" => rescale::KEYS,
        "reclass" => reclass::KEYS,
        _ => &[],
    }
}

/// An input with `bands` bands, a plain north-up grid and no nodata: what
/// ops are built against to check their parameters before any input exists.
pub fn nominal_input(bands: usize) -> InputInfo {
    InputInfo {
        width: 512,
        height: 512,
        band_count: bands.max(1),
        geo_transform: Some([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]),
        geographic: false,
        nodata: vec![None; bands.max(1)],
        // Integer, so a bit mask in a recipe is checked as on a QA band;
        // a bitwise operator on a float input is caught at the input.
        band_types: vec![gdal_sys::GDALDataType::GDT_Int32; bands.max(1)],
    }
}

/// Build named op `name` against a [`nominal_input`] with as many bands as
/// `params` name (one if none), whole-raster statistics stood in for: every
/// key and value is checked as for a real input, except how the bands fit
/// it. The daemon does this for every recipe at start-up.
pub fn check(name: &str, params: &Params) -> Result<Box<dyn Op>, OpError> {
    if !NAMED.contains(&name) {
        return Err(OpError::at(name, "op", unknown_op(name)));
    }
    let bands = params
        .get("band")
        .map(|b| b.split(',').filter_map(|x| x.trim().parse().ok()).max())
        .unwrap_or_default()
        .unwrap_or(1);
    let info = nominal_input(bands);
    let stats = match name {
        "rescale" => {
            rescale::stats_request(params, &info)?.map(|r| vec![vec![0.0, 1.0]; r.bands.len()])
        }
        _ => None,
    };
    let built = match name {
        "rescale" => rescale::build(params, &info, stats.as_deref())?,
        "reclass" => (reclass::build(params, &info)?, Vec::new()),
        "focal" => (focal::build(params, &info)?, Vec::new()),
        _ => terrain::build(name, params, &info)?,
    };
    Ok(built.0)
}

/// Compile band math `src` against a [`nominal_input`] holding every band it
/// names: the syntax and functions are checked; whether the bands exist is
/// for the real input.
///
/// With `names` (a recipe's `inputs`), the expression is compiled against
/// those inputs instead, each a nominal integer input of many bands.
pub fn check_expr(src: &str, policy: NodataPolicy, names: &[&str]) -> Result<Box<dyn Op>, String> {
    let many = [gdal_sys::GDALDataType::GDT_Int32; 4096];
    if !names.is_empty() {
        let inputs: Vec<(&str, &[_])> = names.iter().map(|n| (*n, &many[..64])).collect();
        return build_expr_named(src, &Params::new(), &inputs, policy).map(|(op, _)| op);
    }
    // Any band number up to the limit resolves here; the input decides later.
    let any = expr::Bindings::single(&many);
    let prog = expr::Program::compile(src, &any).map_err(|e| e.to_string())?;
    let info = nominal_input(prog.slots().iter().map(|s| s.band).max().unwrap_or(1));
    build_expr(src, &Params::new(), &info, policy).map(|(op, _)| op)
}

/// "unknown op", with the known ones and the likely one.
fn unknown_op(name: &str) -> String {
    let guess = crate::error::closest(name, NAMED.iter().copied())
        .map(|g| format!("did you mean '{g}'? "))
        .unwrap_or_default();
    format!("unknown op '{name}' ({guess}known: {})", NAMED.join(", "))
}

/// Band math takes no parameters, not even `band`: the expression names its
/// bands (`b1`..`bN`), and a `-b` next to it would otherwise be ignored.
pub fn check_expr_params(params: &Params) -> Result<(), String> {
    match params.keys().next().map(String::as_str) {
        None => Ok(()),
        Some("band") => Err(
            "--band/-b is not used with band math: the expression names its \
             bands (b1, b2, ...); --band is for --op"
                .into(),
        ),
        Some(k) => Err(format!(
            "expr: unknown --set key '{k}' (band math takes no parameters)"
        )),
    }
}

/// Build a band-math op; `params` must be empty (see [`check_expr_params`]).
pub fn build_expr(
    src: &str,
    params: &Params,
    info: &InputInfo,
    policy: NodataPolicy,
) -> Result<Built, String> {
    check_expr_params(params)?;
    let op = bandmath::BandMath::new(src, info, policy).map_err(|e| e.to_string())?;
    Ok((Box::new(op), Vec::new()))
}

/// Build a band-math op over named inputs (`--input NAME=PATH`, recipe
/// `inputs`), each with its bands' sample types as the expression sees them.
pub fn build_expr_named(
    src: &str,
    params: &Params,
    inputs: &[(&str, &[gdal_sys::GDALDataType::Type])],
    policy: NodataPolicy,
) -> Result<Built, String> {
    check_expr_params(params)?;
    let bindings = expr::Bindings::named(inputs).map_err(|e| e.to_string())?;
    let op =
        bandmath::BandMath::with_bindings(src, &bindings, policy).map_err(|e| e.to_string())?;
    Ok((Box::new(op), Vec::new()))
}

/// Build a named op.
pub fn build(
    name: &str,
    params: &Params,
    info: &InputInfo,
    policy: NodataPolicy,
) -> Result<Built, String> {
    build_with_stats(name, params, info, policy, None)
}

/// The statistics pass a named op needs before it can be built (rescale's
/// `in=auto`), if any; see [`crate::plan::stats`].
pub fn stats_request(
    name: &str,
    params: &Params,
    info: &InputInfo,
) -> Result<Option<rescale::StatsRequest>, String> {
    match name {
        "rescale" => rescale::stats_request(params, info).map_err(|e| e.to_string()),
        _ => Ok(None),
    }
}

/// Build a named op, given the answer to its [`stats_request`].
pub fn build_with_stats(
    name: &str,
    params: &Params,
    info: &InputInfo,
    _policy: NodataPolicy,
    stats: Option<&[Vec<f64>]>,
) -> Result<Built, String> {
    match name {
        "rescale" => rescale::build(params, info, stats).map_err(|e| e.to_string()),
        "reclass" => reclass::build(params, info)
            .map(|op| (op, Vec::new()))
            .map_err(|e| e.to_string()),
        "hillshade" | "slope" | "aspect" => {
            terrain::build(name, params, info).map_err(|e| e.to_string())
        }
        "focal" => focal::build(params, info)
            .map(|op| (op, Vec::new()))
            .map_err(|e| e.to_string()),
        _ => Err(format!("--op: {}", unknown_op(name))),
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
