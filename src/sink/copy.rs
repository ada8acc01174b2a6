//! PNG and JPEG outputs. GDAL writes both only by copying a finished
//! dataset (CreateCopy), so the windows go into a temp GTiff (uncompressed,
//! as on COG's copy path) and GDAL copies it into a second temp beside the
//! output, which is then committed like every output. Neither format keeps
//! the CRS, the geotransform or metadata (tilerun runs GDAL without `.aux.xml`
//! sidecars), and JPEG keeps no nodata: `plan` warns about what is lost.

use std::path::Path;

use crate::sink::options::CreationOptions;
use crate::sink::spec::OutputSpec;

/// Copy the finished temp GTiff `src` into `dst` with the output's driver
/// and the user's creation options.
pub fn translate(out: &OutputSpec, src: &Path, dst: &Path) -> anyhow::Result<()> {
    // NUM_THREADS is tilerun's setting for GTiff writes, not these drivers'.
    let opts = out.creation_options.without(&["NUM_THREADS"]);
    create_copy(out.format.driver(), &opts, src, dst)
}

/// GDAL's CreateCopy of the file `src` into `dst` with driver `name` (also
/// COG's copy path).
pub fn create_copy(
    name: &str,
    options: &CreationOptions,
    src: &Path,
    dst: &Path,
) -> anyhow::Result<()> {
    let ds = gdal::Dataset::open(src)?;
    let driver = gdal::DriverManager::get_driver_by_name(name)?;
    let mut opts = gdal::cpl::CslStringList::new();
    for (k, v) in options.iter() {
        opts.set_name_value(k, v)?;
    }
    crate::gdal::ffi::create_copy(&driver, &ds, dst, &opts)
        .map_err(|e| anyhow::anyhow!("creating {name}: {e}"))
}
