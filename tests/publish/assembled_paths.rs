//! The assembled COG's other paths, each held to GDAL's own COG copy or to
//! an empty folder: every portable codec, a job failing after the skeleton
//! exists, and the three ways full-resolution blocks reach their place.
//! Apart from `assembled`, whose gdaladdo comparison is the long run.

use super::assembled::{info, make_inputs, run_cog};
use super::*;

#[test]
fn assembled_cog_for_every_portable_codec() {
    let env = Env::new();
    make_inputs(&env);
    let input = env.path("u16.tif");
    let variants: &[&[&str]] = &[
        &["COMPRESS=ZSTD", "LEVEL=9"],
        &["COMPRESS=LZW", "PREDICTOR=YES"],
        &["COMPRESS=NONE"],
        &["COMPRESS=PACKBITS"],
        &["COMPRESS=LZMA"],
        &[
            "COMPRESS=DEFLATE",
            "PREDICTOR=NO",
            "LEVEL=1",
            "BLOCKSIZE=256",
        ],
        &["COMPRESS=DEFLATE", "BIGTIFF=YES"],
    ];
    let mut rewritten = false;
    for (i, co) in variants.iter().enumerate() {
        let mut extra = vec![];
        for c in co.iter() {
            extra.extend(["--co", c]);
        }
        let args = ["-e", "b1; b2", "--ot", "UInt16", "--nodata", "0"];
        let fast = env.path(&format!("v{i}.tif"));
        let log = run_cog(&env, input.to_str().unwrap(), &args, &extra, &fast, false);
        assert!(
            log.contains("COG assembled"),
            "{co:?}: not assembled:\n{log}"
        );
        rewritten |= log.contains("front room rewritten");
        assert_valid_cog(&fast);
        let copy = env.path(&format!("v{i}_copy.tif"));
        run_cog(&env, input.to_str().unwrap(), &args, &extra, &copy, true);
        assert_eq!(info(&fast), info(&copy), "{co:?}: gdalinfo differs");
        assert_eq!(read(&fast).bands, read(&copy).bands, "{co:?}");
        for b in 1..=2 {
            assert_eq!(overviews(&fast, b), overviews(&copy, b), "{co:?} band {b}");
        }
    }
    // Compressed, these files are under 4 MB: the small-file placement.
    assert!(rewritten, "no variant took the rewrite placement");
    assert_no_temp(env.dir.path());
}

#[test]
fn assembled_cog_failing_mid_job_leaves_nothing() {
    let env = Env::new();
    // A 2048² tiled DEFLATE file whose last tile is garbage: the job fails
    // after the skeleton and the stage exist.
    python(
        r#"
import sys, numpy as np
from osgeo import gdal
p = sys.argv[1]
ds = gdal.GetDriverByName('GTiff').Create(p, 2048, 2048, 1, gdal.GDT_UInt16,
    ['TILED=YES', 'COMPRESS=DEFLATE'])
ds.GetRasterBand(1).WriteArray(np.random.default_rng(1).integers(0, 999, (2048, 2048)))
ds = None
ds = gdal.Open(p)
b = ds.GetRasterBand(1)
off = int(b.GetMetadataItem('BLOCK_OFFSET_7_7', 'TIFF'))
n = int(b.GetMetadataItem('BLOCK_SIZE_7_7', 'TIFF'))
ds = None
with open(p, 'r+b') as f:
    f.seek(off)
    f.write(bytes([0x55]) * n)
"#,
        &[env.path("bad.tif").to_str().unwrap()],
    );
    let out = env.path("out.tif");
    let run = env.run([
        "bad.tif",
        "-e",
        "b1",
        "--of",
        "COG",
        "-o",
        out.to_str().unwrap(),
    ]);
    run.fails(1);
    assert!(run.stderr().contains("bad.tif"), "{}", run.stderr());
    assert!(!out.exists());
    assert_no_temp(env.dir.path());
    assert_eq!(env.files(), vec!["bad.tif".to_string()]);
}

/// The three ways full-resolution blocks reach their place: in order with
/// the front room inserted (large output), rewritten (small output), and
/// staged out of order (`TILERUN_ASSEMBLY_MEM=0`, a test hook: every block
/// that arrives early is staged, and the stage lives on disk, not in
/// memory). All three give the same valid COG.
#[test]
fn assembled_cog_placements_agree() {
    let env = Env::new();
    python(
        r#"
import sys, numpy as np
from osgeo import gdal
ds = gdal.GetDriverByName('GTiff').Create(sys.argv[1], 2048, 2048, 1, gdal.GDT_Float32,
    ['TILED=YES', 'BLOCKXSIZE=256', 'BLOCKYSIZE=256'])
a = np.random.default_rng(3).standard_normal((2048, 2048)).astype('float32')
a[:300, :700] = -9999
ds.GetRasterBand(1).WriteArray(a)
ds.GetRasterBand(1).SetNoDataValue(-9999)
"#,
        &[env.path("noise.tif").to_str().unwrap()],
    );
    let input = env.path("noise.tif");
    let i = input.to_str().unwrap();
    let base = [
        "-e", "b1", "--ot", "Float32", "--nodata", "-9999", "-j", "2",
    ];
    let run = |name: &str, extra: &[&str], cap: Option<&str>| {
        let out = env.path(name);
        let mut cmd = env.cmd();
        cmd.arg(i).args(base).args(extra);
        cmd.args(["--of", "COG", "-v", "-o"]).arg(&out);
        if let Some(c) = cap {
            cmd.env("TILERUN_ASSEMBLY_MEM", c);
        }
        let r = Run(cmd.output().unwrap());
        r.ok();
        assert_valid_cog(&out);
        (out, r.stderr())
    };
    let (big, log) = run("big.tif", &["--co", "BLOCKSIZE=128"], None);
    assert!(log.contains("front room inserted"), "{log}");
    assert!(log.contains("; 0 full-resolution blocks staged"), "{log}");
    // 256-px windows over 128-px tiles: each window holds two tile rows,
    // so its second row arrives before the next window's first; with no
    // reorder room those blocks are staged.
    let (spill, log) = run(
        "spill.tif",
        &["--co", "BLOCKSIZE=128", "--window", "256"],
        Some("0"),
    );
    assert!(log.contains("COG assembled"), "{log}");
    assert!(!log.contains("; 0 full-resolution blocks staged"), "{log}");
    assert_eq!(read(&spill).bands, read(&big).bands);
    assert_eq!(overviews(&spill, 1), overviews(&big, 1));
    // The file holds exactly the blocks (plus framing) and the header: the
    // inserted front room wastes less than one filesystem block.
    let copy = env.path("copy.tif");
    let mut cmd = env.cmd();
    cmd.arg(i)
        .args(base)
        .args(["--co", "BLOCKSIZE=128", "--of", "COG", "-o"])
        .arg(&copy);
    cmd.env("TILERUN_COG_COPY", "1");
    Run(cmd.output().unwrap()).ok();
    let (a, b) = (
        std::fs::metadata(&big).unwrap().len(),
        std::fs::metadata(&copy).unwrap().len(),
    );
    assert!(a.abs_diff(b) < 8192, "assembled {a} bytes vs GDAL's {b}");
    assert_no_temp(env.dir.path());
}
