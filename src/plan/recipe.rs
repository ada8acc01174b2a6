//! Resolving what to run: flags over recipe over config defaults, into a
//! [`JobSpec`]. No raster is opened here; the inputs are found (a
//! delivery's folder or archive is listed, see `inputs`), and only an
//! unusual output extension asks GDAL which driver owns it.

use std::path::{Component, Path, PathBuf};

use crate::config::{value_string, Config, Recipe};
use crate::error::{usage, Error};
use crate::input::Limits;
use crate::ops::{NodataPolicy, OutType, Params};
use crate::plan::Request;
use crate::sink::options::CreationOptions;
use crate::sink::spec::Format;

/// What the op is, before the input is known.
#[derive(Debug, Clone)]
pub enum OpSpec {
    Expr(String),
    Named(String),
}

#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The job's input as messages and summaries name it (see `inputs::Bound`).
    pub input: PathBuf,
    pub inputs: Vec<crate::input::source::Source>,
    /// `--grid` / recipe `grid`: the input whose grid the output takes.
    pub grid: Option<String>,
    /// A `.tar.gz`'s inflated members, kept as long as the job.
    pub spool: Option<std::sync::Arc<crate::input::archive::Spool>>,
    pub output: PathBuf,
    /// Replace an existing output; otherwise one is refused up front.
    pub overwrite: bool,
    pub op: OpSpec,
    pub params: Params,
    pub recipe: Option<String>,
    pub out_type: Option<OutType>,
    pub nodata: Option<f64>,
    pub policy: NodataPolicy,
    pub format: Format,
    /// `--overviews` / recipe `overviews`, if given.
    pub overviews: Option<crate::sink::overviews::Levels>,
    /// `--resampling` / recipe `resampling`, if given.
    pub resampling: Option<crate::ops::Resampling>,
    /// User creation options (config, recipe, flags; later wins).
    pub creation_options: crate::sink::options::CreationOptions,
    pub window: Option<usize>,
    pub drivers: Vec<String>,
    pub limits: Limits,
}

/// Merge flags, the named recipe and the config into one job.
pub fn resolve(args: &Request, cfg: &Config) -> Result<JobSpec, Error> {
    let recipe: Recipe = match &args.recipe {
        Some(name) => cfg
            .recipes
            .get(name)
            .cloned()
            .ok_or_else(|| no_recipe(cfg, name))?,
        None => Recipe::default(),
    };
    let op = if let Some(op) = &args.op {
        op.clone()
    } else if let Some(e) = &recipe.expr {
        OpSpec::Expr(e.clone())
    } else if let Some(o) = &recipe.op {
        OpSpec::Named(o.clone())
    } else {
        return Err(usage("nothing to do: give --expr, --op or --recipe"));
    };
    // Flags replace the recipe's op parameters only when they replace the op.
    let mut params = Params::new();
    if args.op.is_none() {
        for (k, v) in &recipe.set {
            params.insert(k.clone(), value_string(v));
        }
        if let Some(b) = &recipe.band {
            params.insert("band".into(), join(&b.to_vec()));
        }
    }
    for (k, v) in &args.set {
        params.insert(k.clone(), v.clone());
    }
    if let Some(b) = &args.band {
        params.insert("band".into(), join(b));
    }
    if matches!(op, OpSpec::Expr(_)) {
        crate::ops::check_expr_params(&params).map_err(usage)?;
    }
    // Recipe values were typed (and checked) when the config was read.
    let out_type = args.out_type.or(recipe.ot);
    let policy = args.policy.or(recipe.nodata_policy).unwrap_or_default();
    let overviews = args.overviews.clone().or(recipe.overviews.clone());
    let resampling = args.resampling.or(recipe.resampling);
    // Config, then recipe, then flags: later layers win key by key.
    let mut co: CreationOptions = cfg.output.creation_options.iter().collect();
    co.merge(&recipe.co.iter().collect());
    co.merge(&args.creation_options);
    let bound = crate::plan::inputs::bind(args, &recipe, &cfg.limits(), cfg.output.dir.as_deref())?;
    if bound.sources.len() > 1 && matches!(op, OpSpec::Named(_)) {
        return Err(usage("--op reads one file; named inputs work with --expr"));
    }
    let grid = args.grid.clone().or(recipe.grid.clone());
    if let Some(g) = &grid {
        if !bound
            .sources
            .iter()
            .any(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(g)))
        {
            return Err(usage(format!("--grid {g}: no input is called '{g}'")));
        }
    }
    let input = bound.label.as_path();
    let name = args.recipe.clone().unwrap_or_else(|| match &op {
        OpSpec::Expr(_) => "expr".into(),
        OpSpec::Named(n) => n.clone(),
    });
    let output = match &args.output {
        Some(o) => o.clone(),
        None => {
            let template = recipe.output.as_deref().unwrap_or("{stem}_{recipe}.tif");
            let dir = cfg
                .output
                .dir
                .clone()
                .unwrap_or_else(|| input.parent().map(Path::to_path_buf).unwrap_or_default());
            let stem = match &bound.key {
                Some(k) => k.as_bytes().to_vec(),
                None => bytes(input.file_stem()),
            };
            dir.join(render_parts(
                template,
                &stem,
                &bytes(input.extension()),
                &name,
            )?)
        }
    };
    // The name decides the format unless told, and may not contradict it.
    let format = Format::for_output(&output, args.format.or(recipe.format))
        .map_err(|e| usage(format!("{}: {e}", crate::error::show(&output))))?;
    // 0 is "automatic" in the config and on the command line alike (so
    // `--window 0` overrides a configured window back to automatic).
    let window = args.window.unwrap_or(cfg.engine.window);
    let window = (window > 0).then_some(window);
    Ok(JobSpec {
        input: input.to_path_buf(),
        inputs: bound.sources,
        grid,
        spool: bound.spool,
        output,
        overwrite: args.overwrite,
        op,
        params,
        recipe: args.recipe.clone(),
        out_type,
        nodata: args.nodata.or(recipe.nodata),
        policy,
        format,
        overviews,
        resampling,
        creation_options: co,
        window,
        drivers: cfg.input.allowed_drivers.clone(),
        limits: cfg.limits(),
    })
}

