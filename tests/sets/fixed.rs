//! Inputs named by a fixed name (a pattern without `*`): Sentinel-2 L2A's
//! `QI_DATA/MSK_CLDPRB_20m.jp2` has no tile prefix, so it carries no set
//! key and is found only inside a whole delivery or among files given by
//! hand; a recipe of fixed names only is refused.

use std::path::PathBuf;

use super::{config, refused, run_recipe, safe_copy};
use crate::util::*;

/// Adds a cloud-probability mask where L2A puts it, under the fixed name
/// it has there (no tile prefix): `GRANULE/*/QI_DATA/MSK_CLDPRB_20m.jp2`,
/// a Byte JPEG 2000 (lossless, by GDAL's JP2OpenJPEG) on the 20 m grid.
const MSK: &str = r#"
import sys, glob
import numpy as np
from osgeo import gdal
g = glob.glob(sys.argv[1] + '/GRANULE/*')[0]
scl = gdal.Open(glob.glob(g + '/IMG_DATA/R20m/*_SCL_20m.jp2')[0])
h, w = scl.RasterYSize, scl.RasterXSize
i, j = np.mgrid[0:h, 0:w]
mem = gdal.GetDriverByName('MEM').Create('', w, h, 1, gdal.GDT_Byte)
mem.SetGeoTransform(scl.GetGeoTransform())
mem.SetProjection(scl.GetProjection())
mem.GetRasterBand(1).WriteArray(((i * 7 + j * 13) % 101).astype(np.uint8))
import os
os.makedirs(g + '/QI_DATA')
gdal.GetDriverByName('JP2OpenJPEG').CreateCopy(g + '/QI_DATA/MSK_CLDPRB_20m.jp2', mem,
    options=['REVERSIBLE=YES', 'QUALITY=100'])
"#;

/// The masked NDVI computed independently: bands at 10 m with their
/// scale/offset, the 20 m mask repeated 2x2 (nearest), cloudy above 50.
const MSK_ORACLE: &str = r#"
import sys, glob
import numpy as np
from osgeo import gdal
g = glob.glob(sys.argv[1] + '/GRANULE/*')[0]
band = lambda b: gdal.Open(glob.glob(g + '/IMG_DATA/R10m/*_%s_10m.jp2' % b)[0]).ReadAsArray().astype(np.float64)
red, nir = band('B04'), band('B08')
cld = gdal.Open(g + '/QI_DATA/MSK_CLDPRB_20m.jp2').ReadAsArray()
cld = np.repeat(np.repeat(cld, 2, axis=0), 2, axis=1)
r, n = red * 0.0001 - 0.1, nir * 0.0001 - 0.1
dead = (red == 0) | (nir == 0) | (cld > 50)
want = np.where(dead, -9999, (n - r) / np.where(dead, 1, n + r)).astype(np.float32)
got = gdal.Open(sys.argv[2]).ReadAsArray()
assert got.shape == want.shape, (got.shape, want.shape)
bad = ~np.isclose(got, want, rtol=1e-6, atol=1e-6)
assert not bad.any(), (int(bad.sum()), np.argwhere(bad)[0])
print(int(dead.sum()), int((~dead).sum()))
"#;

/// An input named by a fixed name (no `*`: Sentinel-2's QI_DATA masks have
/// no tile prefix) is found inside a `.SAFE` folder, its zip, and among
/// files given by hand, and the product equals numpy's.
#[test]
fn a_fixed_name_input_reads_a_safe_qi_data_mask() {
    let env = Env::new();
    let safe = safe_copy(&env, "m.SAFE");
    crate::publish::python(MSK, &[safe.to_str().unwrap()]);
    let extra = "[recipes.s2_cld]\nexpr = 'where(cld > 50, nodata, (nir - red) / (nir + red))'\n\
         ot = 'Float32'\nnodata = -9999\n[recipes.s2_cld.inputs]\n\
         red = { pattern = '*_B04_10m.jp2', nodata = 0, scale = 0.0001, offset = -0.1 }\n\
         nir = { pattern = '*_B08_10m.jp2', nodata = 0, scale = 0.0001, offset = -0.1 }\n\
         cld = 'MSK_CLDPRB_20m.jp2'\n";
    let cfg = config(&env, extra);
    let out = env.path("cld.tif");
    run_recipe(&env, &cfg, "s2_cld", &[&safe], Some(&out)).ok();
    let counts =
        crate::publish::python(MSK_ORACLE, &[safe.to_str().unwrap(), out.to_str().unwrap()]);
    let (dead, valid) = counts.trim().split_once(' ').unwrap();
    let (dead, valid): (usize, usize) = (dead.parse().unwrap(), valid.parse().unwrap());
    assert!(dead > 10_000 && valid > 10_000, "{counts}");
    let want = read(&out);
    let zip = env.path("m.SAFE.zip");
    let pack = "import shutil, sys; shutil.make_archive(sys.argv[1], 'zip', sys.argv[2], 'm.SAFE')";
    let parent = safe.parent().unwrap().to_str().unwrap();
    crate::publish::python(pack, &[env.path("m.SAFE").to_str().unwrap(), parent]);
    let granule = std::fs::read_dir(safe.join("GRANULE"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let files: Vec<PathBuf> = ["IMG_DATA/R10m", "IMG_DATA/R10m", "QI_DATA"]
        .iter()
        .zip(["_B04_10m.jp2", "_B08_10m.jp2", "MSK_CLDPRB_20m.jp2"])
        .map(|(d, end)| {
            let dir = granule.join(d);
            let name = list(&dir).into_iter().find(|n| n.ends_with(end)).unwrap();
            dir.join(name)
        })
        .collect();
    for (what, inputs) in [
        ("zip", vec![zip.as_path()]),
        ("files", files.iter().map(PathBuf::as_path).collect()),
    ] {
        let o = env.path(&format!("{what}.tif"));
        run_recipe(&env, &cfg, "s2_cld", &inputs, Some(&o)).ok();
        assert!(read(&o).bands == want.bands, "{what}: pixels differ");
    }
    let cld = meta_item(&out, "TILERUN_INPUT_CLD").unwrap();
    assert!(
        cld.contains("MSK_CLDPRB_20m.jp2") && cld.contains("2× up by nearest"),
        "{cld}"
    );
    // The output is named by the bands' set key, as without the mask.
    let named = run_recipe(&env, &cfg, "s2_cld", &[&safe], None);
    named.ok();
    assert!(
        safe.parent()
            .unwrap()
            .join("T33UUP_20231015T101019_s2_cld.tif")
            .exists(),
        "{:?}",
        env.files()
    );
    // A recipe of fixed names only has no set key: refused at start-up.
    let none = env.write(
        "none.toml",
        "[recipes.z]\nexpr = 'a'\ninputs = { a = 'A.tif' }\n",
    );
    let r = run_recipe(&env, &none, "z", &[&safe], None);
    refused(
        &r,
        2,
        &[
            "none.toml: line 3: recipe 'z'",
            "no input pattern has a '*'",
        ],
    );
}
