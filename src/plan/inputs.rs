//! Which files are the job's inputs, and what each is called.
//!
//! Three ways in: `tilerun FILE` (one unnamed input, bands `b1..bN`);
//! `--input NAME=PATH` (named, explicit); or a recipe with `inputs`
//! patterns and a delivery: loose files, a folder searched recursively (a
//! `.SAFE` tree), or an archive (`.tar`/`.zip` read in place, `.tar.gz`
//! inflated once into a spool). Each pattern must match exactly one file
//! and all matches must agree on the set key, or the error lists what
//! matched: a delivery with a band missing, or two deliveries mixed, is
//! found before anything is opened. Listing touches the filesystem (and,
//! for a zip, GDAL's view of it) but opens no raster.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{InputDecl, Recipe};
use crate::error::{job, usage, Error};
use crate::input::archive::{self, Packing, Spool};
use crate::input::source::{Location, Settings, Source};
use crate::input::Limits;
use crate::plan::Request;

/// The inputs of one job.
#[derive(Debug, Clone)]
pub struct Bound {
    pub sources: Vec<Source>,
    /// What the job is called in messages and summaries: the file, the
    /// delivery's folder or archive, or the first named file.
    pub label: PathBuf,
    /// The delivery's set key (what the patterns' `*` matched).
    pub key: Option<String>,
    /// Members of a `.tar.gz`, inflated; removed with the job.
    pub spool: Option<Arc<Spool>>,
}

/// A file found in a delivery: where it is and its file name.
struct Found {
    location: Location,
    name: String,
}

pub fn bind(
    req: &Request,
    recipe: &Recipe,
    limits: &Limits,
    out_dir: Option<&Path>,
) -> Result<Bound, Error> {
    let decls = recipe.inputs.clone().unwrap_or_default();
    let global = req.unscale || recipe.unscale.unwrap_or(false);
    let settings = |name: &str| -> Result<Settings, Error> {
        let mut s = decls
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, d)| d.settings.clone())
            .unwrap_or_default();
        for (n, k, v) in &req.input_set {
            if n.eq_ignore_ascii_case(name) {
                s.set(k, v)
                    .map_err(|e| usage(format!("--input-set {n}.{k}: {e}")))?;
            }
        }
        s.unscale = s.unscale.or(global.then_some(true));
        Ok(s)
    };
    let mut bound = if !req.inputs.is_empty() {
        explicit(req, &decls, &settings)?
    } else if !decls.is_empty() {
        delivery(req, &decls, &settings, limits, out_dir)?
    } else {
        single(req, global)?
    };
    let names: Vec<String> = bound
        .sources
        .iter()
        .filter_map(|s| s.name.clone())
        .collect();
    for (n, k, _) in &req.input_set {
        if !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
            return Err(usage(format!(
                "--input-set {n}.{k}: no input is called '{n}' (inputs: {})",
                if names.is_empty() {
                    "one unnamed file".into()
                } else {
                    names.join(", ")
                }
            )));
        }
    }
    if bound.key.is_none() && bound.sources.len() > 1 {
        bound.key = bound
            .label
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
    }
    Ok(bound)
}

/// `tilerun FILE`: one unnamed input.
fn single(req: &Request, unscale: bool) -> Result<Bound, Error> {
    match req.files.as_slice() {
        [one] => {
            let mut s = Source::file(one.clone());
            s.settings.unscale = unscale.then_some(true);
            Ok(Bound {
                sources: vec![s],
                label: one.clone(),
                key: None,
                spool: None,
            })
        }
        [] => Err(usage("no input: give a raster file (or --input NAME=PATH)")),
        _ => Err(usage(
            "several input files need names: give --input NAME=PATH for each, or a recipe with `inputs`",
        )),
    }
}

