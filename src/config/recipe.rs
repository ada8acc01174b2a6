//! `[recipes.NAME]`: a named, reusable processing recipe as written in the
//! file, and the checks that need only the recipe itself (its named inputs
//! and `grid`). Kept apart from the engine tables in `mod.rs` because a
//! recipe is the part of the file that grows with every new kind of input.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::input::pattern::Pattern;
use crate::input::source::Settings;
use crate::ops::{NodataPolicy, OutType, Resampling};
use crate::sink::overviews::Levels;
use crate::sink::spec::Format;

/// A named, reusable processing recipe. Exactly one of `expr` or `op`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub expr: Option<String>,
    pub op: Option<String>,
    /// Op parameters, as `--set` would give them.
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    pub band: Option<BandList>,
    pub ot: Option<OutType>,
    pub nodata: Option<f64>,
    pub nodata_policy: Option<NodataPolicy>,
    /// Output name template: `{stem}`, `{recipe}`, `{ext}`.
    pub output: Option<String>,
    pub format: Option<Format>,
    /// `"auto"`, `"none"`, or factors: `[2, 4, 8]` or `"2,4,8"`.
    pub overviews: Option<Levels>,
    pub resampling: Option<Resampling>,
    #[serde(default)]
    pub co: BTreeMap<String, String>,
    /// Named inputs of a multi-file delivery: `NAME = "PATTERN"` or
    /// `NAME = { pattern = "...", scale = ..., ... }` (see [`InputDecl`]).
    pub inputs: Option<BTreeMap<String, InputDecl>>,
    /// Unscale every input with its bands' GDAL scale/offset.
    pub unscale: Option<bool>,
    /// The input whose grid the output takes (default: the finest).
    pub grid: Option<String>,
}

/// One named input of a recipe: the file-name pattern whose `*` is the
/// delivery's set key, and how to read the input.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "toml::Value")]
pub struct InputDecl {
    pub pattern: Pattern,
    pub settings: Settings,
}

impl TryFrom<toml::Value> for InputDecl {
    type Error = String;
    fn try_from(v: toml::Value) -> Result<Self, String> {
        let (pattern, rest) = match v {
            toml::Value::String(s) => (s, toml::Table::new()),
            toml::Value::Table(mut t) => match t.remove("pattern") {
                Some(toml::Value::String(s)) => (s, t),
                _ => return Err("an input table needs `pattern = \"...\"`".into()),
            },
            _ => return Err("an input is a pattern string or a table with `pattern`".into()),
        };
        let settings =
            Settings::deserialize(toml::Value::Table(rest)).map_err(|e| e.to_string())?;
        Ok(InputDecl {
            pattern: pattern.parse()?,
            settings,
        })
    }
}

/// `band = 2` or `band = [1, 2, 3]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BandList {
    One(usize),
    Many(Vec<usize>),
}

impl BandList {
    pub fn to_vec(&self) -> Vec<usize> {
        match self {
            BandList::One(b) => vec![*b],
            BandList::Many(v) => v.clone(),
        }
    }
}

/// A recipe's named inputs: names an expression can use, band math only,
/// and a `grid` that names one of them. An error comes with the key it is
/// about (`inputs` or `grid`), for the caller to find its line.
pub(super) fn check_inputs(name: &str, r: &Recipe) -> Result<(), (&'static str, String)> {
    let fail = |key, why: String| Err((key, format!("recipe '{name}': {why}")));
    let Some(inputs) = &r.inputs else {
        return match &r.grid {
            Some(_) => fail("grid", "`grid` needs `inputs`".into()),
            None => Ok(()),
        };
    };
    if r.op.is_some() {
        return fail(
            "inputs",
            "`inputs` works with `expr` only (ops read one file)".into(),
        );
    }
    if inputs.is_empty() {
        return fail("inputs", "`inputs` is empty".into());
    }
    if !inputs.values().any(|d| d.pattern.keyed()) {
        let why = "no input pattern has a '*': at least one must, as what it matches (the set \
                   key) ties a delivery's files together and names the output";
        return fail("inputs", why.into());
    }
    for k in inputs.keys() {
        if let Err(e) = crate::ops::expr::Bindings::check_name(k) {
            return fail("inputs", e.to_string());
        }
    }
    if let Some(g) = &r.grid {
        if !inputs.keys().any(|k| k.eq_ignore_ascii_case(g)) {
            return fail("grid", format!("grid = '{g}' is not one of its inputs"));
        }
    }
    Ok(())
}
