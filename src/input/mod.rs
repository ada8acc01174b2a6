//! Opening inputs, and the plain-data snapshot of everything the job needs
//! to know about one.
//!
//! Inputs are opened only through [`open`], with an explicit driver list, so
//! GDAL never probes formats that can reference other files or URLs. The
//! main thread opens the input once to take an [`InputMeta`] snapshot (plain
//! data, `Send`); workers open their own handles; no handle crosses threads.

pub mod archive;
pub mod block_cache;
pub mod grid;
pub mod pattern;
pub mod read;
pub mod reader;
pub mod resample;
pub mod source;
pub mod tiffcheck;

use std::path::{Path, PathBuf};

use std::ffi::CString;

use gdal::{Dataset, GdalOpenFlags, Metadata};
use gdal_sys::GDALDataType;

use crate::ops::InputInfo;

/// Per-band facts copied to the output.
#[derive(Debug, Clone, Default)]
pub struct BandMeta {
    pub nodata: Option<f64>,
    pub description: String,
    pub color_interp: i32,
    pub scale: Option<f64>,
    pub offset: Option<f64>,
    pub gdal_type: GDALDataType::Type,
    /// True when validity comes from a mask (alpha band or internal mask)
    /// rather than a nodata value.
    pub has_mask: bool,
}

/// Everything about the input the job needs, as plain data.
#[derive(Debug, Clone)]
pub struct InputMeta {
    pub path: PathBuf,
    pub driver: String,
    pub width: usize,
    pub height: usize,
    pub block: (usize, usize),
    pub geo_transform: Option<[f64; 6]>,
    pub projection: String,
    pub geographic: bool,
    pub bands: Vec<BandMeta>,
    /// (domain, "KEY=VALUE" items) for every metadata domain worth copying.
    pub metadata: Vec<(String, Vec<String>)>,
    /// GDAL warnings raised while opening and inspecting the file; the job
    /// reports them with its own (see `writer`).
    pub warnings: Vec<String>,
}

/// Limits applied before any pixel is read: config `[limits]`, read
/// straight into this type, plus `[input] allow_sparse`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_pixels: u64,
    pub max_dimension: usize,
    pub max_bands: usize,
    /// Bytes GDAL must allocate to decode one block (all bands of it when
    /// pixel-interleaved): bounds memory whatever the header's block size,
    /// since a block is decoded whole however small the window.
    pub max_block_bytes: u64,
    /// Bytes one archive member may claim (uncompressed): a larger claim
    /// is refused as a possible archive bomb before anything is inflated.
    pub max_member_bytes: u64,
    /// Accept TIFFs with blocks that have no data (see [`crate::input::tiffcheck`]).
    /// Set from `[input] allow_sparse`, not from `[limits]`.
    #[serde(skip)]
    pub allow_sparse: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 4_000_000_000,
            max_dimension: 1_000_000,
            max_bands: 256,
            max_block_bytes: 128 << 20,
            max_member_bytes: 4 << 30,
            allow_sparse: false,
        }
    }
}

/// Open `path` read-only with only `drivers` allowed.
///
/// The name goes to GDAL as raw bytes (a non-UTF-8 name must open the file
/// it names, not a lossy look-alike), and only as a plain local path: GDAL
/// gives meaning to `/vsi…/` prefixes and to driver prefixes such as
/// `GTIFF_DIR:1:` or `JPEG_SUBFILE:`, so relative names get a `./` in front
/// and virtual paths are refused.
pub fn open(path: &Path, drivers: &[String]) -> anyhow::Result<Dataset> {
    refuse_virtual(path)?;
    let mut bytes = path.as_os_str().as_encoded_bytes().to_vec();
    if path.is_relative() {
        bytes.splice(0..0, *b"./");
    }
    open_bytes(bytes, drivers)
}

