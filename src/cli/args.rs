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
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    arg_required_else_help = true
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

/// What `--help` adds under the flags: the GDAL spellings and the rules a
/// GDAL user would otherwise have to guess.
const AFTER_HELP: &str = "\
GDAL spellings work too: -of, -co KEY=V, -ot, -b, -q, -overwrite.
The format follows the output name: .png writes PNG (Byte/UInt16), .jpg/.jpeg
JPEG (Byte), .tif GeoTIFF or COG; --of that disagrees with the name is refused.
An existing output is refused unless --overwrite is given (gdal_calc's rule).
Creation options are checked against the GDAL driver's own list.
Run `tilerun watch --help` for the drop-folder daemon.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch a drop folder and process every raster that lands there.
    #[command(after_help = WATCH_HELP)]
    Watch {
        #[command(flatten)]
        common: Common,
        /// Serve Prometheus metrics on ADDR:PORT (overrides [metrics] listen).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<String>,
    },
    /// Queue inputs for the workers (one job per input and recipe).
    Submit {
        /// Input rasters: paths on storage the workers share.
        #[arg(required = true)]
        inputs: Vec<String>,
        /// The recipe to run (from the workers' config).
        #[arg(short, long)]
        recipe: String,
        #[command(flatten)]
        queue: QueueArgs,
        /// One JSON line per job on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Take jobs from the queue and run them until SIGTERM.
    Worker {
        #[command(flatten)]
        queue: QueueArgs,
        /// Seconds a claim lasts without a heartbeat (overrides [queue] lease_secs).
        #[arg(long)]
        lease_secs: Option<f64>,
        /// Claims per job before it is dead (overrides [queue] max_attempts).
        #[arg(long)]
        max_attempts: Option<u32>,
        /// First retry delay in seconds, doubling (overrides [queue] backoff_secs).
        #[arg(long)]
        backoff_secs: Option<f64>,
        /// Fallback poll in seconds when no NOTIFY arrives (overrides [queue] poll_secs).
        #[arg(long)]
        poll_secs: Option<f64>,
        /// Engine threads, shared by the jobs (overrides [engine] workers).
        #[arg(short = 'j', long)]
        threads: Option<usize>,
        /// Jobs run at once (overrides [queue] jobs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Serve Prometheus metrics on ADDR:PORT (overrides [metrics] listen).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// What the queue holds: counts, oldest pending, running jobs, recent failures.
    Status {
        #[command(flatten)]
        queue: QueueArgs,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Put dead (or, by id, failed or cancelled) jobs back to pending with fresh attempts.
    Requeue {
        /// Every dead job.
        #[arg(long, conflicts_with = "ids", required_unless_present = "ids")]
        dead: bool,
        ids: Vec<i64>,
        #[command(flatten)]
        queue: QueueArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Cancel pending or running jobs.
    Cancel {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[command(flatten)]
        queue: QueueArgs,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
pub struct QueueArgs {
    /// postgresql://USER:PASSWORD@HOST:PORT/DB (overrides [queue] url).
    #[arg(long, env = "TILERUN_QUEUE", hide_env_values = true)]
    pub queue: Option<String>,
}

/// Where `watch` is set up: the config keys, so `--help` is a starting point.
const WATCH_HELP: &str = "\
Set up in the [watch] table of the config file (see the shipped config.toml):
  inbox, output            folders that must already exist
  work, done, failed       state folders (default: beside the inbox; created if missing)
  [[watch.rules]]          glob = \"*.tif\", recipe = \"NAME\" (first match wins)
  settle_secs, poll, poll_interval_secs, rescan_interval_secs,
  max_attempts, retry_backoff_secs, on_stop (finish|rollback), grace_secs
Recipes are [recipes.NAME] tables: expr or op, set, band, ot, nodata,
nodata_policy, output, format, overviews, resampling, co. Every recipe is
checked at start-up; a broken config exits 2 before READY=1 and creates nothing.";

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
    /// Its extension picks the format: .tif, .png, .jpg.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Replace an existing output (without it, an existing output is refused).
    #[arg(long)]
    pub overwrite: bool,
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
    /// Input band(s) the op reads, e.g. 2 or 1,2,3 (repeatable, as in GDAL).
    /// Not with --expr: an expression names its bands (b1..bN).
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
    /// GDAL creation option NAME=VALUE (repeatable), merged over the defaults;
    /// unknown names and values are refused.
    #[arg(long = "co", value_name = "NAME=VALUE", value_parser = parse_kv)]
    pub co: Vec<(String, String)>,
    /// Output format: GTiff, COG, PNG or JPEG (default: from the output's
    /// extension, else GTiff).
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
    /// Window edge in pixels (0 or unset: follows output tiles and input
    /// blocks, as `[engine] window = 0`).
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
            overwrite: self.overwrite,
            op,
            set: self.set.clone(),
            band: self.band.clone(),
            out_type: self.ot.map(|t| t.0),
            nodata: self.nodata,
            policy: parsed(&self.nodata_policy, "--nodata-policy: ")?,
            creation_options: self.co.iter().map(|(k, v)| (k, v.clone())).collect(),
            format: parsed(&self.format, "--of: ")?,
            // --overviews names its flag in its own messages.
            overviews: parsed(&self.overviews, "")?,
            resampling: parsed(&self.resampling, "--resampling: ")?,
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

/// GDAL's single-dash spellings, rewritten to tilerun's before clap sees
/// them. clap's short flags are one letter, so `-of COG` would otherwise
/// parse as `-o f` plus a stray `COG`, and `-co` as `-c`. Only whole
/// arguments before a `--` are rewritten; `-o`, `-q`, `-b` are unchanged.
pub fn gdal_spellings<I: IntoIterator<Item = std::ffi::OsString>>(
    args: I,
) -> Vec<std::ffi::OsString> {
    let mut after_dashes = false;
    args.into_iter()
        .map(|a| {
            if after_dashes {
                return a;
            }
            after_dashes = a == "--";
            match a.to_str() {
                Some("-of" | "-co" | "-ot" | "-overwrite") => {
                    format!("-{}", a.to_string_lossy()).into()
                }
                _ => a,
            }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(args: &[&str]) -> Vec<String> {
        gdal_spellings(args.iter().map(|a| std::ffi::OsString::from(*a)))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn gdal_spellings_become_long_flags_before_dashes_only() {
        assert_eq!(
            rewrite(&["tilerun", "in.tif", "-of", "COG", "-co", "A=B", "-ot", "Byte", "-o", "x"]),
            ["tilerun", "in.tif", "--of", "COG", "--co", "A=B", "--ot", "Byte", "-o", "x"]
        );
        assert_eq!(
            rewrite(&["t", "-overwrite", "-q"]),
            ["t", "--overwrite", "-q"]
        );
        assert_eq!(rewrite(&["t", "--", "-co"]), ["t", "--", "-co"]);
        // Values that merely start like one are left alone.
        assert_eq!(rewrite(&["t", "-of=COG", "-cox"]), ["t", "-of=COG", "-cox"]);
    }
}
