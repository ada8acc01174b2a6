//! Command-line interface. Flags override the config file, which overrides
//! built-in defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::LogFormat;
use crate::error::{usage, Error};
use crate::ops::OutType;
use crate::plan::recipe::OpSpec;
use crate::plan::Request;

#[derive(Debug, Parser)]
#[command(
    name = "tilerun",
    version,
    about = "Windowed, parallel raster processing over GDAL: band math, terrain, focal ops",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Input raster; with a recipe that has `inputs`: the delivery's
    /// files, its folder (searched recursively) or its archive.
    #[arg(required_unless_present = "inputs")]
    pub input: Vec<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch a drop folder and process every raster that lands there.
    Watch {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
pub struct Common {
    /// Config file (default: $TILERUN_CONFIG, ./config.toml, /etc/tilerun/config.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// More logging (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// Output path (default: from the recipe's template, beside the input).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Band math over b1..bN; several expressions separated by ';'.
    #[arg(short, long, conflicts_with_all = ["recipe", "op"])]
    pub expr: Option<String>,
    /// A recipe from the config file.
    #[arg(short, long, conflicts_with = "op")]
    pub recipe: Option<String>,
    /// A named input NAME=PATH (repeatable); the expression calls it NAME
    /// (its band 1) or NAME.bK.
    #[arg(long = "input", value_name = "NAME=PATH", value_parser = parse_named_path)]
    pub inputs: Vec<(String, PathBuf)>,
    /// Per-input setting NAME.KEY=VALUE (repeatable): unscale, scale,
    /// offset, nodata (raw value), resampling (nearest, bilinear, cubic, average).
    #[arg(long = "input-set", value_name = "NAME.KEY=VALUE", value_parser = parse_input_set)]
    pub input_set: Vec<(String, String, String)>,
    /// Unscale every input with its bands' GDAL scale/offset.
    #[arg(long)]
    pub unscale: bool,
    /// The input whose grid the output takes (default: the finest).
    #[arg(long, value_name = "NAME")]
    pub grid: Option<String>,
    /// A built-in op: hillshade, slope, aspect, focal, rescale, reclass.
    #[arg(long)]
    pub op: Option<String>,
    /// Op parameter KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub set: Vec<(String, String)>,
    /// Input band(s) the op reads, e.g. 2 or 1,2,3.
    #[arg(short, long, value_delimiter = ',')]
    pub band: Option<Vec<usize>>,
    /// Output type: Byte, UInt16, Int16, UInt32, Int32, Float32, Float64.
    #[arg(long, value_parser = clap::value_parser!(OutTypeArg))]
    pub ot: Option<OutTypeArg>,
    /// Output nodata value (default: the op's, else the type's).
    #[arg(long, allow_negative_numbers = true)]
    pub nodata: Option<f64>,
    /// How nodata inputs are treated: propagate, ignore or none.
    #[arg(long)]
    pub nodata_policy: Option<String>,
    /// GDAL creation option NAME=VALUE (repeatable), merged over the defaults.
    #[arg(long = "co", value_name = "NAME=VALUE", value_parser = parse_kv)]
    pub co: Vec<(String, String)>,
    /// Output format: GTiff or COG.
    #[arg(long = "of")]
    pub format: Option<String>,
    /// Overview factors (e.g. 2,4,8,16), auto or none. Default: none for
    /// GTiff, auto for COG (halvings until the smallest is under 512 px).
    #[arg(long)]
    pub overviews: Option<String>,
    /// Overview resampling: nearest, average, rms, bilinear, cubic,
    /// cubicspline, lanczos, gauss or mode (default: the op's; average, or
    /// mode for class maps).
    #[arg(long)]
    pub resampling: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(short = 'j', long)]
    pub workers: Option<usize>,
    /// Window edge in pixels (default: follows output tiles and input blocks).
    #[arg(long)]
    pub window: Option<usize>,
    /// GDAL block cache in MB (shared by all workers).
    #[arg(long)]
    pub cache_max: Option<usize>,
    /// Print one JSON summary line on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--ot` parsed by clap so a bad type is a usage error (exit 2).
#[derive(Debug, Clone, Copy)]
pub struct OutTypeArg(pub OutType);

impl std::str::FromStr for OutTypeArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse().map(OutTypeArg)
    }
}

impl RunArgs {
    /// The typed request the plan takes: every string flag parsed here, so
    /// a bad value is a usage error naming the flag.
    pub fn request(&self, files: &[PathBuf]) -> Result<Request, Error> {
        let op = match (&self.expr, &self.op) {
            (Some(e), _) => Some(OpSpec::Expr(e.clone())),
            (None, Some(o)) => Some(OpSpec::Named(o.clone())),
            (None, None) => None,
        };
        Ok(Request {
            files: files.to_vec(),
            inputs: self.inputs.clone(),
            input_set: self.input_set.clone(),
            unscale: self.unscale,
            grid: self.grid.clone(),
            recipe: self.recipe.clone(),
            output: self.output.clone(),
            op,
            set: self.set.clone(),
            band: self.band.clone(),
            out_type: self.ot.map(|t| t.0),
            nodata: self.nodata,
            policy: parsed(&self.nodata_policy, "--nodata-policy: ")?,
            creation_options: self.co.iter().map(|(k, v)| (k, v.clone())).collect(),
            format: parsed(&self.format, "--of: ")?,
            // These two name their flag in their own messages.
            overviews: parsed(&self.overviews, "")?,
            resampling: parsed(&self.resampling, "")?,
            window: self.window,
        })
    }
}

/// A string flag parsed into its type; a bad value is a usage error.
fn parsed<T: std::str::FromStr<Err = String>>(
    v: &Option<String>,
    flag: &str,
) -> Result<Option<T>, Error> {
    v.as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| usage(format!("{flag}{e}")))
}

/// `NAME=PATH`: the path keeps its exact bytes (it may not be UTF-8).
fn parse_named_path(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.is_empty() => {
            Ok((k.trim().to_string(), PathBuf::from(v)))
        }
        _ => Err(format!("expected NAME=PATH, got '{s}'")),
    }
}

/// `NAME.KEY=VALUE`.
fn parse_input_set(s: &str) -> Result<(String, String, String), String> {
    let (nk, v) = parse_kv(s)?;
    match nk.split_once('.') {
        Some((n, k)) if !n.is_empty() && !k.is_empty() => Ok((n.into(), k.into(), v)),
        _ => Err(format!("expected NAME.KEY=VALUE, got '{s}'")),
    }
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected KEY=VALUE, got '{s}'")),
    }
}
