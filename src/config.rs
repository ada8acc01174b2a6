//! The configuration file: engine settings, safety limits and named recipes.
//!
//! Every table denies unknown keys, so a typo is an error naming the key and
//! its line rather than a silently ignored setting. Looked up in this order:
//! `--config FILE`, `$TILERUN_CONFIG`, `./config.toml`,
//! `/etc/tilerun/config.toml`; with none of them, built-in defaults apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::input::Limits;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub engine: Engine,
    #[serde(default)]
    pub output: Output,
    #[serde(default)]
    pub input: Input,
    #[serde(default)]
    pub limits: LimitsCfg,
    #[serde(default)]
    pub recipes: BTreeMap<String, Recipe>,
    /// Where the file came from, for messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Engine {
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    /// Window edge in pixels; 0 = automatic.
    pub window: usize,
    /// GDAL block cache, shared by all threads.
    pub gdal_cachemax_mb: usize,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            workers: 0,
            window: 0,
            gdal_cachemax_mb: 64,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Output {
    /// Folder for outputs named from templates; empty = beside the input.
    pub dir: Option<PathBuf>,
    /// Creation options merged over the built-in defaults.
    pub creation_options: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Input {
    pub allowed_drivers: Vec<String>,
}

impl Default for Input {
    fn default() -> Self {
        Input {
            allowed_drivers: vec!["GTiff".into(), "PNG".into(), "JPEG".into()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsCfg {
    pub max_pixels: u64,
    pub max_dimension: usize,
    pub max_bands: usize,
}

impl Default for LimitsCfg {
    fn default() -> Self {
        let l = Limits::default();
        LimitsCfg {
            max_pixels: l.max_pixels,
            max_dimension: l.max_dimension,
            max_bands: l.max_bands,
        }
    }
}

impl LimitsCfg {
    pub fn limits(&self) -> Limits {
        Limits {
            max_pixels: self.max_pixels,
            max_dimension: self.max_dimension,
            max_bands: self.max_bands,
        }
    }
}

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
    pub ot: Option<String>,
    pub nodata: Option<f64>,
    pub nodata_policy: Option<String>,
    /// Output name template: `{stem}`, `{recipe}`, `{ext}`.
    pub output: Option<String>,
    pub format: Option<String>,
    #[serde(default)]
    pub co: BTreeMap<String, String>,
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

/// Where the config came from, in lookup order.
pub fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>, String> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(Some(p.to_path_buf()))
        } else {
            Err(format!("{}: config file not found", p.display()))
        };
    }
    if let Some(p) = std::env::var_os("TILERUN_CONFIG").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(Some(p))
        } else {
            Err(format!(
                "{}: config file named by $TILERUN_CONFIG not found",
                p.display()
            ))
        };
    }
    Ok(["config.toml", "/etc/tilerun/config.toml"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file()))
}

/// Load and validate the config at `path` (None = defaults).
pub fn load(path: Option<&Path>) -> Result<Config, String> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut cfg = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    cfg.source = Some(path.to_path_buf());
    Ok(cfg)
}

/// Parse config text; errors name the key and line.
pub fn parse(text: &str) -> Result<Config, String> {
    let cfg: Config = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    for (name, r) in &cfg.recipes {
        if r.expr.is_some() == r.op.is_some() {
            return Err(format!(
                "recipe '{name}': set exactly one of `expr` or `op`"
            ));
        }
    }
    Ok(cfg)
}

/// A TOML scalar as the string `--set` would have given.
pub fn value_string(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(a) => a.iter().map(value_string).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let err = parse("[engine]\nworkers = 2\nwindoww = 3\n").unwrap_err();
        assert!(err.contains("windoww"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        let err = parse("[recipes.x]\nexpr = 'b1'\ncolour = 1\n").unwrap_err();
        assert!(err.contains("colour") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn recipes_need_exactly_one_of_expr_or_op() {
        assert!(parse("[recipes.x]\nexpr = 'b1'\nop = 'slope'\n").is_err());
        assert!(parse("[recipes.x]\not = 'Byte'\n").is_err());
        let c = parse("[recipes.x]\nop = 'slope'\nset = { units = 'percent', z = 2 }\n").unwrap();
        assert_eq!(value_string(&c.recipes["x"].set["z"]), "2");
    }

    #[test]
    fn the_shipped_example_parses() {
        let text = include_str!("../config.toml");
        let c = parse(text).unwrap();
        assert!(c.recipes.contains_key("ndvi"));
    }
}
