//! Whole deliveries through a recipe's `inputs` patterns: loose files, a
//! folder (the Landsat one, a `.SAFE` tree), and archives (`.tar` and
//! `.zip` read in place, `.tar.gz` spooled) all give the same product as
//! naming the files by hand; and every bad delivery of the issue's list is
//! a clear error naming the member, with no output and nothing left behind.

use std::path::{Path, PathBuf};

use crate::deliveries::{deliveries, landsat, s2, LANDSAT, SAFE};
use crate::inputs::{landsat_args, s2_args, NDVI_QA};
use crate::util::*;

mod fixed;

pub fn recipes() -> String {
    format!(
        "[recipes.landsat_ndvi]\n\
         inputs = {{ red = '*_SR_B4.TIF', nir = '*_SR_B5.TIF', qa = '*_QA_PIXEL.TIF' }}\n\
         unscale = true\nexpr = '{NDVI_QA}'\not = 'Float32'\nnodata = -9999\n\
         [recipes.s2_ndvi]\nexpr = '{}'\not = 'Float32'\nnodata = -9999\n\
         [recipes.s2_ndvi.inputs]\n\
         red = {{ pattern = '*_B04_10m.jp2', nodata = 0, scale = 0.0001, offset = -0.1 }}\n\
         nir = {{ pattern = '*_B08_10m.jp2', nodata = 0, scale = 0.0001, offset = -0.1 }}\n\
         scl = {{ pattern = '*_SCL_20m.jp2', nodata = 0 }}\n",
        crate::inputs::S2_EXPR
    )
}

pub fn config(env: &Env, extra: &str) -> PathBuf {
    env.write("c.toml", &format!("{extra}\n{}", recipes()))
}

pub fn run_recipe(
    env: &Env,
    cfg: &Path,
    recipe: &str,
    inputs: &[&Path],
    out: Option<&Path>,
) -> Run {
    let mut args: Vec<&std::ffi::OsStr> = inputs.iter().map(|p| p.as_os_str()).collect();
    args.extend([
        "--config".as_ref(),
        cfg.as_os_str(),
        "--recipe".as_ref(),
        recipe.as_ref(),
    ]);
    if let Some(o) = out {
        args.extend(["-o".as_ref(), o.as_os_str()]);
    }
    env.run(args)
}

fn landsat_by_hand(env: &Env) -> Raster {
    let out = env.path("hand.tif");
    env.run(landsat_args(&out)).ok();
    read(&out)
}

