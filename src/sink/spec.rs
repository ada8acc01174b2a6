//! What an output is, decided before it exists: container, type, nodata,
//! creation options, tiling, overviews, and the block layout workers encode
//! into. The plan stage fills an [`OutputSpec`]; everything in `sink` reads
//! it and nothing else about the job.

use std::path::PathBuf;

use crate::ops::{OutType, Resampling};
pub use crate::sink::format::Format;
use crate::sink::options::{BadOption, CreationOptions};
use crate::window::Window;

/// Everything the writer needs to create the output, decided up front.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub path: PathBuf,
    /// Replace a file already at `path` (else the commit refuses to).
    pub overwrite: bool,
    /// Width and height in pixels: the input's grid.
    pub size: (usize, usize),
    pub georef: Georef,
    /// One entry per output band.
    pub bands: Vec<BandSpec>,
    pub format: Format,
    pub out_type: OutType,
    pub nodata: f64,
    /// Final creation options, defaults merged with the user's.
    pub creation_options: CreationOptions,
    /// Output tile size, from BLOCKXSIZE/BLOCKYSIZE.
    pub tile: (usize, usize),
    /// Processing history written into the output's metadata.
    pub history: Vec<(String, String)>,
    /// Overview factors to build (empty: none) and their resampling.
    pub overviews: Vec<usize>,
    pub resampling: Resampling,
    /// Set when workers compress whole blocks themselves (see `encode`).
    pub layout: Option<Layout>,
    /// COG assembled from the workers' blocks (see `cog::Assembly`) rather
    /// than copied by GDAL from a finished GTiff.
    pub assemble: bool,
}

/// Codecs whose blocks are self-contained (JPEG keeps shared tables in the
/// directory, so its blocks cannot move between files).
const PORTABLE: &[&str] = &[
    "NONE",
    "DEFLATE",
    "ZSTD",
    "LZW",
    "LZMA",
    "PACKBITS",
    "LERC",
    "LERC_DEFLATE",
    "LERC_ZSTD",
];

/// Options that affect the file, not the bytes of a block.
const FILE_ONLY: &[&str] = &[
    "BIGTIFF",
    "NUM_THREADS",
    "SPARSE_OK",
    "TFW",
    "WORLDFILE",
    "RPB",
    "PROFILE",
];

/// How output blocks are laid out, as libtiff numbers them.
#[derive(Debug, Clone)]
pub struct Layout {
    pub size: (usize, usize),
    pub block: (usize, usize),
    pub tiled: bool,
    pub separate: bool,
    pub bands: usize,
    pub out_type: OutType,
    pub nodata: f64,
    /// Creation options for the per-window scratch GTiff.
    pub options: CreationOptions,
}

impl Layout {
    /// The block layout for `out`, or None when blocks cannot be encoded
    /// apart from the file (JPEG, YCbCr, bit packing, COG's own tiling).
    pub fn for_output(
        out: &OutputSpec,
        gtiff_options: &CreationOptions,
        size: (usize, usize),
        bands: usize,
    ) -> Option<Layout> {
        let compress = gtiff_options
            .get("COMPRESS")
            .unwrap_or("NONE")
            .to_ascii_uppercase();
        if !PORTABLE.contains(&compress.as_str())
            || gtiff_options.is("PHOTOMETRIC", "YCBCR")
            || gtiff_options.get("NBITS").is_some()
        {
            return None;
        }
        let tiled = gtiff_options.is("TILED", "YES");
        let separate = bands > 1 && gtiff_options.is("INTERLEAVE", "BAND");
        let block = if out.format == Format::Cog || tiled {
            out.tile
        } else {
            (size.0, out.tile.1)
        };
        let options = gtiff_options.without(FILE_ONLY);
        Some(Layout {
            size,
            block,
            tiled,
            separate,
            bands,
            out_type: out.out_type,
            nodata: out.nodata,
            options,
        })
    }

    /// True when `w` covers whole blocks (clipped only at the raster edge).
    pub fn aligned(&self, w: &Window) -> bool {
        w.aligned_to(self.block, self.size)
    }

    pub fn per_row(&self) -> usize {
        self.size.0.div_ceil(self.block.0)
    }

    pub fn per_plane(&self) -> usize {
        self.per_row() * self.size.1.div_ceil(self.block.1)
    }
}

/// Where the output sits on the Earth, and the dataset metadata it keeps:
/// copied from the input, since tilerun never changes the grid.
#[derive(Debug, Clone, Default)]
pub struct Georef {
    pub geo_transform: Option<[f64; 6]>,
    pub projection: String,
    /// (domain, "KEY=VALUE" items), or one XML document for `xml:` domains.
    pub metadata: Vec<(String, Vec<String>)>,
}

/// What an output band says about itself, settled by the plan from the op
/// and the input bands it copies its meaning or units from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BandSpec {
    pub description: String,
    /// A `GDALColorInterp` value; None leaves GDAL's default for the
    /// creation options given.
    pub color_interp: Option<gdal_sys::GDALColorInterp::Type>,
    pub scale: Option<f64>,
    pub offset: Option<f64>,
}

