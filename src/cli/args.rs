//! Command-line interface. Flags override the config file, which overrides
//! built-in defaults.

use std::path::{Path, PathBuf};

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
    /// Input raster.
    #[arg(required = true)]
    pub input: Option<PathBuf>,
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
    /// Put dead (or, by id, failed) jobs back to pending with fresh attempts.
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
    pub fn request(&self, input: &Path) -> Result<Request, Error> {
        let op = match (&self.expr, &self.op) {
            (Some(e), _) => Some(OpSpec::Expr(e.clone())),
            (None, Some(o)) => Some(OpSpec::Named(o.clone())),
            (None, None) => None,
        };
        Ok(Request {
            input: input.to_path_buf(),
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

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected KEY=VALUE, got '{s}'")),
    }
}
