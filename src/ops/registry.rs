//! The ops by name: which `--op` names exist, the `--set` keys each takes,
//! and building one (or band math) against an input, or against a nominal
//! input to check a recipe before any file exists. Apart from `mod.rs`, which
//! holds the contract every op meets (`Op`, `Block`, `InputInfo`), so adding
//! an op touches this dispatch and not the contract.

use super::{
    bandmath, expr, focal, reclass, rescale, terrain, InputInfo, NodataPolicy, Op, OpError, Params,
};

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
        return build_expr_named(src, &Params::new(), &inputs, policy)
            .map(|(op, _)| op)
            .map_err(|(e, _)| e);
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
/// An error comes with the index of the input at fault, if it is about one
/// (a bitwise operator on a float input), so the caller can name its file.
pub fn build_expr_named(
    src: &str,
    params: &Params,
    inputs: &[(&str, &[gdal_sys::GDALDataType::Type])],
    policy: NodataPolicy,
) -> Result<Built, (String, Option<usize>)> {
    check_expr_params(params).map_err(|e| (e, None))?;
    let bindings = expr::Bindings::named(inputs).map_err(|e| (e.to_string(), None))?;
    let op = bandmath::BandMath::with_bindings(src, &bindings, policy)
        .map_err(|e| (e.to_string(), e.input))?;
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
