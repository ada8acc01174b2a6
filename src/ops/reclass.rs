//! `reclass`: map value ranges to class values — turning a continuous
//! product (NDVI, slope) into the categories a map legend shows.
//!
//! # Parameters (`--set`)
//! * `rules='[-1,0):1; [0,0.3):2; [0.3,1]:3'`: `;`-separated `RANGE:VALUE`.
//!   A range is `[a,b]`, `[a,b)`, `(a,b]` or `(a,b)` (square = closed end,
//!   round = open), or a single number `a` (= `[a,a]`); `-inf`/`inf` are
//!   allowed as ends. VALUE is a number or `nodata`. Rules may not overlap
//!   (refused, naming both), so the order they are written in never matters.
//! * `default=VALUE`: for valid pixels no rule matches (default: nodata).
//! * `band=N` (`--band`): the band to classify (required if several).
//!
//! Input nodata maps to output nodata. Class maps are categorical, so
//! overviews default to `mode` resampling. The default output type is the
//! smallest integer type holding every class value plus a free nodata value
//! (255, then 0, ...), else Float32.

use ndarray::{s, Array2, ArrayView2};

use super::terrain::params::Taker;
use super::{Block, InputInfo, Op, OpError, OutType, Params};
use crate::ops::Resampling;

/// One `RANGE:VALUE` rule; `value` NaN means nodata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub lo: f64,
    pub lo_closed: bool,
    pub hi: f64,
    pub hi_closed: bool,
    pub value: f64,
}

impl Rule {
    pub fn contains(&self, v: f64) -> bool {
        let above = if self.lo_closed {
            v >= self.lo
        } else {
            v > self.lo
        };
        let below = if self.hi_closed {
            v <= self.hi
        } else {
            v < self.hi
        };
        above && below
    }

    /// The range as written back: `[a,b)`.
    pub fn range_text(&self) -> String {
        if self.lo == self.hi && self.lo_closed && self.hi_closed {
            return format!("{}", self.lo);
        }
        format!(
            "{}{},{}{}",
            if self.lo_closed { '[' } else { '(' },
            self.lo,
            self.hi,
            if self.hi_closed { ']' } else { ')' }
        )
    }

    /// Some point both rules contain, if they overlap.
    fn overlap(&self, o: &Rule) -> Option<f64> {
        let (lo, lo_closed) = match self.lo.total_cmp(&o.lo) {
            std::cmp::Ordering::Greater => (self.lo, self.lo_closed),
            std::cmp::Ordering::Less => (o.lo, o.lo_closed),
            std::cmp::Ordering::Equal => (self.lo, self.lo_closed && o.lo_closed),
        };
        let (hi, hi_closed) = match self.hi.total_cmp(&o.hi) {
            std::cmp::Ordering::Less => (self.hi, self.hi_closed),
            std::cmp::Ordering::Greater => (o.hi, o.hi_closed),
            std::cmp::Ordering::Equal => (self.hi, self.hi_closed && o.hi_closed),
        };
        if lo < hi {
            Some(if lo.is_finite() && hi.is_finite() {
                lo + (hi - lo) / 2.0
            } else if lo.is_finite() {
                lo + 1.0
            } else if hi.is_finite() {
                hi - 1.0
            } else {
                0.0
            })
        } else if lo == hi && lo_closed && hi_closed {
            Some(lo)
        } else {
            None
        }
    }
}

fn num(s: &str) -> Option<f64> {
    let s = s.trim();
    match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

fn value(s: &str) -> Option<f64> {
    if s.trim().eq_ignore_ascii_case("nodata") {
        Some(f64::NAN)
    } else {
        num(s).filter(|v| v.is_finite())
    }
}

/// Parse `rules`, refusing malformed, empty and overlapping ranges.
pub fn parse_rules(src: &str) -> Result<Vec<Rule>, String> {
    let rules = src
        .split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(parse_rule)
        .collect::<Result<Vec<_>, _>>()?;
    if rules.is_empty() {
        return Err("--set rules: no rule given (e.g. rules='[0,0.3):1; [0.3,1]:2')".into());
    }
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            if let Some(p) = a.overlap(b) {
                return Err(format!(
                    "--set rules: {} and {} overlap (both contain {p})",
                    a.range_text(),
                    b.range_text()
                ));
            }
        }
    }
    Ok(rules)
}

