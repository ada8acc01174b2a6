//! The `[watch]` table, and its validation into ready-to-use [`Settings`].
//!
//! Everything that can be wrong with a drop-folder set-up is refused at
//! start-up with a message naming the key, its line and the folder: an
//! inbox or output folder that does not exist (a typo would otherwise give
//! a daemon waiting forever on a folder nobody writes to), a state folder
//! inside the watched inbox (the daemon would pick up its own files),
//! folders on different filesystems (the claim and finish steps are
//! renames), a rule naming a recipe that does not exist. Everything is
//! checked before anything is created, so a refused config leaves the disk
//! as it was; only then are missing state folders made beside their
//! (existing) parents. A daemon that starts is one whose every file move
//! is an atomic rename.

use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

use crate::config::Config;

/// `[watch]` as written in config.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// The drop folder.
    pub inbox: PathBuf,
    /// Where outputs go; default `[output].dir`.
    pub output: Option<PathBuf>,
    /// State folders; default `work`, `done`, `failed` beside the inbox.
    pub work: Option<PathBuf>,
    pub done: Option<PathBuf>,
    pub failed: Option<PathBuf>,
    /// A plain copy counts as complete once closed and unchanged this long.
    #[serde(default = "d_settle")]
    pub settle_secs: f64,
    /// No inotify: find files by listing the inbox every `poll_interval_secs`
    /// (NFS/SMB, where inotify sees no remote writes).
    #[serde(default)]
    pub poll: bool,
    #[serde(default = "d_poll")]
    pub poll_interval_secs: f64,
    /// Full rescan even when inotify works: the safety net for lost events.
    #[serde(default = "d_rescan")]
    pub rescan_interval_secs: f64,
    /// Attempts per file before it goes to failed/ (transient errors and
    /// daemon crashes count; a permanent error fails at once).
    #[serde(default = "d_attempts")]
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, capped at 10 minutes.
    #[serde(default = "d_backoff")]
    pub retry_backoff_secs: f64,
    /// On SIGTERM, how long in-flight files may take to finish.
    #[serde(default = "d_grace")]
    pub grace_secs: f64,
    /// `finish` (within the grace period) or `rollback` at once.
    #[serde(default)]
    pub on_stop: OnStop,
    /// A delivery of several files (a rule whose recipe has `inputs`) that
    /// is still incomplete this long after its first file was claimed goes
    /// to failed/, with the names still missing.
    #[serde(default = "d_set_timeout")]
    pub set_timeout_secs: f64,
    /// Which recipe applies to which file name; the first match wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub glob: String,
    pub recipe: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnStop {
    #[default]
    Finish,
    Rollback,
}

fn d_settle() -> f64 {
    2.0
}
fn d_poll() -> f64 {
    2.0
}
fn d_rescan() -> f64 {
    60.0
}
fn d_attempts() -> u32 {
    3
}
fn d_backoff() -> f64 {
    5.0
}
fn d_grace() -> f64 {
    30.0
}
fn d_set_timeout() -> f64 {
    3600.0
}

/// The validated set-up the daemon runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub inbox: PathBuf,
    pub output: PathBuf,
    pub work: PathBuf,
    pub done: PathBuf,
    pub failed: PathBuf,
    pub settle: Duration,
    pub poll: Option<Duration>,
    pub rescan: Duration,
    pub max_attempts: u32,
    pub backoff: Duration,
    pub grace: Duration,
    pub on_stop: OnStop,
    pub set_timeout: Duration,
    pub rules: Vec<(GlobMatcher, String)>,
}

impl Settings {
    /// The recipe for a file name: the first matching rule's.
    pub fn recipe_for(&self, name: &std::ffi::OsStr) -> Option<&str> {
        self.rules
            .iter()
            .find(|(g, _)| g.is_match(name))
            .map(|(_, r)| r.as_str())
    }

    /// Backoff before attempt `next` (2, 3, ...).
    pub fn backoff_for(&self, next: u32) -> Duration {
        let factor = 1u32 << (next.saturating_sub(2)).min(16);
        (self.backoff * factor).min(Duration::from_secs(600))
    }
}

