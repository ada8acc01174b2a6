//! Creation options: built-in defaults, the user's overrides, and the
//! output tile size they imply.
//!
//! Defaults: tiled 512, DEFLATE, the predictor that suits the type
//! (horizontal differencing for integers, floating-point for floats) and
//! BIGTIFF=IF_SAFER. User options replace defaults key by key. The GTiff and
//! COG drivers spell tiling differently, and mixing them is refused.

use crate::ops::OutType;
use crate::sink::spec::Format;

const DEFAULT_TILE: usize = 512;

/// GDAL creation options as (KEY, value) in order. Keys are kept upper-case
/// and unique, so there is one lookup and one merge rule: a later value for a
/// key replaces the earlier one (the user's over the defaults, flags over the
/// recipe over the config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreationOptions(Vec<(String, String)>);

impl CreationOptions {
    /// The value of `key` (any case), if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// True when `key` is set and its value is `value` (any case).
    pub fn is(&self, key: &str, value: &str) -> bool {
        self.get(key).is_some_and(|v| v.eq_ignore_ascii_case(value))
    }

    /// Set `key`, replacing any earlier value in place of it.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.remove(key);
        self.0.push((key.to_ascii_uppercase(), value.into()));
    }

    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    /// `other` merged over `self`, key by key.
    pub fn merge(&mut self, other: &CreationOptions) {
        for (k, v) in other.iter() {
            self.set(k, v);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The options without those named in `drop`.
    pub fn without(&self, drop: &[&str]) -> CreationOptions {
        let mut o = self.clone();
        for k in drop {
            o.remove(k);
        }
        o
    }
}

impl<'a> IntoIterator for &'a CreationOptions {
    type Item = (&'a str, &'a str);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a str, &'a str),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for CreationOptions {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut o = CreationOptions::default();
        for (k, v) in iter {
            o.set(k.as_ref(), v);
        }
        o
    }
}

fn defaults(format: Format, t: OutType) -> CreationOptions {
    let pred = match (format, t.is_float()) {
        (Format::GTiff, true) => "3",
        (Format::GTiff, false) => "2",
        (Format::Cog, true) => "FLOATING_POINT",
        (Format::Cog, false) => "STANDARD",
    };
    let mut d = match format {
        Format::GTiff => vec![
            ("TILED", "YES".to_string()),
            ("BLOCKXSIZE", DEFAULT_TILE.to_string()),
            ("BLOCKYSIZE", DEFAULT_TILE.to_string()),
        ],
        Format::Cog => vec![("BLOCKSIZE", DEFAULT_TILE.to_string())],
    };
    d.push(("COMPRESS", "DEFLATE".into()));
    d.push(("PREDICTOR", pred.into()));
    d.push(("BIGTIFF", "IF_SAFER".into()));
    d.into_iter().collect()
}

fn size(opts: &CreationOptions, key: &str) -> Result<Option<usize>, String> {
    opts.get(key)
        .map(|v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n >= 16 && n % 16 == 0)
                .ok_or_else(|| format!("--co {key}={v}: must be a multiple of 16, at least 16"))
        })
        .transpose()
}

/// COG options tilerun refuses, and why: overviews have their own flags,
/// and the reprojecting ones would change the grid tilerun keeps.
const COG_REFUSED: &[(&str, &str)] = &[
    ("OVERVIEWS", "use --overviews (factors, auto or none)"),
    ("OVERVIEW_COUNT", "use --overviews (factors, auto or none)"),
    ("RESAMPLING", "use --resampling"),
    ("OVERVIEW_RESAMPLING", "use --resampling"),
    ("WARP_RESAMPLING", KEEPS_GRID),
    ("TILING_SCHEME", KEEPS_GRID),
    ("TARGET_SRS", KEEPS_GRID),
    ("RES", KEEPS_GRID),
    ("EXTENT", KEEPS_GRID),
    ("ZOOM_LEVEL", KEEPS_GRID),
    ("ZOOM_LEVEL_STRATEGY", KEEPS_GRID),
    ("ALIGNED_LEVELS", KEEPS_GRID),
    ("ADD_ALPHA", KEEPS_GRID),
];
const KEEPS_GRID: &str = "tilerun keeps the input's grid (no reprojection)";

