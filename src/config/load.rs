//! Finding, reading and parsing the config file: the lookup order, and the
//! whole-file checks that turn a serde error into one naming the recipe,
//! key and line. Apart from the types in `mod.rs` so the schema reads
//! without the loading machinery around it.

use std::path::{Path, PathBuf};

use super::recipe::check_inputs;
use super::spans::{key_at, line_of};
use super::Config;

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
    check_output_dir(text, &cfg.output)?;
    for (name, r) in &cfg.recipes {
        if r.expr.is_some() == r.op.is_some() {
            let line =
                line_of(text, &["recipes", name]).map_or(String::new(), |l| format!("line {l}: "));
            return Err(format!(
                "{line}recipe '{name}': set exactly one of `expr` or `op`"
            ));
        }
        check_inputs(name, r).map_err(|(key, e)| {
            let line = line_of(text, &["recipes", name, key])
                .map_or(String::new(), |l| format!("line {l}: "));
            format!("{line}{e}")
        })?;
    }
    Ok(cfg)
}

/// An `s3:` output folder must be a whole `s3://bucket[/prefix]`: a typo
/// such as `s3:/bucket` would otherwise be a local folder named `s3:`.
fn check_output_dir(text: &str, out: &super::Output) -> Result<(), String> {
    let Some(dir) = out.dir.as_ref().and_then(|d| d.to_str()) else {
        return Ok(());
    };
    if !crate::remote::s3::is_s3(dir) {
        return Ok(());
    }
    crate::remote::s3::S3Uri::in_dir(dir, "x")
        .map(|_| ())
        .map_err(|e| {
            let line =
                line_of(text, &["output", "dir"]).map_or(String::new(), |l| format!("line {l}: "));
            format!("{line}[output] dir: {}", e.msg)
        })
}

/// A TOML scalar as the string `--set` would have given.
pub fn value_string(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(a) => a.iter().map(value_string).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
