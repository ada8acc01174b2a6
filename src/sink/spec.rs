//! What an output is, decided before it exists: container, type, nodata,
//! creation options, tiling, overviews, and the block layout workers encode
//! into. The plan stage fills an [`OutputSpec`]; everything in `sink` reads
//! it and nothing else about the job.

use std::path::PathBuf;

use crate::ops::{OutType, Resampling};
use crate::sink::options::CreationOptions;
use crate::window::Window;

/// Output container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    GTiff,
    Cog,
}

/// Everything the writer needs to create the output, decided up front.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub path: PathBuf,
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

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "gtiff" => Ok(Format::GTiff),
            "cog" => Ok(Format::Cog),
            _ => Err(format!("unknown format '{s}' (expected GTiff or COG)")),
        }
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
