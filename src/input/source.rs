//! Where one input of a job is and how it is to be read: a local file or a
//! member of an archive the user gave, the name an expression calls it, and
//! its per-input settings (unscaling, a nodata for files without one, the
//! resampling onto the output grid).
//!
//! Why a location type rather than a path string: users may not type GDAL
//! virtual paths (`/vsizip/…` could reach anything GDAL can), but tilerun
//! builds `/vsitar/` and `/vsizip/` paths itself for an archive it was
//! given. Only [`Location::Member`] ever becomes a virtual path, so the
//! refusal of user-typed ones stays whole.

use std::path::{Path, PathBuf};

use crate::ops::Resampling;

/// Where an input's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local file, as the user (or the daemon) named it.
    File(PathBuf),
    /// `member` (a path inside the archive) of a `.tar` or `.zip` read in
    /// place by GDAL.
    Member { archive: PathBuf, member: String },
}

impl Location {
    /// The name GDAL opens: the file, or `/vsitar/ABS/member` /
    /// `/vsizip/ABS/member` with the archive's absolute path.
    pub fn gdal_path(&self) -> PathBuf {
        match self {
            Location::File(p) => p.clone(),
            Location::Member { archive, member } => {
                let abs = std::path::absolute(archive).unwrap_or_else(|_| archive.clone());
                let prefix = if is_zip(archive) {
                    "/vsizip/"
                } else {
                    "/vsitar/"
                };
                let mut s = std::ffi::OsString::from(prefix);
                s.push(abs.as_os_str());
                s.push("/");
                s.push(member);
                PathBuf::from(s)
            }
        }
    }

    /// For messages: the file, or `ARCHIVE:member`.
    pub fn shown(&self) -> String {
        match self {
            Location::File(p) => crate::error::show(p),
            Location::Member { archive, member } => {
                format!(
                    "{}:{}",
                    crate::error::show(archive),
                    crate::error::escape(member)
                )
            }
        }
    }

    /// The file name (a member's last path component), for provenance.
    pub fn file_name(&self) -> String {
        match self {
            Location::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Location::Member { member, .. } => {
                member.rsplit('/').next().unwrap_or(member).to_string()
            }
        }
    }

    /// The local file holding the bytes (the archive for a member).
    pub fn local(&self) -> &Path {
        match self {
            Location::File(p) => p,
            Location::Member { archive, .. } => archive,
        }
    }
}

/// True for a `.zip` name (any case); other archives are tars.
pub fn is_zip(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Per-input reading settings, from a recipe's `inputs` table or the
/// `--input-set NAME.KEY=VALUE` flag.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Unscale with the band's own GDAL scale/offset (`value = raw × scale
    /// + offset`); `None` follows the recipe's or `--unscale`.
    pub unscale: Option<bool>,
    /// Explicit scale and offset, overriding the band's (Sentinel-2 since
    /// baseline 04.00: scale 0.0001, offset -0.1).
    pub scale: Option<f64>,
    pub offset: Option<f64>,
    /// Raw value meaning nodata, for files that do not say (Sentinel-2 SCL
    /// and bands: 0); overrides the file's.
    pub nodata: Option<f64>,
    /// How to bring the input onto the output grid if its resolution
    /// differs: nearest (default), bilinear, cubic or average.
    pub resampling: Option<Resampling>,
}

impl Settings {
    /// `self` with `over`'s keys replacing ours where given.
    pub fn merged(&self, over: &Settings) -> Settings {
        Settings {
            unscale: over.unscale.or(self.unscale),
            scale: over.scale.or(self.scale),
            offset: over.offset.or(self.offset),
            nodata: over.nodata.or(self.nodata),
            resampling: over.resampling.or(self.resampling),
        }
    }

    /// Set one key from its text (`--input-set NAME.KEY=VALUE`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let num = || {
            value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{key}: '{value}' is not a finite number"))
        };
        match key {
            "unscale" => {
                self.unscale = Some(match value.trim() {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => return Err(format!("unscale: '{value}' is not true or false")),
                })
            }
            "scale" => self.scale = Some(num()?),
            "offset" => self.offset = Some(num()?),
            "nodata" => self.nodata = Some(num()?),
            "resampling" => self.resampling = Some(value.parse()?),
            _ => {
                return Err(format!(
                    "unknown key '{key}' (known: unscale, scale, offset, nodata, resampling)"
                ))
            }
        }
        Ok(())
    }
}

/// One input of a job: its name in the expression (`None` for the single
/// input of `tilerun FILE`), where it is, and how to read it.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: Option<String>,
    pub location: Location,
    pub settings: Settings,
}

impl Source {
    /// The single unnamed input of `tilerun FILE`.
    pub fn file(path: PathBuf) -> Source {
        Source {
            name: None,
            location: Location::File(path),
            settings: Settings::default(),
        }
    }

    /// `name (where)` or just `where`, for messages.
    pub fn shown(&self) -> String {
        match &self.name {
            Some(n) => format!("input '{n}' ({})", self.location.shown()),
            None => self.location.shown(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_become_virtual_paths_only_here() {
        let m = Location::Member {
            archive: "/d/x.SAFE.zip".into(),
            member: "x.SAFE/a/b.jp2".into(),
        };
        assert_eq!(
            m.gdal_path(),
            PathBuf::from("/vsizip//d/x.SAFE.zip/x.SAFE/a/b.jp2")
        );
        assert_eq!(m.file_name(), "b.jp2");
        assert_eq!(m.shown(), "/d/x.SAFE.zip:x.SAFE/a/b.jp2");
        let t = Location::Member {
            archive: "/d/l.tar".into(),
            member: "l_B4.TIF".into(),
        };
        assert_eq!(t.gdal_path(), PathBuf::from("/vsitar//d/l.tar/l_B4.TIF"));
    }

    #[test]
    fn settings_merge_and_parse() {
        let mut s = Settings::default();
        s.set("scale", "1e-4").unwrap();
        s.set("resampling", "bilinear").unwrap();
        assert!(s.set("scale", "x").unwrap_err().contains("scale"));
        assert!(s.set("colour", "1").unwrap_err().contains("unknown key"));
        let over = Settings {
            scale: Some(2.0),
            ..Settings::default()
        };
        let m = s.merged(&over);
        assert_eq!(
            (m.scale, m.resampling),
            (Some(2.0), Some(Resampling::Bilinear))
        );
    }
}
