//! `rescale`: a per-band linear stretch from an input range to an output
//! range — the step between 12/16-bit sensor values and a picture people
//! can publish (`in=0,3000 out=1,255 --ot Byte`).
//!
//! # Parameters (`--set`)
//! * `in=min,max` for every band, `in=min,max;min,max;…` one pair per band,
//!   or `in=auto`: each band's own `percentiles=lo,hi` (default 2,98),
//!   computed exactly by the statistics pass before any window runs
//!   (`crate::plan::stats`). min must be below max.
//! * `out=min,max` (default 1,255; min > max inverts the stretch).
//! * `clip=true|false` (default true): clamp results to the out range.
//! * `band=1,2,3` (`--band`): the bands to stretch, each giving one output
//!   band that keeps the input band's meaning (colour interpretation,
//!   description). Default: every band.
//!
//! Nodata stays nodata. The default output nodata is the input band's own
//! nodata when it lies outside the out range (so "0 stays 0"), else a value
//! of the default type outside it (0 first), and the type needs no `--ot`:
//! the smallest integer type holding an integral out range, else Float32.

use ndarray::{s, Array2, ArrayView2};

use super::terrain::params::Taker;
use super::{Block, InputInfo, Op, OpError, OutType, Params};

pub const DEFAULT_OUT: (f64, f64) = (1.0, 255.0);
pub const DEFAULT_PERCENTILES: (f64, f64) = (2.0, 98.0);

/// What the statistics pass must compute before `in=auto` can be built:
/// the given percentiles of the valid pixels of each band.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRequest {
    pub bands: Vec<usize>,
    pub percentiles: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
enum InSpec {
    Fixed(Vec<(f64, f64)>),
    Auto(f64, f64),
}

struct Parsed {
    bands: Vec<usize>,
    input: InSpec,
    out: (f64, f64),
    clip: bool,
}

/// The `--set` keys rescale takes.
pub const KEYS: &[&str] = &["band", "in", "percentiles", "out", "clip"];

fn err(key: &str, reason: impl Into<String>) -> OpError {
    OpError::at("rescale", key, reason)
}

/// `a,b` as two finite numbers.
fn pair(key: &str, raw: &str) -> Result<(f64, f64), OpError> {
    let nums: Vec<Option<f64>> = raw
        .split(',')
        .map(|p| p.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect();
    match nums[..] {
        [Some(a), Some(b)] => Ok((a, b)),
        _ => Err(err(
            key,
            format!("--set {key}={raw}: expected two numbers 'min,max'"),
        )),
    }
}

fn parse(params: &Params, info: &InputInfo) -> Result<Parsed, OpError> {
    let mut t = Taker::new("rescale", params, KEYS);
    let bands = parse_bands(t.take("band"), info.band_count)?;
    let raw_in = t.take("in").ok_or_else(|| {
        err(
            "in",
            "--set in= is required: 'min,max', one 'min,max' per band separated by ';', or 'auto'",
        )
    })?;
    let input = parse_in(&raw_in, t.take("percentiles"), bands.len())?;
    let out = parse_out(t.take("out"))?;
    let clip = parse_clip(t.take("clip"))?;
    t.finish()?;
    Ok(Parsed {
        bands,
        input,
        out,
        clip,
    })
}

/// `band=1,2,3`, each within 1..=`n`; every band when not given.
fn parse_bands(raw: Option<String>, n: usize) -> Result<Vec<usize>, OpError> {
    let Some(raw) = raw else {
        return Ok((1..=n).collect());
    };
    raw.split(',')
        .map(|p| match p.trim().parse::<usize>() {
            Ok(b) if (1..=n).contains(&b) => Ok(b),
            _ => Err(err(
                "band",
                format!("--band {raw}: '{}' is not a band from 1 to {n}", p.trim()),
            )),
        })
        .collect()
}

/// `in=auto` with its `percentiles`, or fixed ranges: one for all
/// `bands` bands or one per band.
fn parse_in(raw_in: &str, pct: Option<String>, bands: usize) -> Result<InSpec, OpError> {
    if raw_in.trim().eq_ignore_ascii_case("auto") {
        let (lo, hi) = match &pct {
            None => DEFAULT_PERCENTILES,
            Some(p) => pair("percentiles", p)?,
        };
        if !(0.0..=100.0).contains(&lo) || !(0.0..=100.0).contains(&hi) || lo >= hi {
            return Err(err(
                "percentiles",
                format!(
                    "--set percentiles={}: need 0 <= lo < hi <= 100",
                    pct.unwrap_or_default()
                ),
            ));
        }
        return Ok(InSpec::Auto(lo, hi));
    }
    if pct.is_some() {
        return Err(err(
            "percentiles",
            "--set percentiles: only meaningful with in=auto",
        ));
    }
    let ranges = raw_in
        .split(';')
        .map(|p| pair("in", p.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    if ranges.len() != 1 && ranges.len() != bands {
        return Err(err(
            "in",
            format!(
                "--set in={raw_in}: {} ranges for {} bands (give one for all, or one per band)",
                ranges.len(),
                bands
            ),
        ));
    }
    if let Some((lo, hi)) = ranges.iter().find(|(lo, hi)| lo >= hi) {
        return Err(err(
            "in",
            format!("--set in={raw_in}: min ({lo}) must be less than max ({hi})"),
        ));
    }
    Ok(InSpec::Fixed(ranges))
}

/// `out=min,max` (min > max inverts); equal ends are refused.
fn parse_out(raw: Option<String>) -> Result<(f64, f64), OpError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_OUT);
    };
    let o = pair("out", &raw)?;
    if o.0 == o.1 {
        return Err(err(
            "out",
            format!("--set out={raw}: min and max are equal, every pixel would get the same value"),
        ));
    }
    Ok(o)
}

