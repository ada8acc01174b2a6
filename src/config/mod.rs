//! The configuration file: engine settings, safety limits and named recipes.
//!
//! Every table denies unknown keys, so a typo is an error naming the key and
//! its line rather than a silently ignored setting. Looked up in this order:
//! `--config FILE`, `$TILERUN_CONFIG`, `./config.toml`,
//! `/etc/tilerun/config.toml`; with none of them, built-in defaults apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::input::pattern::Pattern;
use crate::input::source::Settings;
use crate::input::Limits;
use crate::ops::{NodataPolicy, OutType, Resampling};
use crate::sink::overviews::Levels;
use crate::sink::spec::Format;

mod folders;
pub mod queue;
mod spans;
pub mod watch;

use spans::{key_at, line_of};

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
    pub limits: Limits,
    #[serde(default)]
    pub recipes: BTreeMap<String, Recipe>,
    /// `tilerun watch` settings; see [`crate::config::watch`].
    #[serde(default)]
    pub watch: Option<watch::WatchConfig>,
    /// The shared job queue; see [`crate::config::queue`].
    #[serde(default)]
    pub queue: queue::QueueConfig,
    /// The Prometheus endpoint of `watch` and `worker`.
    #[serde(default)]
    pub metrics: queue::MetricsConfig,
    /// Where the file came from, for messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// The file's text, to find the line of a key that a later check
    /// refuses (see [`Config::at`]).
    #[serde(skip)]
    pub text: String,
}

/// How log records are written on stderr (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
            gdal_cachemax_mb: 32,
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
    /// Accept TIFFs with blocks that have no data (read as nodata/0).
    pub allow_sparse: bool,
}

impl Default for Input {
    fn default() -> Self {
        Input {
            allowed_drivers: vec![
                "GTiff".into(),
                "PNG".into(),
                "JPEG".into(),
                "JP2OpenJPEG".into(),
            ],
            allow_sparse: false,
        }
    }
}

impl Config {
    /// The config file's name for messages.
    pub fn name(&self) -> String {
        match &self.source {
            Some(p) => crate::error::show(p),
            None if self.text.is_empty() => "the built-in defaults (no config file found)".into(),
            None => "the config".into(),
        }
    }

    /// `FILE:LINE` of the key at `path` (e.g. `["recipes", "hs", "set",
    /// "altitud"]`), or of the nearest enclosing key the file has; keys
    /// match in any case (creation options are upper-cased when read).
    pub fn at(&self, path: &[&str]) -> String {
        match line_of(&self.text, path) {
            Some(line) => format!("{}:{line}", self.name()),
            None => self.name(),
        }
    }