/// Open an archive member through the `/vsitar/` or `/vsizip/` path
/// tilerun built itself ([`source::Location::gdal_path`]); never a path a
/// user typed, which [`open`] refuses.
pub fn open_member(vsi: &Path, drivers: &[String]) -> anyhow::Result<Dataset> {
    let bytes = vsi.as_os_str().as_encoded_bytes();
    anyhow::ensure!(
        bytes.starts_with(b"/vsitar/") || bytes.starts_with(b"/vsizip/"),
        "internal: not an archive member path"
    );
    open_bytes(bytes.to_vec(), drivers)
}

fn open_bytes(bytes: Vec<u8>, drivers: &[String]) -> anyhow::Result<Dataset> {
    let c_path = CString::new(bytes).map_err(|_| anyhow::anyhow!("path contains a NUL byte"))?;
    let flags = GdalOpenFlags::GDAL_OF_RASTER
        | GdalOpenFlags::GDAL_OF_READONLY
        | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR;
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(gdal::DriverManager::register_all);
    crate::gdal::ffi::open_ex(&c_path, flags, drivers).map_err(|why| {
        anyhow::anyhow!(
            "not a raster tilerun may read (allowed drivers: {}, set by [input] \
             allowed_drivers in the config): {why}",
            drivers.join(", "),
        )
    })
}

fn refuse_virtual(path: &Path) -> anyhow::Result<()> {
    if path.as_os_str().as_encoded_bytes().starts_with(b"/vsi") {
        anyhow::bail!(
            "GDAL virtual file systems (/vsicurl/, /vsizip/, /vsimem/, ...) are not accepted; \
             give a local file"
        );
    }
    Ok(())
}

/// Check what a user could get wrong about the path before GDAL sees it,
/// so the message is about the path, not a driver.
pub fn check_path(path: &Path) -> anyhow::Result<()> {
    refuse_virtual(path)?;
    let md = std::fs::metadata(path).map_err(|e| anyhow::anyhow!("cannot read input: {e}"))?;
    if md.is_dir() {
        anyhow::bail!("is a directory, not a raster file");
    }
    if !md.is_file() {
        // Opening a FIFO would block until someone writes to it.
        use std::os::unix::fs::FileTypeExt;
        let t = md.file_type();
        let kind = if t.is_fifo() {
            "a FIFO"
        } else if t.is_socket() {
            "a socket"
        } else {
            "a device"
        };
        anyhow::bail!("is {kind}, not a regular file");
    }
    if md.len() == 0 {
        anyhow::bail!("is empty (0 bytes)");
    }
    Ok(())
}

