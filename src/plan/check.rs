//! Checking recipes before any input exists. Everything a recipe says is
//! checked when the config is read (by the daemon for every recipe at
//! start-up, by the one-shot CLI for the recipe it runs), so a typo is an
//! exit-2 error naming the file, the line, the recipe and the key, instead
//! of a daemon that starts and sends every matching file to failed/. Only
//! what needs the input (its band count, whether `b7` exists) is left to
//! each file.

use std::path::Path;

use crate::config::{value_string, Config, Recipe};
use crate::error::{usage, Error};
use crate::ops::{self, OutType, Params};
use crate::sink::options::CreationOptions;
use crate::sink::overviews::Levels;
use crate::sink::spec::Format;

/// Check every recipe of the config.
pub fn all(cfg: &Config) -> Result<(), Error> {
    cfg.recipes.keys().try_for_each(|name| recipe(cfg, name))
}

/// Check recipe `name` completely: op and parameters (keys and values),
/// expression, type and nodata, output template and format, creation
/// options (the config's and the recipe's, against the GDAL driver's list).
pub fn recipe(cfg: &Config, name: &str) -> Result<(), Error> {
    let Some(r) = cfg.recipes.get(name) else {
        return Ok(()); // an unknown name is reported where it is asked for
    };
    // `key` names the fault; `line` is where it is written (for a missing
    // key, the line that needs it).
    let place = |key: &[&str], line: &[&str], why: String| {
        let path: Vec<&str> = ["recipes", name].iter().chain(line).copied().collect();
        usage(format!(
            "{}: recipe '{name}': {}: {why}",
            cfg.at(&path),
            key.join(".")
        ))
    };
    let refuse = |key: &[&str], why: String| place(key, key, why);
    let params = params_of(r);
    let op = match (&r.expr, &r.op) {
        (Some(src), _) => {
            if let Err(e) = ops::check_expr_params(&params) {
                return Err(refuse(&band_key(r, "band"), e));
            }
            let policy = r.nodata_policy.unwrap_or_default();
            let names: Vec<&str> = r.inputs.iter().flatten().map(|(n, _)| n.as_str()).collect();
            ops::check_expr(src, policy, &names).map_err(|e| refuse(&["expr"], e))?
        }
        (None, Some(name)) => ops::check(name, &params).map_err(|e| {
            let key = match e.key() {
                Some("op") => vec!["op"],
                Some(k) => band_key(r, k),
                None if r.set.is_empty() => vec!["op"],
                None => vec!["set"],
            };
            let written = matches!(key[..], ["op"] | ["set"])
                || params.contains_key(*key.last().unwrap_or(&""));
            let line: &[&str] = if written { &key } else { &["op"] };
            place(&key, line, e.to_string())
        })?,
        (None, None) => return Err(refuse(&[], "set one of `expr` or `op`".into())),
    };
    let out_type = r.ot.unwrap_or_else(|| op.default_out_type());
    if let Some(nd) = r.nodata.filter(|v| !out_type.holds(*v)) {
        return Err(refuse(&["nodata"], holds_not(nd, out_type)));
    }
    let template = r.output.as_deref().unwrap_or("{stem}_{recipe}.tif");
    let file = crate::plan::recipe::render(template, Path::new("scene.tif"), name)
        .map_err(|e| refuse(&["output"], e.msg))?;
    // A format given beside the template is what a mismatch points at.
    let format_key: &[&str] = if r.format.is_some() {
        &["format"]
    } else {
        &["output"]
    };
    let format = Format::for_output(&file, r.format).map_err(|e| refuse(format_key, e))?;
    let overviews = match &r.overviews {
        Some(Levels::Auto) => true,
        Some(Levels::Factors(f)) => !f.is_empty(),
        _ => false,
    };
    format
        .check_fits(out_type, op.out_bands(), overviews)
        .map_err(|e| refuse(format_key, e))?;
    check_creation_options(cfg, name, r, format, out_type, refuse)
}

