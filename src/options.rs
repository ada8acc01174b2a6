//! Creation options: built-in defaults, the user's overrides, and the
//! output tile size they imply.
//!
//! Defaults: tiled 512, DEFLATE, the predictor that suits the type
//! (horizontal differencing for integers, floating-point for floats) and
//! BIGTIFF=IF_SAFER. User options replace defaults key by key. The GTiff and
//! COG drivers spell tiling differently, and mixing them is refused.

use crate::job::Format;
use crate::ops::OutType;

const DEFAULT_TILE: usize = 512;

fn defaults(format: Format, t: OutType) -> Vec<(String, String)> {
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
    d.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn get<'a>(opts: &'a [(String, String)], key: &str) -> Option<&'a str> {
    opts.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn size(opts: &[(String, String)], key: &str) -> Result<Option<usize>, String> {
    get(opts, key)
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

/// Creation options as (KEY, value), later entries winning.
pub type Options = Vec<(String, String)>;

/// Merge `user` over the defaults. Returns the options and the output tile.
pub fn creation_options(
    format: Format,
    t: OutType,
    user: &[(String, String)],
    width: usize,
) -> Result<(Options, (usize, usize)), String> {
    if format == Format::Cog {
        for bad in [
            "TILED",
            "BLOCKXSIZE",
            "BLOCKYSIZE",
            "INTERLEAVE",
            "PHOTOMETRIC",
        ] {
            if get(user, bad).is_some() {
                return Err(format!(
                    "--co {bad}: not a COG creation option (COG is always tiled; use --co BLOCKSIZE=N)"
                ));
            }
        }
        for (bad, why) in COG_REFUSED {
            if get(user, bad).is_some() {
                return Err(format!("--co {bad}: {why}"));
            }
        }
    } else if get(user, "BLOCKSIZE").is_some() {
        return Err("--co BLOCKSIZE: a COG option; for GTiff use BLOCKXSIZE/BLOCKYSIZE".into());
    }
    if let Some(c) = get(user, "COMPRESS") {
        let lossy8 = c.eq_ignore_ascii_case("JPEG") || c.eq_ignore_ascii_case("WEBP");
        if lossy8 && t != OutType::Byte {
            return Err(format!(
                "--co COMPRESS={c}: needs --ot Byte, the output type is {}",
                t.name()
            ));
        }
    }
    let mut opts = defaults(format, t);
    for (k, v) in user {
        opts.retain(|(dk, _)| dk != k);
        opts.push((k.clone(), v.clone()));
    }
    let tile = match format {
        Format::Cog => {
            let s = size(&opts, "BLOCKSIZE")?.unwrap_or(DEFAULT_TILE);
            (s, s)
        }
        Format::GTiff if get(&opts, "TILED").is_some_and(|v| v.eq_ignore_ascii_case("YES")) => (
            size(&opts, "BLOCKXSIZE")?.unwrap_or(256),
            size(&opts, "BLOCKYSIZE")?.unwrap_or(256),
        ),
        Format::GTiff => {
            // Striped output: pin the strip height so windows can cover
            // whole strips (GDAL's own default depends on the width).
            opts.retain(|(k, _)| k != "BLOCKXSIZE");
            let rows = match get(user, "BLOCKYSIZE").or(get(user, "ROWSPERSTRIP")) {
                Some(v) => v
                    .parse::<usize>()
                    .map_err(|_| format!("--co BLOCKYSIZE={v}: not a number"))?,
                None => 16,
            };
            opts.retain(|(k, _)| k != "ROWSPERSTRIP" && k != "BLOCKYSIZE");
            opts.push(("BLOCKYSIZE".into(), rows.to_string()));
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
        let user = vec![("COMPRESS".to_string(), "ZSTD".to_string())];
        let (o, tile) = creation_options(Format::GTiff, OutType::Float32, &user, 100).unwrap();
        assert_eq!(get(&o, "COMPRESS"), Some("ZSTD"));
        assert_eq!(get(&o, "PREDICTOR"), Some("3"));
        assert_eq!(o.iter().filter(|(k, _)| k == "COMPRESS").count(), 1);
        assert_eq!(tile, (512, 512));
    }

    #[test]
    fn integer_types_get_horizontal_predictor() {
        let (o, _) = creation_options(Format::GTiff, OutType::UInt16, &[], 100).unwrap();
        assert_eq!(get(&o, "PREDICTOR"), Some("2"));
    }

    #[test]
    fn striped_and_cog_tiles() {
        let user = vec![("TILED".to_string(), "NO".to_string())];
        let (_, tile) = creation_options(Format::GTiff, OutType::Byte, &user, 333).unwrap();
        assert_eq!(tile, (333, 16));
        let user = vec![("BLOCKSIZE".to_string(), "256".to_string())];
        let (_, tile) = creation_options(Format::Cog, OutType::Byte, &user, 333).unwrap();
        assert_eq!(tile, (256, 256));
    }

    #[test]
    fn incompatible_options_are_refused() {
        let tiled = vec![("TILED".to_string(), "YES".to_string())];
        assert!(creation_options(Format::Cog, OutType::Byte, &tiled, 10).is_err());
        let bs = vec![("BLOCKSIZE".to_string(), "256".to_string())];
        assert!(creation_options(Format::GTiff, OutType::Byte, &bs, 10).is_err());
        let odd = vec![("BLOCKXSIZE".to_string(), "100".to_string())];
        assert!(creation_options(Format::GTiff, OutType::Byte, &odd, 10).is_err());
        for (k, v) in [
            ("OVERVIEWS", "AUTO"),
            ("RESAMPLING", "NEAREST"),
            ("TARGET_SRS", "EPSG:3857"),
        ] {
            let o = vec![(k.to_string(), v.to_string())];
            let e = creation_options(Format::Cog, OutType::Byte, &o, 10).unwrap_err();
            assert!(e.starts_with(&format!("--co {k}: ")), "{e}");
        }
        let jpeg = vec![("COMPRESS".to_string(), "JPEG".to_string())];
        assert!(creation_options(Format::Cog, OutType::Byte, &jpeg, 10).is_ok());
        let e = creation_options(Format::Cog, OutType::Float32, &jpeg, 10).unwrap_err();
        assert!(
            e.contains("--co COMPRESS=JPEG") && e.contains("Float32"),
            "{e}"
        );
    }
}