/// One `RANGE:VALUE` rule: a single number, or `[a,b)`-style bounds.
fn parse_rule(text: &str) -> Result<Rule, String> {
    let bad = |why: &str| format!("--set rules: '{text}': {why}");
    let (range, val) = text
        .rsplit_once(':')
        .ok_or_else(|| bad("expected RANGE:VALUE, e.g. [0,0.3):2"))?;
    let value = value(val).ok_or_else(|| bad("the value must be a number or 'nodata'"))?;
    let range = range.trim();
    let rule = if let Some(v) = num(range).filter(|v| v.is_finite()) {
        Rule {
            lo: v,
            lo_closed: true,
            hi: v,
            hi_closed: true,
            value,
        }
    } else {
        let lo_closed = match range.chars().next() {
            Some('[') => true,
            Some('(') => false,
            _ => return Err(bad("a range starts with '[' or '('")),
        };
        let hi_closed = match range.chars().last() {
            Some(']') => true,
            Some(')') => false,
            _ => return Err(bad("a range ends with ']' or ')'")),
        };
        let inner = &range[1..range.len() - 1];
        let (a, b) = inner
            .split_once(',')
            .ok_or_else(|| bad("a range is two numbers 'a,b'"))?;
        let (Some(lo), Some(hi)) = (num(a), num(b)) else {
            return Err(bad("range ends must be numbers, -inf or inf"));
        };
        Rule {
            lo,
            lo_closed,
            hi,
            hi_closed,
            value,
        }
    };
    if rule.lo > rule.hi || (rule.lo == rule.hi && !(rule.lo_closed && rule.hi_closed)) {
        return Err(bad("the range is empty"));
    }
    Ok(rule)
}

/// Classify every pixel: the matching rule's value, else `default`; NaN in,
/// NaN out.
pub fn classify(data: ArrayView2<'_, f64>, rules: &[Rule], default: f64) -> Array2<f64> {
    data.mapv(|v| {
        if v.is_nan() {
            return v;
        }
        rules
            .iter()
            .find(|r| r.contains(v))
            .map_or(default, |r| r.value)
    })
}

/// The `--set` keys reclass takes.
pub const KEYS: &[&str] = &["band", "rules", "default"];

pub fn build(params: &Params, info: &InputInfo) -> Result<Box<dyn Op>, OpError> {
    let mut t = Taker::new("reclass", params, KEYS);
    let band = t.band(info)?;
    let raw = t.take("rules").ok_or_else(|| {
        t.err_at(
            "rules",
            "--set rules= is required, e.g. rules='[-1,0):1; [0,0.3):2; [0.3,1]:3'",
        )
    })?;
    let rules = parse_rules(&raw).map_err(|e| t.err_at("rules", e))?;
    let default = match t.take("default") {
        None => f64::NAN,
        Some(d) => value(&d).ok_or_else(|| {
            t.err_at(
                "default",
                format!("--set default={d}: expected a number or 'nodata'"),
            )
        })?,
    };
    t.finish()?;
    let mut values: Vec<f64> = rules.iter().map(|r| r.value).collect();
    values.push(default);
    values.retain(|v| !v.is_nan());
    let (out_type, nodata) = fitting_type(&values);
    let text: Vec<String> = rules
        .iter()
        .map(|r| {
            let v = if r.value.is_nan() {
                "nodata".to_string()
            } else {
                r.value.to_string()
            };
            format!("{}:{v}", r.range_text())
        })
        .collect();
    let default_text = if default.is_nan() {
        "nodata".to_string()
    } else {
        default.to_string()
    };
    Ok(Box::new(Reclass {
        bands: [band],
        describe: format!(
            "band={band} rules={} default={default_text}",
            text.join("; ")
        ),
        rules,
        default,
        out_type,
        nodata,
    }))
}

/// The smallest integer type holding all `values` with a nodata value to
/// spare (its usual one, else 0, else the lowest free one), else Float32.
fn fitting_type(values: &[f64]) -> (OutType, Option<f64>) {
    let integral = values.iter().all(|v| v.fract() == 0.0);
    let used = |v: f64| values.contains(&v);
    for t in [
        OutType::Byte,
        OutType::UInt16,
        OutType::Int16,
        OutType::Int32,
    ] {
        if !integral || !values.iter().all(|v| t.holds(*v)) {
            continue;
        }
        let (lo, hi) = t.range();
        let nodata = [t.default_nodata(), 0.0]
            .into_iter()
            .find(|v| !used(*v))
            .or_else(|| {
                (0..values.len() + 1)
                    .map(|i| lo + i as f64)
                    .find(|v| !used(*v))
            })
            .filter(|v| *v <= hi);
        if nodata.is_some() {
            return (t, nodata);
        }
    }
    let nodata =
        (!used(OutType::Float32.default_nodata())).then(|| OutType::Float32.default_nodata());
    (OutType::Float32, nodata)
}

pub struct Reclass {
    bands: [usize; 1],
    rules: Vec<Rule>,
    default: f64,
    out_type: OutType,
    nodata: Option<f64>,
    describe: String,
}

impl Op for Reclass {
    fn name(&self) -> &str {
        "reclass"
    }
    fn bands(&self) -> &[usize] {
        &self.bands
    }
    fn out_bands(&self) -> usize {
        1
    }
    fn default_out_type(&self) -> OutType {
        self.out_type
    }
    fn default_nodata(&self) -> Option<f64> {
        self.nodata
    }
    fn compute(&self, block: &Block<'_>) -> Vec<Array2<f64>> {
        let c = block.core;
        let core = block.bands[0].slice(s![c.row..c.row + c.rows, c.col..c.col + c.cols]);
        vec![classify(core, &self.rules, self.default)]
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
    fn band_description(&self, _out: usize) -> Option<String> {
        Some(format!("classes of band {}", self.bands[0]))
    }
    fn overview_resampling(&self) -> Resampling {
        Resampling::Mode
    }
}

#[cfg(test)]
mod tests;
