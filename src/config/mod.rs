//! The configuration file: engine settings, safety limits and named recipes.
//!
//! Every table denies unknown keys, so a typo is an error naming the key and
//! its line rather than a silently ignored setting. Looked up in this order:
//! `--config FILE`, `$TILERUN_CONFIG`, `./config.toml`,
//! `/etc/tilerun/config.toml`; with none of them, built-in defaults apply.
//!
//! This file is the schema of the engine tables; `recipe` holds the
//! recipes, `load` finds and parses the file, `watch`/`queue` their tables.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::input::Limits;

mod folders;
mod load;
pub mod queue;
mod recipe;
mod spans;
#[cfg(test)]
mod tests;
pub mod watch;

pub use load::{load, locate, parse, value_string, LOOKUP};
pub use recipe::{BandList, InputDecl, Recipe};
use spans::line_of;

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
