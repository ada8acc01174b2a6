//! Opening inputs, and the plain-data snapshot of everything the job needs
//! to know about one.
//!
//! Inputs are opened only through [`open`], with an explicit driver list, so
//! GDAL never probes formats that can reference other files or URLs. The
//! main thread opens the input once to take an [`InputMeta`] snapshot (plain
//! data, `Send`); workers open their own handles; no handle crosses threads.

use std::path::{Path, PathBuf};

use gdal::{Dataset, DatasetOptions, GdalOpenFlags, Metadata};
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
}

/// Limits applied before any pixel is read (see config `[limits]`).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_pixels: u64,
    pub max_dimension: usize,
    pub max_bands: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 4_000_000_000,
            max_dimension: 1_000_000,
            max_bands: 256,
        }
    }
}

/// Open `path` read-only with only `drivers` allowed.
pub fn open(path: &Path, drivers: &[String]) -> anyhow::Result<Dataset> {
    let names: Vec<&str> = drivers.iter().map(String::as_str).collect();
    let opts = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_RASTER
            | GdalOpenFlags::GDAL_OF_READONLY
            | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR,
        allowed_drivers: Some(&names),
        ..Default::default()
    };
    crate::gdalenv::clear_messages();
    Dataset::open_ex(path, opts).map_err(|e| {
        let detail = crate::gdalenv::first_failure().unwrap_or_else(|| e.to_string());
        anyhow::anyhow!(
            "not a raster tilerun may read (allowed drivers: {}): {}",
            drivers.join(", "),
            detail.trim()
        )
    })
}

/// Check what a user could get wrong about the path before GDAL sees it,
/// so the message is about the path, not a driver.
pub fn check_path(path: &Path) -> anyhow::Result<()> {
    let md = std::fs::metadata(path).map_err(|e| anyhow::anyhow!("cannot read input: {e}"))?;
    if md.is_dir() {
        anyhow::bail!("is a directory, not a raster file");
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
            let t = b.band_type() as GDALDataType::Type;
            // SAFETY: querying a type property.
            if unsafe { gdal_sys::GDALDataTypeIsComplex(t) } != 0 {
                anyhow::bail!("band {i} has a complex sample type, which tilerun does not support");
            }
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
        }
    }
}