/// The config's `[output.creation_options]` and the recipe's `co`, merged
/// as a job merges them; a refusal points at the layer that set the key.
fn check_creation_options(
    cfg: &Config,
    name: &str,
    r: &Recipe,
    format: Format,
    out_type: OutType,
    refuse: impl Fn(&[&str], String) -> Error,
) -> Result<(), Error> {
    let mut co: CreationOptions = cfg.output.creation_options.iter().collect();
    co.merge(&r.co.iter().collect());
    let Err(bad) = crate::sink::spec::creation_options(format, out_type, &co, 4096) else {
        return Ok(());
    };
    let why = if bad.reason.contains(&format!("'{}'", bad.value)) {
        bad.reason
    } else {
        format!("'{}': {}", bad.value, bad.reason)
    };
    match r.co.keys().find(|k| k.eq_ignore_ascii_case(&bad.key)) {
        Some(k) => Err(refuse(&["co", k], why)),
        None => Err(usage(format!(
            "{}: [output.creation_options] {} (merged into recipe '{name}', format {}): {why}",
            cfg.at(&["output", "creation_options", &bad.key]),
            bad.key,
            format.driver()
        ))),
    }
}

/// The recipe's parameters as a job gets them: `set`, then `band`.
fn params_of(r: &Recipe) -> Params {
    let mut p: Params = r
        .set
        .iter()
        .map(|(k, v)| (k.clone(), value_string(v)))
        .collect();
    if let Some(b) = &r.band {
        let list: Vec<String> = b.to_vec().iter().map(|x| x.to_string()).collect();
        p.insert("band".into(), list.join(","));
    }
    p
}

/// Where parameter `key` was written: `band = ...` or inside `set`.
fn band_key<'a>(r: &Recipe, key: &'a str) -> Vec<&'a str> {
    if key == "band" && r.band.is_some() {
        vec!["band"]
    } else {
        vec!["set", key]
    }
}

/// The message for a nodata value the output type cannot hold.
pub fn holds_not(nodata: f64, t: OutType) -> String {
    let ints = if t.is_float() { "" } else { ", integers only" };
    format!(
        "{nodata} cannot be stored in {} (range {:?}{ints})",
        t.name(),
        t.range()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str) -> String {
        crate::gdal::env::init(32);
        let mut cfg =
            crate::config::parse(&format!("[engine]\nworkers = 1\n\n[recipes.r]\n{body}")).unwrap();
        cfg.source = Some("t.toml".into());
        let e = all(&cfg).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage, "{e}");
        e.msg
    }

    #[test]
    fn the_shipped_recipes_pass() {
        crate::gdal::env::init(32);
        all(&crate::config::parse(include_str!("../../config.toml")).unwrap()).unwrap();
    }

    #[test]
    fn every_part_of_a_recipe_is_checked_and_its_line_named() {
        // (recipe body from line 5, line of the fault, words the message needs)
        let cases: &[(&str, usize, &[&str])] = &[
            (
                "op = 'hillshade'\nset = { altitud = 45 }",
                6,
                &["set.altitud", "altitude", "valid:"],
            ),
            (
                "op = 'hillshade'\nset = { altitude = 145 }",
                6,
                &["set.altitude", "0..90"],
            ),
            ("op = 'hilshade'", 5, &["op", "did you mean 'hillshade'"]),
            ("op = 'focal'", 5, &["stat", "no default"]),
            ("op = 'slope'\nband = 0", 6, &["band"]),
            ("expr = 'b1 +'", 5, &["expr", "column"]),
            ("expr = 'b1'\nband = 2", 6, &["band", "names its bands"]),
            (
                "expr = 'b1'\not = 'Byte'\nnodata = -1",
                7,
                &["nodata", "Byte"],
            ),
            (
                "expr = 'b1'\noutput = '../{stem}.tif'",
                6,
                &["output", "plain file name"],
            ),
            (
                "expr = 'b1'\noutput = '{stem}.png'",
                6,
                &["output", "PNG", "Float32"],
            ),
            (
                "expr = 'b1'\nformat = 'COG'\noutput = '{stem}.png'",
                6,
                &["format", "COG"],
            ),
            (
                "expr = 'b1'\n[recipes.r.co]\nCOMPRESS = 'BOGUS'",
                7,
                &["co.COMPRESS", "BOGUS", "ZSTD"],
            ),
            (
                "expr = 'b1'\nformat = 'COG'\nco = { TILED = 'YES' }",
                7,
                &["co.TILED", "BLOCKSIZE"],
            ),
        ];
        for (body, line, words) in cases {
            let msg = refusal(body);
            assert!(
                msg.starts_with(&format!("t.toml:{line}: recipe 'r': ")),
                "{body:?}: wrong place in {msg}"
            );
            assert!(msg.contains("recipe 'r'"), "{body:?}: {msg}");
            for w in *words {
                assert!(msg.contains(w), "{body:?}: {w:?} missing from {msg}");
            }
        }
    }
}
