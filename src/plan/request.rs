//! What a caller asks for, typed: the CLI builds one from its flags, the
//! daemon from a rule (just a recipe name). `recipe::resolve` merges it over
//! the named recipe and the config. No clap here: the daemon never goes
//! through command-line parsing to start a job.

use std::path::PathBuf;

use crate::ops::{NodataPolicy, OutType, Resampling};
use crate::plan::recipe::OpSpec;
use crate::sink::overviews::Levels;
use crate::sink::spec::Format;

/// Overrides of the recipe and config; `None`/empty means "not given".
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `tilerun FILE…`: one raster; or, with a recipe that has `inputs`,
    /// the files of a delivery, a folder to search, or an archive.
    pub files: Vec<PathBuf>,
    /// `--input NAME=PATH`, in the order given.
    pub inputs: Vec<(String, PathBuf)>,
    /// `--input-set NAME.KEY=VALUE`: (name, key, value).
    pub input_set: Vec<(String, String, String)>,
    /// `--unscale`: every input with its bands' own scale/offset.
    pub unscale: bool,
    /// `--grid NAME`: the input whose grid the output takes.
    pub grid: Option<String>,
    /// A recipe from the config file.
    pub recipe: Option<String>,
    pub output: Option<PathBuf>,
    /// Replace an existing output (`--overwrite`; the daemon always does).
    pub overwrite: bool,
    /// `--expr` or `--op`; replaces the recipe's op and its parameters.
    pub op: Option<OpSpec>,
    pub set: Vec<(String, String)>,
    pub band: Option<Vec<usize>>,
    pub out_type: Option<OutType>,
    pub nodata: Option<f64>,
    pub policy: Option<NodataPolicy>,
    pub creation_options: crate::sink::options::CreationOptions,
    pub format: Option<Format>,
    pub overviews: Option<Levels>,
    pub resampling: Option<Resampling>,
    pub window: Option<usize>,
}

impl Request {
    /// What the daemon runs for a file (or the members of a set) matched by a
    /// rule. A re-delivered input name replaces its earlier output (and the
    /// daemon logs it).
    pub fn recipe(files: Vec<PathBuf>, recipe: &str) -> Request {
        Request {
            files,
            recipe: Some(recipe.to_string()),
            overwrite: true,
            ..Request::default()
        }
    }
}