// Creation options: built-in defaults, the user's overrides, and the output
// tile size they imply. Defaults: tiled 512, DEFLATE, the predictor that
// suits the type (horizontal differencing for integers, floating-point for
// floats) and BIGTIFF=IF_SAFER. The GTiff and COG drivers spell tiling
// differently, and mixing them is refused. PNG and JPEG take GDAL's own
// defaults (their temp GTiff is tilerun's business, see `create`).

const DEFAULT_TILE: usize = 512;

fn defaults(format: Format, t: OutType) -> CreationOptions {
    let pred = match (format, t.is_float()) {
        (Format::GTiff, true) => "3",
        (Format::GTiff, false) => "2",
        (Format::Cog, true) => "FLOATING_POINT",
        (Format::Cog, false) => "STANDARD",
        (Format::Png | Format::Jpeg, _) => return CreationOptions::default(),
    };
    let mut d = match format {
        Format::Cog => vec![("BLOCKSIZE", DEFAULT_TILE.to_string())],
        _ => vec![
            ("TILED", "YES".to_string()),
            ("BLOCKXSIZE", DEFAULT_TILE.to_string()),
            ("BLOCKYSIZE", DEFAULT_TILE.to_string()),
        ],
    };
    d.push(("COMPRESS", "DEFLATE".into()));
    d.push(("PREDICTOR", pred.into()));
    d.push(("BIGTIFF", "IF_SAFER".into()));
    d.into_iter().collect()
}

fn size(opts: &CreationOptions, key: &str) -> Result<Option<usize>, BadOption> {
    opts.get(key)
        .map(|v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n >= 16 && n % 16 == 0)
                .ok_or_else(|| BadOption::new(key, opts, "must be a multiple of 16, at least 16"))
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

/// Merge `user` over the defaults. Returns the options and the output tile
/// (for PNG and JPEG, the tile of their temp GTiff). Options tilerun
/// handles itself are refused with the flag to use; the rest must pass the
/// GDAL driver's own check.
pub fn creation_options(
    format: Format,
    t: OutType,
    user: &CreationOptions,
    width: usize,
) -> Result<(CreationOptions, (usize, usize)), BadOption> {
    let refuse = |key: &str, why: &str| Err(BadOption::new(key, user, why));
    if format == Format::Cog {
        for bad in [
            "TILED",
            "BLOCKXSIZE",
            "BLOCKYSIZE",
            "INTERLEAVE",
            "PHOTOMETRIC",
        ] {
            if user.get(bad).is_some() {
                return refuse(
                    bad,
                    "not a COG creation option (COG is always tiled; use --co BLOCKSIZE=N)",
                );
            }
        }
        for (bad, why) in COG_REFUSED {
            if user.get(bad).is_some() {
                return refuse(bad, why);
            }
        }
    } else if format == Format::GTiff && user.get("BLOCKSIZE").is_some() {
        return refuse(
            "BLOCKSIZE",
            "a COG option; for GTiff use BLOCKXSIZE/BLOCKYSIZE",
        );
    } else if format.is_picture() && user.get("WORLDFILE").is_some() {
        return refuse(
            "WORLDFILE",
            "a second file beside the output cannot be committed atomically with it; \
             write a .tif to keep the georeferencing",
        );
    }
    if let Some(c) = user.get("COMPRESS") {
        let lossy8 = c.eq_ignore_ascii_case("JPEG") || c.eq_ignore_ascii_case("WEBP");
        if lossy8 && t != OutType::Byte {
            let why = format!("needs --ot Byte, the output type is {}", t.name());
            return refuse("COMPRESS", &why);
        }
    }
    // ROWSPERSTRIP is tilerun's alias for a striped BLOCKYSIZE (below).
    let mut checked = user.without(&["ROWSPERSTRIP"]);
    if format == Format::Cog && user.is("COMPRESS", "PACKBITS") {
        // GDAL 3.6's COG driver leaves PACKBITS out of its list, yet writes
        // it (its GTiff layer does): a gap in the list, not in the driver.
        checked.remove("COMPRESS");
    }
    crate::sink::options::check(format.driver(), &checked)?;
    let mut opts = defaults(format, t);
    opts.merge(user);
    let tile = match format {
        Format::Cog => {
            let s = size(&opts, "BLOCKSIZE")?.unwrap_or(DEFAULT_TILE);
            (s, s)
        }
        Format::Png | Format::Jpeg => (DEFAULT_TILE, DEFAULT_TILE),
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
                    .map_err(|_| BadOption::new("BLOCKYSIZE", user, "not a number"))?,
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
            let e = creation_options(Format::Cog, OutType::Byte, &o, 10)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("--co {k}={v}: ")), "{e}");
        }
        let packbits = [("COMPRESS", "PACKBITS")]
            .into_iter()
            .collect::<CreationOptions>();
        assert!(creation_options(Format::Cog, OutType::Byte, &packbits, 10).is_ok());
        let jpeg = [("COMPRESS", "JPEG")]
            .into_iter()
            .collect::<CreationOptions>();
        assert!(creation_options(Format::Cog, OutType::Byte, &jpeg, 10).is_ok());
        let e = creation_options(Format::Cog, OutType::Float32, &jpeg, 10)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--co COMPRESS=JPEG") && e.contains("Float32"),
            "{e}"
        );
    }
}
