//! Overviews: which levels, which resampling, and building them.
//!
//! Published rasters are looked at zoomed out; without overviews every
//! zoomed-out view decodes the full resolution. Levels and resampling are
//! settled in prepare() (so a bad `--resampling` is refused before any output
//! exists) and built by the writer thread on the closed temp GTiff: into the
//! final file for GTiff, or into the intermediate that the COG driver then
//! copies with `OVERVIEWS=FORCE_USE_EXISTING`. One code path, so
//! `--overviews 2,4,8` means the same levels in both formats.
//!
//! Defaults: none for GTiff; for COG, halvings until the smallest level's
//! longer side is under [`AUTO_MIN`] pixels. Resampling defaults to what the
//! op declares ([`crate::ops::Op::overview_resampling`]): average for
//! continuous values, mode for class maps (averaging class 1 and class 3
//! would invent class 2).

use std::path::Path;
use std::str::FromStr;

use crate::ops::Resampling;

/// Automatic levels stop once the overview's longer side is below this.
pub const AUTO_MIN: usize = 512;

/// What `--overviews` (or a recipe's `overviews`) asked for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "LevelsToml")]
pub enum Levels {
    None,
    Auto,
    Factors(Vec<usize>),
}

/// A recipe's `overviews`: `"auto"`, `"none"`, `"2,4,8"` or `[2, 4, 8]`.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum LevelsToml {
    Text(String),
    Factors(Vec<u64>),
}

impl TryFrom<LevelsToml> for Levels {
    type Error = String;
    fn try_from(v: LevelsToml) -> Result<Levels, String> {
        match v {
            LevelsToml::Text(s) => s.parse(),
            LevelsToml::Factors(f) => {
                let s: Vec<String> = f.iter().map(u64::to_string).collect();
                s.join(",").parse()
            }
        }
    }
}

impl FromStr for Levels {
    type Err = String;
    /// `none`, `auto`, or increasing factors of at least 2: `2,4,8,16`.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("none") {
            return Ok(Levels::None);
        }
        if t.eq_ignore_ascii_case("auto") {
            return Ok(Levels::Auto);
        }
        let mut out = Vec::new();
        for part in t.split(',') {
            let f = part.trim().parse::<usize>().ok().filter(|f| *f >= 2);
            let Some(f) = f else {
                return Err(format!(
                    "--overviews {s}: '{}' is not a factor of at least 2 (expected e.g. 2,4,8,16, auto or none)",
                    part.trim()
                ));
            };
            if out.last().is_some_and(|&prev| f <= prev) {
                return Err(format!(
                    "--overviews {s}: factors must be strictly increasing"
                ));
            }
            out.push(f);
        }
        Ok(Levels::Factors(out))
    }
}

/// Halvings 2, 4, 8, ... until the overview's longer side is below [`AUTO_MIN`].
pub fn auto_levels(width: usize, height: usize) -> Vec<usize> {
    let side = width.max(height);
    let mut levels = Vec::new();
    let mut f = 1usize;
    while side.div_ceil(f) >= AUTO_MIN {
        f *= 2;
        levels.push(f);
    }
    levels
}

/// The factors to build: `asked` if given, else the format's default.
pub fn resolve(asked: Option<&Levels>, cog: bool, width: usize, height: usize) -> Vec<usize> {
    match asked {
        Some(Levels::None) => Vec::new(),
        Some(Levels::Factors(f)) => f.clone(),
        Some(Levels::Auto) => auto_levels(width, height),
        None if cog => auto_levels(width, height),
        None => Vec::new(),
    }
}

/// Build internal overviews in the closed GTiff at `path`.
pub fn build(path: &Path, levels: &[usize], resampling: Resampling) -> anyhow::Result<()> {
    if levels.is_empty() {
        return Ok(());
    }
    crate::gdal::env::clear_messages();
    let mut ds = gdal::Dataset::open_ex(
        path,
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE
                | gdal::GdalOpenFlags::GDAL_OF_RASTER
                | gdal::GdalOpenFlags::GDAL_OF_VERBOSE_ERROR,
            allowed_drivers: Some(&["GTiff"]),
            ..Default::default()
        },
    )?;
    let factors: Vec<i32> = levels
        .iter()
        .map(|&f| i32::try_from(f))
        .collect::<Result<_, _>>()?;
    let res = ds.build_overviews(resampling.gdal_name(), &factors, &[]);
    drop(ds);
    if let Some(msg) = crate::gdal::env::first_failure() {
        anyhow::bail!("building overviews: {}", msg.trim());
    }
    res.map_err(|e| anyhow::anyhow!("building overviews: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, spelled out: every level but the last has a longer
    /// side of at least AUTO_MIN, the last is below it.
    fn check_auto(w: usize, h: usize) {
        let levels = auto_levels(w, h);
        let side = |f: usize| w.max(h).div_ceil(f);
        if w.max(h) < AUTO_MIN {
            assert!(levels.is_empty(), "{w}x{h}: {levels:?}");
            return;
        }
        let last = *levels.last().unwrap();
        assert!(side(last) < AUTO_MIN, "{w}x{h}: {levels:?}");
        for pair in levels.windows(2) {
            assert_eq!(pair[1], pair[0] * 2);
            assert!(side(pair[0]) >= AUTO_MIN, "{w}x{h}: {levels:?}");
        }
        assert_eq!(levels[0], 2);
    }

    #[test]
    fn auto_levels_stop_below_512() {
        for (w, h) in [
            (1, 1),
            (511, 3),
            (512, 1),
            (1, 513),
            (8192, 8192),
            (8193, 100),
            (1023, 1024),
            (1, 100_000),
        ] {
            check_auto(w, h);
        }
        assert_eq!(auto_levels(8192, 8192), vec![2, 4, 8, 16, 32]);
        assert_eq!(auto_levels(511, 511), Vec::<usize>::new());
    }

    #[test]
    fn levels_parse_and_refuse() {
        assert_eq!("none".parse::<Levels>(), Ok(Levels::None));
        assert_eq!("AUTO".parse::<Levels>(), Ok(Levels::Auto));
        assert_eq!(
            " 2, 4,8 ".parse::<Levels>(),
            Ok(Levels::Factors(vec![2, 4, 8]))
        );
        for bad in ["", "1,2", "2,2", "4,2", "x", "2,,4", "-2"] {
            let e = bad.parse::<Levels>().unwrap_err();
            assert!(e.starts_with("--overviews"), "{bad}: {e}");
        }
    }

    #[test]
    fn resampling_names_round_trip_and_unknown_is_refused() {
        for r in Resampling::ALL {
            assert_eq!(r.gdal_name().to_lowercase().parse::<Resampling>(), Ok(r));
        }
        assert_eq!("Near".parse::<Resampling>(), Ok(Resampling::Nearest));
        let e = "bicubic".parse::<Resampling>().unwrap_err();
        assert!(e.starts_with("unknown resampling method 'bicubic'"), "{e}");
        let e = "cubik".parse::<Resampling>().unwrap_err();
        assert!(e.contains("did you mean 'cubic'?"), "{e}");
    }

    #[test]
    fn defaults_differ_by_format() {
        assert!(resolve(None, false, 4096, 4096).is_empty());
        assert_eq!(resolve(None, true, 1024, 10), vec![2, 4]);
        assert!(resolve(Some(&Levels::None), true, 4096, 4096).is_empty());
        let f = Levels::Factors(vec![3, 9]);
        assert_eq!(resolve(Some(&f), false, 10, 10), vec![3, 9]);
    }
}