/// No spool folder or other hidden leftover in the test's folder.
#[track_caller]
fn assert_no_hidden(env: &Env) {
    let stray: Vec<String> = env
        .files()
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn a_landsat_delivery_as_files_folder_tar_and_tar_gz_gives_one_product() {
    let env = Env::new();
    let cfg = config(&env, "[input]\nallowed_drivers = ['GTiff']");
    let want = landsat_by_hand(&env);
    let d = deliveries();
    let files = [
        landsat("QA_PIXEL.TIF"),
        landsat("SR_B5.TIF"),
        landsat("SR_B4.TIF"),
        landsat("MTL.json"),
    ];
    let tar = d.join(format!("{LANDSAT}.tar"));
    let tgz = d.join(format!("{LANDSAT}.tar.gz"));
    let folder = d.join(LANDSAT);
    let cases: [(&str, Vec<&Path>); 4] = [
        ("files", files.iter().map(PathBuf::as_path).collect()),
        ("folder", vec![&folder]),
        ("tar", vec![&tar]),
        ("tgz", vec![&tgz]),
    ];
    for (what, inputs) in cases {
        let out = env.path(&format!("{what}.tif"));
        run_recipe(&env, &cfg, "landsat_ndvi", &inputs, Some(&out)).ok();
        assert!(read(&out).bands == want.bands, "{what}: pixels differ");
        let m = meta_item(&out, "TILERUN_INPUT_NIR").unwrap();
        assert!(
            m.starts_with(&format!("{LANDSAT}_SR_B5.TIF")),
            "{what}: {m}"
        );
    }
    // Without -o the output is named by the set key, beside the delivery:
    // here in a copy of the tar, so nothing is written among the fixtures.
    let mine = env.path("drop.tar");
    std::fs::copy(&tar, &mine).unwrap();
    run_recipe(&env, &cfg, "landsat_ndvi", &[&mine], None).ok();
    assert!(
        env.path(&format!("{LANDSAT}_landsat_ndvi.tif")).exists(),
        "{:?}",
        env.files()
    );
    // No spool folder, no GDAL sidecar left anywhere.
    assert_no_hidden(&env);
    assert!(!list(&d).iter().any(|n| n.ends_with(".properties")));
}

#[test]
fn a_sentinel2_safe_folder_and_its_zip_give_the_hand_made_product() {
    let env = Env::new();
    let cfg = config(&env, "");
    let hand = env.path("hand.tif");
    env.run(s2_args(&hand)).ok();
    let want = read(&hand);
    let d = deliveries();
    for (what, input) in [
        ("safe", d.join(SAFE)),
        ("zip", d.join(format!("{SAFE}.zip"))),
    ] {
        let out = env.path(&format!("{what}.tif"));
        run_recipe(&env, &cfg, "s2_ndvi", &[&input], Some(&out)).ok();
        assert!(read(&out).bands == want.bands, "{what}: pixels differ");
        let scl = meta_item(&out, "TILERUN_INPUT_SCL").unwrap();
        assert!(
            scl.contains("_SCL_20m.jp2") && scl.contains("2× up by nearest"),
            "{scl}"
        );
    }
}

/// A copy of the .SAFE tree in `env`, for breaking.
pub fn safe_copy(env: &Env, name: &str) -> PathBuf {
    let to = env.path(name);
    oracle(
        "/bin/cp",
        &[
            "-r",
            deliveries().join(SAFE).to_str().unwrap(),
            to.to_str().unwrap(),
        ],
    );
    to
}

#[track_caller]
pub fn refused(r: &Run, code: i32, needles: &[&str]) {
    let e = r.fails(code).stderr();
    for n in needles {
        assert!(e.contains(n), "no '{n}' in: {e}");
    }
    assert_eq!(e.lines().count(), 1, "one line: {e}");
}

#[test]
fn bad_deliveries_are_refused_naming_the_member() {
    let env = Env::new();
    let cfg = config(&env, "");
    let out = env.path("o.tif");
    // A .SAFE without the band the recipe names.
    let safe = safe_copy(&env, "a.SAFE");
    let scl = std::fs::read_dir(&safe).unwrap().count() > 0;
    assert!(scl);
    let scl_file = s2("R20m", "SCL_20m");
    let rel = scl_file.strip_prefix(deliveries().join(SAFE)).unwrap();
    std::fs::remove_file(safe.join(rel)).unwrap();
    let r = run_recipe(&env, &cfg, "s2_ndvi", &[&safe], Some(&out));
    refused(&r, 1, &["input 'scl'", "*_SCL_20m.jp2", "no file matches"]);
    // Two files for one name: a second delivery's band in the same folder.
    let two = safe_copy(&env, "b.SAFE");
    let twin = two
        .join(rel)
        .with_file_name("T33UUP_20231016T101019_SCL_20m.jp2");
    std::fs::copy(&scl_file, &twin).unwrap();
    let r = run_recipe(&env, &cfg, "s2_ndvi", &[&two], Some(&out));
    refused(
        &r,
        1,
        &[
            "input 'scl'",
            "2 files match",
            "T33UUP_20231016T101019_SCL_20m.jp2",
        ],
    );
    // Files of two deliveries, one each.
    let other = env.path("LC09_OTHER_QA_PIXEL.TIF");
    std::fs::copy(landsat("QA_PIXEL.TIF"), &other).unwrap();
    let (b4, b5) = (landsat("SR_B4.TIF"), landsat("SR_B5.TIF"));
    let r = run_recipe(&env, &cfg, "landsat_ndvi", &[&b4, &b5, &other], Some(&out));
    refused(&r, 1, &["different deliveries", "LC09_OTHER"]);
    assert!(!out.exists());
}

#[test]
fn broken_archives_and_members_are_refused_naming_them() {
    let env = Env::new();
    let cfg = config(&env, "");
    let out = env.path("o.tif");
    let d = deliveries();
    let tar = std::fs::read(d.join(format!("{LANDSAT}.tar"))).unwrap();
    // Truncated downloads: a tar cut inside the last member, a cut .tar.gz, a cut zip.
    let cut = env.path("cut.tar");
    std::fs::write(&cut, &tar[..tar.len() - 40_000]).unwrap();
    let r = run_recipe(&env, &cfg, "landsat_ndvi", &[&cut], Some(&out));
    refused(&r, 1, &["cut.tar", "_SR_B5.TIF", "truncated"]);
    let tgz = std::fs::read(d.join(format!("{LANDSAT}.tar.gz"))).unwrap();
    let cutgz = env.path("cut.tar.gz");
    std::fs::write(&cutgz, &tgz[..tgz.len() / 2]).unwrap();
    let r = run_recipe(&env, &cfg, "landsat_ndvi", &[&cutgz], Some(&out));
    refused(&r, 1, &["cut.tar.gz", "truncated or damaged"]);
    let zip = std::fs::read(d.join(format!("{SAFE}.zip"))).unwrap();
    let cutzip = env.path("cut.SAFE.zip");
    std::fs::write(&cutzip, &zip[..zip.len() - 100]).unwrap();
    let r = run_recipe(&env, &cfg, "s2_ndvi", &[&cutzip], Some(&out));
    refused(&r, 1, &["cut.SAFE.zip", "zip"]);
    // A zip bomb: members claiming more than the limit.
    let small = config(&env, "[limits]\nmax_member_bytes = 1000");
    let r = run_recipe(
        &env,
        &small,
        "s2_ndvi",
        &[&d.join(format!("{SAFE}.zip"))],
        Some(&out),
    );
    refused(&r, 1, &["max_member_bytes", "member "]);
    // A member that is garbage, and one that is a VRT.
    let folder = env.path(LANDSAT);
    std::fs::create_dir(&folder).unwrap();
    for f in ["SR_B4.TIF", "SR_B5.TIF", "QA_PIXEL.TIF"] {
        std::fs::copy(landsat(f), folder.join(format!("{LANDSAT}_{f}"))).unwrap();
    }
    let qa = folder.join(format!("{LANDSAT}_QA_PIXEL.TIF"));
    std::fs::write(&qa, b"II*\0garbage").unwrap();
    let r = run_recipe(&env, &cfg, "landsat_ndvi", &[&folder], Some(&out));
    refused(&r, 1, &["input 'qa'", "_QA_PIXEL.TIF"]);
    let vrt = format!(
        "<VRTDataset rasterXSize='253' rasterYSize='199'><VRTRasterBand dataType='UInt16' band='1'>\
         <SimpleSource><SourceFilename>{}</SourceFilename></SimpleSource></VRTRasterBand></VRTDataset>",
        landsat("QA_PIXEL.TIF").display()
    );
    std::fs::write(&qa, vrt).unwrap();
    let r = run_recipe(&env, &cfg, "landsat_ndvi", &[&folder], Some(&out));
    refused(&r, 1, &["input 'qa'", "allowed drivers"]);
    assert!(!out.exists());
    assert_no_hidden(&env);
}

/// Packs made by everyday tools: `tar -C dir .` (members named `./NAME`),
/// a zip made on macOS (an AppleDouble `__MACOSX/…/._NAME` twin of every
/// file, matching the same patterns) and a folder copied from a Mac
/// (`._NAME`, `.DS_Store`, a hidden folder).
const PACK: &str = r#"
import os, shutil, sys, tarfile, zipfile
landsat, safe, out = sys.argv[1:4]
with tarfile.open(out + '/dot.tar', 'w') as t:
    t.add(landsat, arcname='.')
assert tarfile.open(out + '/dot.tar').getnames()[1].startswith('./')
with zipfile.ZipFile(out + '/mac.SAFE.zip', 'w') as z:
    for d, _, fs in os.walk(safe):
        for f in fs:
            rel = os.path.join(os.path.basename(safe), os.path.relpath(os.path.join(d, f), safe))
            z.write(os.path.join(d, f), rel)
            z.writestr('__MACOSX/' + os.path.join(os.path.dirname(rel), '._' + f), b'\0\5\26\7')
mac = shutil.copytree(landsat, out + '/mac')
for f in os.listdir(landsat):
    open(os.path.join(mac, '._' + f), 'wb').write(b'\0\5\26\7')
open(mac + '/.DS_Store', 'wb').write(b'\0\0\0\1Bud1')
os.mkdir(mac + '/.Trashes')
shutil.copy(os.path.join(landsat, os.listdir(landsat)[0]), mac + '/.Trashes')
"#;

#[test]
fn deliveries_packed_by_everyday_tools_give_the_same_product() {
    let env = Env::new();
    let cfg = config(&env, "");
    let d = deliveries();
    let dir = env.dir.path().to_str().unwrap();
    crate::publish::python(
        PACK,
        &[
            d.join(LANDSAT).to_str().unwrap(),
            d.join(SAFE).to_str().unwrap(),
            dir,
        ],
    );
    let want = landsat_by_hand(&env);
    for what in ["dot.tar", "mac"] {
        let out = env.path(&format!("{what}.tif"));
        run_recipe(&env, &cfg, "landsat_ndvi", &[&env.path(what)], Some(&out)).ok();
        assert!(read(&out).bands == want.bands, "{what}: pixels differ");
    }
    let hand = env.path("s2_hand.tif");
    env.run(s2_args(&hand)).ok();
    let out = env.path("mac_s2.tif");
    let zip = env.path("mac.SAFE.zip");
    run_recipe(&env, &cfg, "s2_ndvi", &[&zip], Some(&out)).ok();
    assert!(
        read(&out).bands == read(&hand).bands,
        "mac zip: pixels differ"
    );
}
