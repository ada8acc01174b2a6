//! A queue site: a PostgreSQL cluster, input and output folders, a config
//! with short leases, and the real `tilerun` processes (workers are
//! `watch::harness::Daemon`s: spawned, their JSON log lines collected).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::pg::Pg;
use crate::util::*;
use crate::watch::harness::{Daemon, NDVI};

pub struct Site {
    pub env: Env,
    pub pg: Pg,
    pub inputs: PathBuf,
    pub out: PathBuf,
    pub config: PathBuf,
}

impl Site {
    /// `queue` holds extra `[queue]` keys.
    pub fn new(queue: &str) -> Site {
        let env = Env::new();
        let (inputs, out) = (env.path("in"), env.path("out"));
        for d in [&inputs, &out] {
            std::fs::create_dir_all(d).unwrap();
        }
        let pg = Pg::start();
        let text = format!(
            "[engine]\nworkers = 1\n[output]\ndir = '{}'\n\
             [recipes.ndvi]\nexpr = '{NDVI}'\not = 'Float32'\nnodata = -9999\noutput = '{{stem}}_ndvi.tif'\n\
             [queue]\nurl = '{}'\nbackoff_secs = 0.2\npoll_secs = 1\n{queue}\n",
            out.display(),
            pg.url()
        );
        let config = env.write("queue.toml", &text);
        Site {
            env,
            pg,
            inputs,
            out,
            config,
        }
    }

    /// `tilerun ARGS… --config CONFIG` (the subcommand must come first).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.env.cmd();
        c.env_remove("TILERUN_QUEUE").env_remove("JOURNAL_STREAM");
        c.args(args).arg("--config").arg(&self.config);
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.cmd(args).output().unwrap())
    }

    pub fn worker(&self, env: &[(&str, &str)]) -> Daemon {
        self.worker_with(&[], env)
    }

    pub fn worker_with(&self, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut c = self.cmd(&["worker", "--log-format", "json"]);
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let mut d = Daemon::spawn(c);
        d.wait_ready();
        d
    }

    /// `n` inputs named s00.tif…, cycling through a few different rasters
    /// so an output given to the wrong job would not match its reference.
    pub fn inputs(&self, n: usize) -> Vec<PathBuf> {
        let sources = self.sources();
        (0..n)
            .map(|i| {
                let p = self.inputs.join(format!("s{i:02}.tif"));
                std::fs::copy(&sources[i % sources.len()], &p).unwrap();
                p
            })
            .collect()
    }

    fn sources(&self) -> Vec<PathBuf> {
        let base = fixture("scene_small.tif");
        let mut v = vec![base.clone()];
        for (i, size) in ["173 97", "64 250"].iter().enumerate() {
            let p = self.env.path(&format!("src{i}.tif"));
            let mut args = vec!["-q", "-outsize"];
            args.extend(size.split(' '));
            args.extend([base.to_str().unwrap(), p.to_str().unwrap()]);
            oracle("/usr/bin/gdal_translate", &args);
            v.push(p);
        }
        v
    }

    pub fn submit(&self, inputs: &[PathBuf]) -> Run {
        let mut c = self.cmd(&["submit", "--recipe", "ndvi", "--json"]);
        c.args(inputs);
        Run(c.output().unwrap())
    }

    pub fn status(&self) -> Value {
        let r = self.run(&["status", "--json"]);
        r.ok();
        serde_json::from_str(&r.stdout()).unwrap()
    }

    /// The one-shot CLI's output for `input`, the oracle for pixels.
    pub fn reference(&self, input: &Path) -> PathBuf {
        let out = self.env.path(&format!(
            "ref_{}",
            input.file_name().unwrap().to_string_lossy()
        ));
        let mut c = self.cmd(&["--recipe", "ndvi", "-q"]);
        c.arg("-o").arg(&out).arg(input);
        Run(c.output().unwrap()).ok();
        out
    }

    /// Every file in out/, hidden ones included.
    pub fn out_files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.out)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// Log records of `d` with this outcome.
pub fn outcomes(d: &Daemon, outcome: &str) -> Vec<Value> {
    d.logs()
        .into_iter()
        .filter(|v| v["outcome"] == outcome)
        .collect()
}