fn secs(key: &str, v: f64, min: f64) -> Result<Duration, String> {
    if !v.is_finite() || v < min || v > 1e7 {
        return Err(format!(
            "[watch] {key} = {v}: must be a number of seconds ≥ {min}"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Check `[watch]`, create missing folders, and settle every path.
pub fn settle(cfg: &Config) -> Result<Settings, String> {
    let from = cfg
        .source
        .as_ref()
        .map_or("the config".to_string(), |p| p.display().to_string());
    let w = cfg.watch.as_ref().ok_or_else(|| {
        format!("watch: no [watch] table in {from} (see the shipped config.toml for an example)")
    })?;
    let rules = compile_rules(cfg, &w.rules, &from)?;
    let inbox = absolute(&w.inbox)?;
    let parent = inbox
        .parent()
        .ok_or_else(|| format!("[watch] inbox {}: has no parent folder", inbox.display()))?
        .to_path_buf();
    let state = |v: &Option<PathBuf>, name: &str| -> Result<PathBuf, String> {
        v.as_ref().map_or(Ok(parent.join(name)), |p| absolute(p))
    };
    let output = match w.output.as_ref().or(cfg.output.dir.as_ref()) {
        Some(p) => absolute(p)?,
        None => return Err(format!("[watch] in {from}: set `output` (or [output] dir)")),
    };
    let output_key = if w.output.is_some() {
        ["watch", "output"]
    } else {
        ["output", "dir"]
    };
    let s = Settings {
        work: state(&w.work, "work")?,
        done: state(&w.done, "done")?,
        failed: state(&w.failed, "failed")?,
        inbox,
        output,
        settle: secs("settle_secs", w.settle_secs, 0.0)?,
        poll: if w.poll {
            Some(secs("poll_interval_secs", w.poll_interval_secs, 0.05)?)
        } else {
            None
        },
        rescan: secs("rescan_interval_secs", w.rescan_interval_secs, 0.05)?,
        max_attempts: if w.max_attempts == 0 {
            return Err("[watch] max_attempts: must be at least 1".into());
        } else {
            w.max_attempts
        },
        backoff: secs("retry_backoff_secs", w.retry_backoff_secs, 0.0)?,
        grace: secs("grace_secs", w.grace_secs, 0.0)?,
        on_stop: w.on_stop,
        set_timeout: secs("set_timeout_secs", w.set_timeout_secs, 0.05)?,
        rules,
    };
    let at = |key: &str| match key {
        "output" => cfg.at(&output_key),
        k => cfg.at(&["watch", k]),
    };
    let named = [
        ("inbox", s.inbox.as_path()),
        ("work", &s.work),
        ("done", &s.done),
        ("failed", &s.failed),
        ("output", &s.output),
    ];
    super::folders::check(named, at)?;
    Ok(s)
}

/// Each rule's glob compiled (case-insensitive, `*` not crossing `/`), and
/// its recipe one the config defines.
fn compile_rules(
    cfg: &Config,
    rules: &[Rule],
    from: &str,
) -> Result<Vec<(GlobMatcher, String)>, String> {
    if rules.is_empty() {
        return Err(format!(
            "[watch] in {from}: no rules; add e.g. [[watch.rules]] glob = \"*.tif\" recipe = \"ndvi\""
        ));
    }
    let mut compiled = Vec::new();
    for r in rules {
        if !cfg.recipes.contains_key(&r.recipe) {
            let known: Vec<_> = cfg.recipes.keys().map(String::as_str).collect();
            return Err(format!(
                "[watch] rule '{}': no recipe '{}' in {from} (known: {})",
                r.glob,
                r.recipe,
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ));
        }
        let g = GlobBuilder::new(&r.glob)
            .case_insensitive(true)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("[watch] rule glob '{}': {e}", r.glob))?;
        compiled.push((g.compile_matcher(), r.recipe.clone()));
    }
    Ok(compiled)
}

fn absolute(p: &Path) -> Result<PathBuf, String> {
    std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &Path, extra: &str) -> Config {
        for d in ["in", "out"] {
            let _ = std::fs::create_dir(dir.join(d));
        }
        let text = format!(
            "[recipes.b1]\nexpr = 'b1'\n[watch]\ninbox = '{}'\noutput = '{}'\n{extra}\n\
             [[watch.rules]]\nglob = '*.tif'\nrecipe = 'b1'\n",
            dir.join("in").display(),
            dir.join("out").display()
        );
        crate::config::parse(&text).unwrap()
    }

    #[test]
    fn defaults_put_state_beside_the_inbox() {
        let d = tempfile::tempdir().unwrap();
        let s = settle(&cfg(d.path(), "")).unwrap();
        assert_eq!(s.work, d.path().join("work"));
        assert_eq!(s.failed, d.path().join("failed"));
        assert!(s.done.is_dir());
        assert_eq!(s.recipe_for("A.TIF".as_ref()), Some("b1"));
        assert_eq!(s.recipe_for("a.txt".as_ref()), None);
        assert_eq!(s.recipe_for("sub/a.tif".as_ref()), None);
        assert_eq!(s.backoff_for(2), Duration::from_secs(5));
        assert_eq!(s.backoff_for(4), Duration::from_secs(20));
    }

    #[test]
    fn the_shipped_example_has_a_watch_table_whose_rules_resolve() {
        let c = crate::config::parse(include_str!("../../config.toml")).unwrap();
        let w = c.watch.as_ref().expect("config.toml has [watch]");
        assert!(!w.rules.is_empty());
        for r in &w.rules {
            assert!(c.recipes.contains_key(&r.recipe), "{}", r.recipe);
        }
    }

    #[test]
    fn state_inside_the_inbox_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let inside = format!("work = '{}'", d.path().join("in/work").display());
        let e = settle(&cfg(d.path(), &inside)).unwrap_err();
        assert!(e.contains("inside the watched folder"), "{e}");
        let same = format!("done = '{}'", d.path().join("out").display());
        assert!(settle(&cfg(d.path(), &same))
            .unwrap_err()
            .contains("same folder"));
    }

    #[test]
    fn unknown_recipe_and_bad_numbers_are_named() {
        let d = tempfile::tempdir().unwrap();
        let mut c = cfg(d.path(), "settle_secs = -1");
        assert!(settle(&c).unwrap_err().contains("settle_secs"));
        c = cfg(d.path(), "");
        c.watch.as_mut().unwrap().rules[0].recipe = "nope".into();
        assert!(settle(&c).unwrap_err().contains("no recipe 'nope'"));
        let e = crate::config::parse("[watch]\ninbox = '/x'\nsettle = 2\n").unwrap_err();
        assert!(e.contains("settle") && e.contains("line 3"), "{e}");
    }
}