/// Merge `user` over the defaults. Returns the options and the output tile.
pub fn creation_options(
    format: Format,
    t: OutType,
    user: &CreationOptions,
    width: usize,
) -> Result<(CreationOptions, (usize, usize)), String> {
    if format == Format::Cog {
        for bad in [
            "TILED",
            "BLOCKXSIZE",
            "BLOCKYSIZE",
            "INTERLEAVE",
            "PHOTOMETRIC",
        ] {
            if user.get(bad).is_some() {
                return Err(format!(
                    "--co {bad}: not a COG creation option (COG is always tiled; use --co BLOCKSIZE=N)"
                ));
            }
        }
        for (bad, why) in COG_REFUSED {
            if user.get(bad).is_some() {
                return Err(format!("--co {bad}: {why}"));
            }
        }
    } else if user.get("BLOCKSIZE").is_some() {
        return Err("--co BLOCKSIZE: a COG option; for GTiff use BLOCKXSIZE/BLOCKYSIZE".into());
    }
    if let Some(c) = user.get("COMPRESS") {
        let lossy8 = c.eq_ignore_ascii_case("JPEG") || c.eq_ignore_ascii_case("WEBP");
        if lossy8 && t != OutType::Byte {
            return Err(format!(
                "--co COMPRESS={c}: needs --ot Byte, the output type is {}",
                t.name()
            ));
        }
    }
    let mut opts = defaults(format, t);
    opts.merge(user);
    let tile = match format {
        Format::Cog => {
            let s = size(&opts, "BLOCKSIZE")?.unwrap_or(DEFAULT_TILE);
            (s, s)
        }
        Format::GTiff if opts.is("TILED", "YES") => (
            size(&opts, "BLOCKXSIZE")?.unwrap_or(256),
            size(&opts, "BLOCKYSIZE")?.unwrap_or(256),
        ),
        Format::GTiff => {
            // Striped output: pin the strip height so windows can cover
            // whole strips (GDAL's own default depends on the width).
            opts.remove("BLOCKXSIZE");
            let rows = match user.get("BLOCKYSIZE").or(user.get("ROWSPERSTRIP")) {
                Some(v) => v
                    .parse::<usize>()
                    .map_err(|_| format!("--co BLOCKYSIZE={v}: not a number"))?,
                None => 16,
            };
            opts.remove("ROWSPERSTRIP");
            opts.set("BLOCKYSIZE", rows.to_string());
            (width.max(1), rows.max(1))
        }
    };
    Ok((opts, tile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_options_replace_defaults_by_key() {
        let user: CreationOptions = [("compress", "ZSTD")].into_iter().collect();
        let (o, tile) = creation_options(Format::GTiff, OutType::Float32, &user, 100).unwrap();
        assert_eq!(o.get("COMPRESS"), Some("ZSTD"));
        assert_eq!(o.get("predictor"), Some("3"));
        assert_eq!(o.keys().filter(|k| *k == "COMPRESS").count(), 1);
        assert_eq!(tile, (512, 512));
    }

    #[test]
    fn integer_types_get_horizontal_predictor() {
        let (o, _) = creation_options(
            Format::GTiff,
            OutType::UInt16,
            &CreationOptions::default(),
            100,
        )
        .unwrap();
        assert_eq!(o.get("PREDICTOR"), Some("2"));
    }

    #[test]
    fn striped_and_cog_tiles() {
        let user = [("TILED", "NO")].into_iter().collect::<CreationOptions>();
        let (_, tile) = creation_options(Format::GTiff, OutType::Byte, &user, 333).unwrap();
        assert_eq!(tile, (333, 16));
        let user = [("BLOCKSIZE", "256")]
            .into_iter()
            .collect::<CreationOptions>();
        let (_, tile) = creation_options(Format::Cog, OutType::Byte, &user, 333).unwrap();
        assert_eq!(tile, (256, 256));
    }

    #[test]
    fn incompatible_options_are_refused() {
        let tiled = [("TILED", "YES")].into_iter().collect::<CreationOptions>();
        assert!(creation_options(Format::Cog, OutType::Byte, &tiled, 10).is_err());
        let bs = [("BLOCKSIZE", "256")]
            .into_iter()
            .collect::<CreationOptions>();
        assert!(creation_options(Format::GTiff, OutType::Byte, &bs, 10).is_err());
        let odd = [("BLOCKXSIZE", "100")]
            .into_iter()
            .collect::<CreationOptions>();
        assert!(creation_options(Format::GTiff, OutType::Byte, &odd, 10).is_err());
        for (k, v) in [
            ("OVERVIEWS", "AUTO"),
            ("RESAMPLING", "NEAREST"),
            ("TARGET_SRS", "EPSG:3857"),
        ] {
            let o: CreationOptions = [(k, v)].into_iter().collect();
            let e = creation_options(Format::Cog, OutType::Byte, &o, 10).unwrap_err();
            assert!(e.starts_with(&format!("--co {k}: ")), "{e}");
        }
        let jpeg = [("COMPRESS", "JPEG")]
            .into_iter()
            .collect::<CreationOptions>();
        assert!(creation_options(Format::Cog, OutType::Byte, &jpeg, 10).is_ok());
        let e = creation_options(Format::Cog, OutType::Float32, &jpeg, 10).unwrap_err();
        assert!(
            e.contains("--co COMPRESS=JPEG") && e.contains("Float32"),
            "{e}"
        );
    }
}