    /// Everything checked before an input's pixels are read.
    pub fn limits(&self) -> Limits {
        Limits {
            allow_sparse: self.input.allow_sparse,
            ..self.limits.clone()
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

/// Where a config is looked for, in order, for messages.
pub const LOOKUP: &str = "--config, $TILERUN_CONFIG, ./config.toml, /etc/tilerun/config.toml";

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
    let mut cfg: Config = toml::from_str(text).map_err(|e| {
        // toml names the line; say which recipe (or table) it is in too.
        let place = e
            .span()
            .and_then(|s| key_at(text, s.start))
            .map(|path| match &path[..] {
                [r, name, rest @ ..] if r == "recipes" && !rest.is_empty() => {
                    format!("recipe '{name}', {}: ", rest.join("."))
                }
                _ => format!("{}: ", path.join(".")),
            })
            .unwrap_or_default();
        format!("{place}{}", e.to_string().trim_end())
    })?;
    cfg.text = text.to_string();
    cfg.queue.check()?;
    for (name, r) in &cfg.recipes {
        if r.expr.is_some() == r.op.is_some() {
            let line =
                line_of(text, &["recipes", name]).map_or(String::new(), |l| format!("line {l}: "));
            return Err(format!(
                "{line}recipe '{name}': set exactly one of `expr` or `op`"
            ));
        }
        check_inputs(name, r)?;
    }
    Ok(cfg)
}

/// A recipe's named inputs: names an expression can use, band math only,
/// and a `grid` that names one of them.
fn check_inputs(name: &str, r: &Recipe) -> Result<(), String> {
    let Some(inputs) = &r.inputs else {
        return match &r.grid {
            Some(_) => Err(format!("recipe '{name}': `grid` needs `inputs`")),
            None => Ok(()),
        };
    };
    if r.op.is_some() {
        return Err(format!(
            "recipe '{name}': `inputs` works with `expr` only (ops read one file)"
        ));
    }
    if inputs.is_empty() {
        return Err(format!("recipe '{name}': `inputs` is empty"));
    }
    for k in inputs.keys() {
        crate::ops::expr::Bindings::check_name(k).map_err(|e| format!("recipe '{name}': {e}"))?;
    }
    if let Some(g) = &r.grid {
        if !inputs.keys().any(|k| k.eq_ignore_ascii_case(g)) {
            return Err(format!(
                "recipe '{name}': grid = '{g}' is not one of its inputs"
            ));
        }
    }
    Ok(())
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

    /// The config is operator input, but it must still fail with a message,
    /// never a panic; and no recipe's output template may leave the output
    /// folder whatever the file says. (Bounded fuzzing: `make fuzz`.)
    mod props {
        use super::parse;
        use proptest::prelude::*;
        use std::path::{Component, Path};

        /// Tables of `key = value` lines from the config's own vocabulary
        /// (and the odd random line), so inputs get past TOML syntax into the
        /// typed fields and the recipe checks.
        fn line() -> impl Strategy<Value = String> {
            let table = prop::sample::select(vec![
                "[engine]",
                "[output]",
                "[output.creation_options]",
                "[input]",
                "[limits]",
                "[recipes.x]",
                "[recipes.\"a b\"]",
                "[[recipes]]",
                "[recipes]",
            ]);
            let key = prop::sample::select(vec![
                "workers",
                "window",
                "gdal_cachemax_mb",
                "dir",
                "allowed_drivers",
                "allow_sparse",
                "max_pixels",
                "max_dimension",
                "max_bands",
                "max_block_bytes",
                "expr",
                "op",
                "set",
                "band",
                "ot",
                "nodata",
                "nodata_policy",
                "output",
                "format",
                "co",
                "x",
            ]);
            let value = prop::sample::select(vec![
                "0",
                "-1",
                "18446744073709551616",
                "1e400",
                "nan",
                "inf",
                "true",
                "'b1'",
                "\"../{stem}\"",
                "'{stem}/{recipe}'",
                "'{stem}_{recipe}.tif'",
                "'/etc/x'",
                "[1, 2]",
                "[]",
                "{ a = 1 }",
                "'slope'",
                "2.5",
                "\"\\u0000\"",
                "'..'",
            ]);
            let kv = (key, value).prop_map(|(k, v)| format!("{k} = {v}"));
            let body = prop::collection::vec(prop_oneof![9 => kv, 1 => any::<String>()], 0..5);
            let table = (table, body).prop_map(|(t, b)| format!("{t}\n{}", b.join("\n")));
            // A valid recipe whose output template is made of hostile pieces.
            let piece = prop::sample::select(vec![
                "{stem}", "{recipe}", "{ext}", "..", "/", ".", "a", "\\", " ", "~", "{", "}",
            ]);
            let template = prop::collection::vec(piece, 0..7).prop_map(|v| v.concat());
            let name = prop::sample::select(vec!["x", "..", "a/b", "", "/"]);
            let recipe = (name, template)
                .prop_map(|(n, t)| format!("[recipes.{n:?}]\nexpr = 'b1'\noutput = {t:?}"));
            prop_oneof![table, recipe]
        }

        proptest! {
            #[test]
            fn arbitrary_text_never_panics(text in any::<String>()) {
                let _ = parse(&text);
            }

            #[test]
            fn config_shaped_text_never_panics_or_escapes(
                lines in prop::collection::vec(line(), 0..5)
            ) {
                let Ok(cfg) = parse(&lines.join("\n")) else { return Ok(()) };
                let _ = cfg.limits();
                for (name, r) in &cfg.recipes {
                    let Some(t) = &r.output else { continue };
                    let input = Path::new("/in/scene.tif");
                    if let Ok(p) = crate::plan::recipe::render(t, input, name) {
                        let comps: Vec<_> = p.components().collect();
                        prop_assert!(matches!(comps[..], [Component::Normal(_)]), "{t:?}: {p:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let err = parse("[engine]\nworkers = 2\nwindoww = 3\n").unwrap_err();
        assert!(err.contains("windoww"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        let err = parse("[recipes.x]\nexpr = 'b1'\ncolour = 1\n").unwrap_err();
        assert!(err.contains("colour") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn a_value_that_does_not_deserialise_names_its_recipe_and_key() {
        let e =
            parse("[engine]\nworkers = 1\n[recipes.t]\nexpr = 'b1'\not = 'Float23'\n").unwrap_err();
        assert!(e.starts_with("recipe 't', ot: "), "{e}");
        assert!(e.contains("line 5") && e.contains("Float23"), "{e}");
        let e = parse("[recipes.t]\nexpr = 'b1'\ncolour = 1\n").unwrap_err();
        assert!(e.contains("colour") && e.contains("line 3"), "{e}");
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
        let text = include_str!("../../config.toml");
        let c = parse(text).unwrap();
        assert!(c.recipes.contains_key("ndvi"));
    }
}