/// `--input NAME=PATH …`: named files; a recipe's inputs must all be given.
fn explicit(
    req: &Request,
    decls: &std::collections::BTreeMap<String, InputDecl>,
    settings: &dyn Fn(&str) -> Result<Settings, Error>,
) -> Result<Bound, Error> {
    if !req.files.is_empty() {
        return Err(usage(
            "give the inputs either as FILE… or as --input NAME=PATH, not both",
        ));
    }
    let mut sources = Vec::new();
    for (name, path) in &req.inputs {
        let lower = crate::ops::expr::Bindings::check_name(name)
            .map_err(|e| usage(format!("--input: {e}")))?;
        if sources
            .iter()
            .any(|s: &Source| s.name.as_deref() == Some(lower.as_str()))
        {
            return Err(usage(format!(
                "--input {name}: given twice (names ignore case)"
            )));
        }
        if !decls.is_empty() && !decls.keys().any(|k| k.eq_ignore_ascii_case(name)) {
            return Err(usage(format!(
                "--input {name}: the recipe has no input '{name}' (its inputs: {})",
                decls.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        sources.push(Source {
            name: Some(lower),
            location: Location::File(path.clone()),
            settings: settings(name)?,
        });
    }
    for k in decls.keys() {
        if !sources
            .iter()
            .any(|s| s.name.as_deref() == Some(k.to_ascii_lowercase().as_str()))
        {
            return Err(usage(format!(
                "the recipe needs input '{k}': add --input {k}=PATH"
            )));
        }
    }
    let key = decls.iter().find_map(|(k, d)| {
        let s = sources
            .iter()
            .find(|s| s.name.as_deref() == Some(k.to_ascii_lowercase().as_str()))?;
        d.pattern.key(&s.location.file_name())
    });
    Ok(Bound {
        label: req.inputs[0].1.clone(),
        sources,
        key,
        spool: None,
    })
}

/// A recipe's patterns over a delivery: files, a folder, or an archive.
fn delivery(
    req: &Request,
    decls: &std::collections::BTreeMap<String, InputDecl>,
    settings: &dyn Fn(&str) -> Result<Settings, Error>,
    limits: &Limits,
    out_dir: Option<&Path>,
) -> Result<Bound, Error> {
    let (label, mut spool) = match req.files.as_slice() {
        [] => {
            return Err(usage(
                "no input: give the delivery's files, its folder or its archive",
            ))
        }
        [one] => (one.clone(), None),
        [first, ..] => (first.clone(), None),
    };
    let shown = crate::error::show(&label);
    let wanted = |name: &str| decls.values().any(|d| d.pattern.matches(name));
    let found: Vec<Found> = match req.files.as_slice() {
        [one] if one.is_dir() => walk(one).map_err(|e| job(format!("{shown}: {e}")))?,
        [one] if Packing::of(one).is_some() => {
            let at = |e: anyhow::Error| job(format!("{shown}: {e:#}"));
            match Packing::of(one) {
                Some(Packing::TarGz) => {
                    let dir = out_dir
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| parent(one));
                    let sp = Spool::new(&dir).map_err(at)?;
                    let listed =
                        archive::spool_tar_gz(one, sp.path(), &|m| wanted(m.file_name()), limits)
                            .map_err(|e| Error::from_chain(&e).context(&shown))?;
                    spool = Some(Arc::new(sp));
                    listed
                        .into_iter()
                        .map(|(m, file)| Found {
                            name: m.file_name().to_string(),
                            location: file.map_or(
                                Location::Member {
                                    archive: one.clone(),
                                    member: m.path.clone(),
                                },
                                Location::File,
                            ),
                        })
                        .collect()
                }
                Some(p) => archive::list(one, p, limits)
                    .map_err(at)?
                    .into_iter()
                    .map(|m| Found {
                        name: m.file_name().to_string(),
                        location: Location::Member {
                            archive: one.clone(),
                            member: m.path,
                        },
                    })
                    .collect(),
                None => unreachable!("checked above"),
            }
        }
        files => files
            .iter()
            .map(|f| Found {
                name: f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                location: Location::File(f.clone()),
            })
            .collect(),
    };
    let found: Vec<Found> = found.into_iter().filter(|f| !hidden(f)).collect();
    let mut sources = Vec::new();
    let mut keys: Vec<(String, String)> = Vec::new();
    for (name, d) in decls {
        let hits: Vec<&Found> = found
            .iter()
            .filter(|f| d.pattern.matches(&f.name))
            .collect();
        let [hit] = hits.as_slice() else {
            let what = if hits.is_empty() {
                "no file matches".to_string()
            } else {
                let list: Vec<String> = hits.iter().map(|h| h.location.shown()).collect();
                format!("{} files match ({})", hits.len(), list.join(", "))
            };
            return Err(job(format!(
                "{shown}: input '{name}' (pattern '{}'): {what}; each input needs exactly one file",
                d.pattern
            )));
        };
        // A fixed name (no `*`) has no key to agree with the others'.
        if let Some(k) = d.pattern.key(&hit.name) {
            keys.push((name.clone(), k));
        }
        sources.push(Source {
            name: Some(name.to_ascii_lowercase()),
            location: hit.location.clone(),
            settings: settings(name)?,
        });
    }
    if let Some((_, k0)) = keys.first() {
        if keys.iter().any(|(_, k)| k != k0) {
            let list: Vec<String> = keys.iter().map(|(n, k)| format!("{n}: {k}")).collect();
            return Err(job(format!(
                "{shown}: the files are of different deliveries (set keys {})",
                list.join(", ")
            )));
        }
    }
    Ok(Bound {
        sources,
        label,
        key: keys.first().map(|(_, k)| k.clone()),
        spool,
    })
}

/// Hidden files and folders are no part of a delivery: macOS puts an
/// AppleDouble `._NAME` beside every file it copies (and `__MACOSX/` into
/// the zips it makes), which would match the same pattern as `NAME`.
fn hidden(f: &Found) -> bool {
    match &f.location {
        Location::Member { member, .. } => member.split('/').any(hidden_name),
        Location::File(_) => hidden_name(&f.name),
    }
}

fn hidden_name(c: &str) -> bool {
    (c.starts_with('.') && c != "." && c != "..") || c == "__MACOSX"
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Regular files under `dir`, recursively, skipping hidden folders;
/// symbolic links are not followed.
fn walk(dir: &Path) -> std::io::Result<Vec<Found>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let t = e.file_type()?;
            if t.is_dir() && !hidden_name(&e.file_name().to_string_lossy()) {
                stack.push(e.path());
            } else if t.is_file() {
                out.push(Found {
                    name: e.file_name().to_string_lossy().into_owned(),
                    location: Location::File(e.path()),
                });
            }
        }
    }
    out.sort_by(|a, b| a.location.local().cmp(b.location.local()));
    Ok(out)
}

/// The local files a job reads (the archive for its members).
pub fn local_files(sources: &[Source]) -> Vec<&Path> {
    sources.iter().map(|s| s.location.local()).collect()
}