/// `clip=true|false`, default true.
fn parse_clip(raw: Option<String>) -> Result<bool, OpError> {
    let Some(raw) = raw else {
        return Ok(true);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(err(
            "clip",
            format!("--set clip={raw}: expected true or false"),
        )),
    }
}

/// The statistics `params` need, if `in=auto`.
pub fn stats_request(params: &Params, info: &InputInfo) -> Result<Option<StatsRequest>, OpError> {
    let p = parse(params, info)?;
    Ok(match p.input {
        InSpec::Auto(lo, hi) => Some(StatsRequest {
            bands: p.bands,
            percentiles: vec![lo, hi],
        }),
        InSpec::Fixed(_) => None,
    })
}

/// Build the op. `stats` answers [`stats_request`]: per requested band, the
/// requested percentiles (NaN for a band without valid pixels).
pub fn build(
    params: &Params,
    info: &InputInfo,
    stats: Option<&[Vec<f64>]>,
) -> Result<(Box<dyn Op>, Vec<String>), OpError> {
    let p = parse(params, info)?;
    let mut warnings = Vec::new();
    let (ranges, in_text) = ranges(&p, stats, &mut warnings)?;
    let bands_text: Vec<String> = p.bands.iter().map(|b| b.to_string()).collect();
    let out_type = fitting_type(p.out);
    let op = Rescale {
        nodata: choose_nodata(
            out_type,
            p.out,
            info.nodata.get(p.bands[0] - 1).copied().flatten(),
        ),
        describe: format!(
            "band={} in={in_text} out={},{} clip={}",
            bands_text.join(","),
            p.out.0,
            p.out.1,
            p.clip
        ),
        bands: p.bands,
        ranges,
        out: p.out,
        clip: p.clip,
        out_type,
    };
    Ok((Box::new(op), warnings))
}

