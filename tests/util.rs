//! A small harness: a temp dir per test, a `tilerun` command builder, and
//! raster reading through GDAL for independent checks.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gdal::Dataset;

pub const BIN: &str = env!("CARGO_BIN_EXE_tilerun");

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

pub fn corpus_dir() -> PathBuf {
    let d = root().join("../shared/corpus/rasterio");
    assert!(
        d.is_dir(),
        "the shared corpus is missing at {}",
        d.display()
    );
    d
}

pub fn corpus(name: &str) -> PathBuf {
    corpus_dir().join(name)
}

/// A temp dir that also runs commands with itself as the working directory,
/// so no stray ./config.toml or $TILERUN_CONFIG leaks in.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.dir.path())
            .env_remove("TILERUN_CONFIG")
            .env_remove("RUST_LOG")
            .env("GDAL_PAM_ENABLED", "NO");
        c
    }

    /// Run tilerun with `args`; returns the output for assertions.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.cmd().args(args).output().expect("spawn tilerun");
        Run(out)
    }

    /// Names in the temp dir, sorted.
    pub fn files(&self) -> Vec<String> {
        list(self.dir.path())
    }

    pub fn write(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, body).unwrap();
        p
    }
}

pub fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code(), 0, "tilerun failed:\n{}", self.stderr());
        self
    }
    #[track_caller]
    pub fn fails(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "expected exit {code}; stderr:\n{}",
            self.stderr()
        );
        self
    }
}

/// A raster read fully into f64, band by band.
#[derive(Debug, Clone)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub bands: Vec<Vec<f64>>,
    /// GDAL's mask per band (0 = invalid): nodata, alpha or internal mask.
    pub masks: Vec<Vec<u8>>,
    pub nodata: Vec<Option<f64>>,
    pub descriptions: Vec<String>,
    pub types: Vec<String>,
    pub gt: Option<[f64; 6]>,
    pub wkt: String,
    pub block: (usize, usize),
}

pub fn read(path: &Path) -> Raster {
    let ds = Dataset::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let (width, height) = ds.raster_size();
    let mut r = Raster {
        width,
        height,
        bands: vec![],
        masks: vec![],
        nodata: vec![],
        descriptions: vec![],
        types: vec![],
        gt: ds.geo_transform().ok(),
        wkt: ds.projection(),
        block: ds.rasterband(1).unwrap().block_size(),
    };
    use gdal::Metadata;
    for b in ds.rasterbands() {
        let b = b.unwrap();
        let buf = b
            .read_as::<f64>((0, 0), (width, height), (width, height), None)
            .unwrap();
        r.bands.push(buf.data().to_vec());
        let m = b.open_mask_band().unwrap();
        let mb = m
            .read_as::<u8>((0, 0), (width, height), (width, height), None)
            .unwrap();
        r.masks.push(mb.data().to_vec());
        r.nodata.push(b.no_data_value());
        r.descriptions.push(b.description().unwrap_or_default());
        r.types.push(b.band_type().name());
    }
    r
}

/// Dataset-level metadata item.
pub fn meta_item(path: &Path, key: &str) -> Option<String> {
    use gdal::Metadata;
    Dataset::open(path).unwrap().metadata_item(key, "")
}

/// True when `/usr/bin/<tool>` (a GDAL oracle) is installed.
pub fn have(tool: &str) -> bool {
    Path::new("/usr/bin").join(tool).exists()
}

/// Run an external oracle tool and insist it succeeds.
#[track_caller]
pub fn oracle(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .env("GDAL_PAM_ENABLED", "NO")
        .output()
        .expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// No hidden temp outputs left behind.
#[track_caller]
pub fn assert_no_temp(dir: &Path) {
    let stray: Vec<_> = list(dir)
        .into_iter()
        .filter(|n| n.contains(".tilerun-tmp-"))
        .collect();
    assert!(stray.is_empty(), "temp files left: {stray:?}");
}

/// Same CRS by OSR's definition. GeoTIFF stores CRSs as GeoKeys, so WKT text
/// can change on any GTiff round trip (gdal_translate's too), e.g. for
/// ESRI-flavoured WKT.
#[track_caller]
pub fn assert_same_crs(a: &str, b: &str, what: &str) {
    if a == b {
        return;
    }
    let (sa, sb) = (
        gdal::spatial_ref::SpatialRef::from_wkt(a).unwrap(),
        gdal::spatial_ref::SpatialRef::from_wkt(b).unwrap(),
    );
    assert!(sa == sb, "{what}: CRS differs:\n{a}\n{b}");
}