/// `--recipe NAME` that the config lacks: where tilerun looked, what it has.
fn no_recipe(cfg: &Config, name: &str) -> Error {
    let known: Vec<&str> = cfg.recipes.keys().map(String::as_str).collect();
    // GDAL tools spell resampling `-r`; here -r is --recipe.
    let resampling = name.parse::<crate::ops::Resampling>().map_or("", |_| {
        " (-r is --recipe here; overview resampling is --resampling)"
    });
    if cfg.source.is_none() {
        return usage(format!(
            "--recipe {name}: no config file found (looked for {}); give one with --config FILE{resampling}",
            crate::config::LOOKUP
        ));
    }
    let guess = crate::error::closest(name, known.iter().copied())
        .map(|g| format!("did you mean '{g}'? "))
        .unwrap_or_default();
    let known = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    usage(format!(
        "--recipe {name}: no such recipe in {} ({guess}known: {known}){resampling}",
        cfg.name()
    ))
}

fn join(b: &[usize]) -> String {
    b.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Render an output-name template. The result must be a plain file name:
/// a template can never place output outside the output folder.
pub fn render(template: &str, input: &Path, recipe: &str) -> Result<PathBuf, Error> {
    render_parts(
        template,
        &bytes(input.file_stem()),
        &bytes(input.extension()),
        recipe,
    )
}

/// Work in bytes so a non-UTF-8 input name keeps its exact bytes: a lossy
/// copy would map different inputs to the same output.
fn bytes(o: Option<&std::ffi::OsStr>) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    o.map(|s| s.as_bytes().to_vec()).unwrap_or_default()
}

/// [`render`] with the stem given: a delivery's set key for named inputs.
fn render_parts(template: &str, stem: &[u8], ext: &[u8], recipe: &str) -> Result<PathBuf, Error> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut name = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        name.extend_from_slice(&rest.as_bytes()[..i]);
        let tail = &rest[i..];
        let (value, skip): (&[u8], usize) = if tail.starts_with("{stem}") {
            (stem, 6)
        } else if tail.starts_with("{recipe}") {
            (recipe.as_bytes(), 8)
        } else if tail.starts_with("{ext}") {
            (ext, 5)
        } else {
            (b"{", 1)
        };
        name.extend_from_slice(value);
        rest = &tail[skip..];
    }
    name.extend_from_slice(rest.as_bytes());
    let p = PathBuf::from(std::ffi::OsString::from_vec(name));
    let mut comps = p.components();
    match (comps.next(), comps.next()) {
        (Some(Component::Normal(_)), None) if !p.as_os_str().as_bytes().contains(&b'/') => Ok(p),
        _ => Err(usage(format!(
            "output template '{template}' gives '{}', which is not a plain file name in the output folder",
            crate::error::show(&p)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_names_keep_their_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let a = Path::new(std::ffi::OsStr::from_bytes(b"/in/x\xff.tif"));
        let b = Path::new(std::ffi::OsStr::from_bytes(b"/in/x\xfe.tif"));
        let (ra, rb) = (
            render("{stem}_{recipe}.{ext}", a, "r").unwrap(),
            render("{stem}_{recipe}.{ext}", b, "r").unwrap(),
        );
        assert_eq!(ra.as_os_str().as_bytes(), b"x\xff_r.tif");
        assert_ne!(ra, rb);
    }

    #[test]
    fn templates_cannot_escape_the_output_folder() {
        let i = Path::new("/in/scene.tif");
        assert_eq!(
            render("{stem}_{recipe}.tif", i, "ndvi").unwrap(),
            PathBuf::from("scene_ndvi.tif")
        );
        for bad in ["../{stem}.tif", "/etc/{stem}", "a/b.tif", "..", ".", ""] {
            assert!(render(bad, i, "x").is_err(), "{bad}");
        }
    }
}