/// Each band's input range and how `in` reads in the description: the
/// fixed ranges (one repeated for every band), or `in=auto`'s percentiles
/// from `stats`, warning about bands without valid pixels or contrast.
fn ranges(
    p: &Parsed,
    stats: Option<&[Vec<f64>]>,
    warnings: &mut Vec<String>,
) -> Result<(Vec<(f64, f64)>, String), OpError> {
    let fmt = |v: &[(f64, f64)]| {
        v.iter()
            .map(|(a, b)| format!("{a},{b}"))
            .collect::<Vec<_>>()
            .join(";")
    };
    let (lo, hi) = match &p.input {
        InSpec::Fixed(r) if r.len() == 1 => return Ok((vec![r[0]; p.bands.len()], fmt(r))),
        InSpec::Fixed(r) => return Ok((r.clone(), fmt(r))),
        InSpec::Auto(lo, hi) => (lo, hi),
    };
    let stats = stats.ok_or_else(|| {
        err(
            "in",
            "in=auto needs the statistics pass (internal: no statistics given)",
        )
    })?;
    if stats.len() != p.bands.len() || stats.iter().any(|s| s.len() != 2) {
        return Err(err("in", "internal: statistics do not match the request"));
    }
    let mut r = Vec::new();
    for (&b, s) in p.bands.iter().zip(stats) {
        if s[0].is_nan() || s[1].is_nan() {
            warnings.push(format!(
                "rescale: band {b} has no valid pixel; its output is all nodata"
            ));
            r.push((0.0, 1.0));
        } else {
            if s[0] == s[1] {
                warnings.push(format!(
                    "rescale: band {b}: percentiles {lo} and {hi} are both {}; \
                     pixels <= it map to out min, above it to out max",
                    s[0]
                ));
            }
            r.push((s[0], s[1]));
        }
    }
    let text = format!("auto percentiles={lo},{hi} resolved={}", fmt(&r));
    Ok((r, text))
}

/// Smallest type holding an integral out range, else Float32.
fn fitting_type((a, b): (f64, f64)) -> OutType {
    let integral = a.fract() == 0.0 && b.fract() == 0.0;
    let candidates = [
        OutType::Byte,
        OutType::UInt16,
        OutType::Int16,
        OutType::Int32,
    ];
    candidates
        .into_iter()
        .find(|t| integral && t.holds(a) && t.holds(b))
        .unwrap_or(OutType::Float32)
}

/// A nodata the stretch cannot produce: the input's if free, else 0, the
/// type's max, its min, or -1; None leaves it to the type's default.
fn choose_nodata(t: OutType, (a, b): (f64, f64), input: Option<f64>) -> Option<f64> {
    let (lo, hi) = (a.min(b), a.max(b));
    let free = |v: &f64| t.holds(*v) && !v.is_nan() && (*v < lo || *v > hi);
    if let Some(v) = input.filter(free) {
        return Some(v);
    }
    if t.is_float() {
        return None;
    }
    let (tmin, tmax) = t.range();
    [0.0, tmax, tmin, -1.0].into_iter().find(free)
}

pub struct Rescale {
    bands: Vec<usize>,
    ranges: Vec<(f64, f64)>,
    out: (f64, f64),
    clip: bool,
    out_type: OutType,
    nodata: Option<f64>,
    describe: String,
}

impl Op for Rescale {
    fn name(&self) -> &str {
        "rescale"
    }
    fn bands(&self) -> &[usize] {
        &self.bands
    }
    fn out_bands(&self) -> usize {
        self.bands.len()
    }
    fn default_out_type(&self) -> OutType {
        self.out_type
    }
    fn default_nodata(&self) -> Option<f64> {
        self.nodata
    }
    fn compute(&self, block: &Block<'_>) -> Vec<Array2<f64>> {
        let c = block.core;
        self.ranges
            .iter()
            .zip(&block.bands)
            .map(|(&r, b)| {
                let core = b.slice(s![c.row..c.row + c.rows, c.col..c.col + c.cols]);
                stretch(core, r, self.out, self.clip)
            })
            .collect()
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
    /// A stretched red band is still red.
    fn band_source(&self, out: usize) -> Option<usize> {
        self.bands.get(out).copied()
    }
}

/// Map `input` linearly onto `out`; NaN stays NaN. With `clip`, results
/// are clamped to the out range. An empty input range (lo == hi, only from
/// `in=auto` on a near-constant band) is a step at lo.
pub fn stretch(
    data: ArrayView2<'_, f64>,
    (ilo, ihi): (f64, f64),
    (olo, ohi): (f64, f64),
    clip: bool,
) -> Array2<f64> {
    if ilo == ihi {
        return data.mapv(|v| match v {
            v if v.is_nan() => v,
            v if v <= ilo => olo,
            _ => ohi,
        });
    }
    let (lo, hi) = (olo.min(ohi), olo.max(ohi));
    let k = (ohi - olo) / (ihi - ilo);
    data.mapv(|v| {
        let y = olo + (v - ilo) * k;
        if clip {
            y.clamp(lo, hi)
        } else {
            y
        }
    })
}

#[cfg(test)]
mod tests;