impl InputMeta {
    /// Snapshot `ds`, refusing what the limits or tilerun cannot handle.
    pub fn read(path: &Path, ds: &Dataset, limits: &Limits) -> anyhow::Result<InputMeta> {
        let (width, height) = ds.raster_size();
        let count = ds.raster_count();
        if count == 0 {
            anyhow::bail!("has no raster bands");
        }
        if width > limits.max_dimension || height > limits.max_dimension {
            anyhow::bail!(
                "declares {width}×{height} pixels, over the limit of {} per side (limits.max_dimension)",
                limits.max_dimension
            );
        }
        if (width as u64) * (height as u64) > limits.max_pixels {
            anyhow::bail!(
                "declares {width}×{height} pixels, over the limit of {} (limits.max_pixels)",
                limits.max_pixels
            );
        }
        if count > limits.max_bands {
            anyhow::bail!(
                "has {count} bands, over the limit of {} (limits.max_bands)",
                limits.max_bands
            );
        }
        let mut bands = Vec::with_capacity(count);
        for i in 1..=count {
            let b = ds.rasterband(i)?;
            // The crate's enum has no complex or 64-bit variants: ask GDAL.
            let t = crate::gdal::ffi::band_type(&b);
            check_type(i, t)?;
            let flags = b.mask_flags()?;
            bands.push(BandMeta {
                nodata: b.no_data_value(),
                description: b.description().unwrap_or_default(),
                color_interp: b.color_interpretation().c_int() as i32,
                scale: b.scale(),
                offset: b.offset(),
                gdal_type: t,
                has_mask: !flags.is_all_valid() && !flags.is_nodata(),
            });
        }
        check_block(ds, bands.iter().map(|b| b.gdal_type), limits)?;
        if ds.driver().short_name() == "GTiff" {
            if path.as_os_str().as_encoded_bytes().starts_with(b"/vsi") {
                crate::input::tiffcheck::check_member(ds, path, limits.allow_sparse)?;
            } else {
                crate::input::tiffcheck::check(path, limits.allow_sparse)?;
            }
        }
        let projection = ds.projection();
        let geographic = ds.spatial_ref().map(|s| s.is_geographic()).unwrap_or(false);
        let metadata = ds
            .metadata_domains()
            .into_iter()
            .filter(|d| {
                !matches!(
                    d.as_str(),
                    "IMAGE_STRUCTURE" | "DERIVED_SUBDATASETS" | "SUBDATASETS"
                )
            })
            .filter_map(|d| ds.metadata_domain(&d).map(|items| (d, items)))
            .collect();
        Ok(InputMeta {
            path: path.to_path_buf(),
            driver: ds.driver().short_name(),
            width,
            height,
            block: ds.rasterband(1)?.block_size(),
            geo_transform: ds.geo_transform().ok(),
            projection,
            geographic,
            bands,
            metadata,
            // Everything GDAL said on this thread since `open` cleared it.
            warnings: crate::gdal::env::take_messages()
                .into_iter()
                .filter(|m| !m.failure)
                .map(|m| m.text)
                .collect(),
        })
    }

    pub fn info(&self) -> InputInfo {
        InputInfo {
            width: self.width,
            height: self.height,
            band_count: self.bands.len(),
            geo_transform: self.geo_transform,
            geographic: self.geographic,
            nodata: self.bands.iter().map(|b| b.nodata).collect(),
            band_types: self.bands.iter().map(|b| b.gdal_type).collect(),
        }
    }
}

/// Sample types tilerun computes on exactly, in f64.
fn check_type(band: usize, t: GDALDataType::Type) -> anyhow::Result<()> {
    let (name, complex) = crate::gdal::ffi::type_info(t);
    if complex {
        anyhow::bail!("band {band} has complex samples ({name}), which tilerun does not support");
    }
    match t {
        GDALDataType::GDT_Int64 | GDALDataType::GDT_UInt64 => anyhow::bail!(
            "band {band} has 64-bit integer samples ({name}), which tilerun does not support \
             (f64 arithmetic would silently round values beyond 2^53)"
        ),
        GDALDataType::GDT_Unknown => anyhow::bail!("band {band} has an unknown sample type"),
        _ => Ok(()),
    }
}

/// Refuse blocks GDAL would need a huge buffer to decode.
fn check_block(
    ds: &Dataset,
    types: impl Iterator<Item = GDALDataType::Type>,
    limits: &Limits,
) -> anyhow::Result<()> {
    let (bw, bh) = ds.rasterband(1)?.block_size();
    let sizes: Vec<u64> = types
        .map(|t| crate::gdal::ffi::type_size(t).max(1) as u64)
        .collect();
    // Pixel-interleaved blocks are decoded for all bands at once.
    let interleaved = ds.metadata_item("INTERLEAVE", "IMAGE_STRUCTURE").as_deref() == Some("PIXEL");
    let per_pixel = if interleaved {
        sizes.iter().sum()
    } else {
        sizes.iter().copied().max().unwrap_or(1)
    };
    let bytes = (bw as u64)
        .saturating_mul(bh as u64)
        .saturating_mul(per_pixel);
    if bytes > limits.max_block_bytes {
        anyhow::bail!(
            "stores pixels in {bw}×{bh} blocks, {} MiB to decode each, over the limit of {} MiB \
             (limits.max_block_bytes)",
            bytes >> 20,
            limits.max_block_bytes >> 20
        );
    }
    Ok(())
}
