//! One-shot runs: results against independent computations and gdal_calc.py,
//! invariance under window size and worker count, metadata fidelity.

use std::path::Path;

use crate::util::*;

const NDVI: &str = "(b4 - b3) / (b4 + b3)";

/// NDVI computed here, independently: f64 maths, nodata where either band is
/// nodata or the sum is zero, then stored as f32.
fn ndvi_oracle(src: &Raster, nodata: f64) -> Vec<f64> {
    let (r, n) = (&src.bands[2], &src.bands[3]);
    (0..r.len())
        .map(|i| {
            let bad =
                src.nodata[2] == Some(r[i]) || src.nodata[3] == Some(n[i]) || r[i] + n[i] == 0.0;
            if bad {
                nodata as f32 as f64
            } else {
                ((n[i] - r[i]) / (n[i] + r[i])) as f32 as f64
            }
        })
        .collect()
}

#[test]
fn ndvi_matches_an_independent_computation() {
    let env = Env::new();
    let out = env.path("ndvi.tif");
    env.run([
        fixture("scene_small.tif").as_os_str(),
        "--expr".as_ref(),
        NDVI.as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ])
    .ok();
    let src = read(&fixture("scene_small.tif"));
    let got = read(&out);
    assert_eq!(got.types, vec!["Float32"]);
    let nd = got.nodata[0].expect("output nodata is set");
    let want = ndvi_oracle(&src, nd);
    assert_eq!(got.bands[0], want);
    // The west stripe is nodata in the input, so it must be nodata here.
    assert!(got.bands[0][0] == nd as f32 as f64);
    assert!(
        want.iter().any(|v| *v != nd as f32 as f64),
        "oracle is not all nodata"
    );
    assert_no_temp(env.dir.path());
}

#[test]
fn ndvi_agrees_with_gdal_calc() {
    if !have("gdal_calc.py") {
        eprintln!("SKIP: gdal_calc.py not installed");
        return;
    }
    let env = Env::new();
    let src = fixture("scene_small.tif");
    let ours = env.path("ours.tif");
    let theirs = env.path("theirs.tif");
    env.run([
        src.as_os_str(),
        "--expr".as_ref(),
        NDVI.as_ref(),
        "--nodata".as_ref(),
        "-9999".as_ref(),
        "-o".as_ref(),
        ours.as_os_str(),
    ])
    .ok();
    let s = src.to_str().unwrap();
    oracle(
        "/usr/bin/gdal_calc.py",
        &[
            "-A",
            s,
            "--A_band=4",
            "-B",
            s,
            "--B_band=3",
            "--calc=(A.astype(numpy.float64)-B)/(A.astype(numpy.float64)+B)",
            "--type=Float32",
            "--NoDataValue=-9999",
            "--quiet",
            "--overwrite",
            "--outfile",
            theirs.to_str().unwrap(),
        ],
    );
    let (a, b) = (read(&ours), read(&theirs));
    let mut compared = 0;
    for (i, (x, y)) in a.bands[0].iter().zip(&b.bands[0]).enumerate() {
        // gdal_calc writes inf/NaN where the denominator is zero; we write nodata.
        if !y.is_finite() {
            assert_eq!(*x, -9999.0, "pixel {i}");
            continue;
        }
        assert_eq!(*x == -9999.0, *y == -9999.0, "nodata mask differs at {i}");
        assert!((x - y).abs() <= 1e-6, "pixel {i}: {x} vs {y}");
        compared += 1;
    }
    assert!(compared > 50_000, "only {compared} valid pixels compared");
}

fn checksum_run(env: &Env, src: &Path, extra: &[&str], name: &str) -> (Raster, u64) {
    let out = env.path(name);
    let mut args: Vec<String> = vec![
        src.to_string_lossy().into(),
        "--expr".into(),
        NDVI.into(),
        "-o".into(),
    ];
    args.push(out.to_string_lossy().into());
    args.extend(extra.iter().map(|s| s.to_string()));
    env.run(&args).ok();
    let size = std::fs::metadata(&out).unwrap().len();
    (read(&out), size)
}

#[test]
fn result_is_identical_at_every_window_and_worker_count() {
    let env = Env::new();
    let src = fixture("scene_small.tif");
    let (base, base_size) = checksum_run(&env, &src, &["--workers", "1"], "base.tif");
    for workers in ["1", "2", "3"] {
        for window in ["64", "100", "512"] {
            let name = format!("w{workers}_{window}.tif");
            let (r, size) = checksum_run(
                &env,
                &src,
                &["--workers", workers, "--window", window],
                &name,
            );
            assert_eq!(r.bands, base.bands, "workers {workers} window {window}");
            // Tiles are written once, whole: odd windows do not bloat the file.
            let ratio = size as f64 / base_size as f64;
            assert!(
                (0.99..=1.01).contains(&ratio),
                "{name}: {size} vs {base_size} bytes"
            );
        }
    }
}

#[test]
fn georeferencing_crs_nodata_and_metadata_survive() {
    let env = Env::new();
    let src_path = fixture("scene_small.tif");
    let out = env.path("o.tif");
    env.run([
        src_path.as_os_str(),
        "-e".as_ref(),
        "b1; b2".as_ref(),
        "--ot".as_ref(),
        "UInt16".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ])
    .ok();
    let (src, got) = (read(&src_path), read(&out));
    assert_eq!(got.gt, src.gt);
    assert!(got.gt.is_some());
    assert_eq!(got.wkt, src.wkt);
    assert!(!got.wkt.is_empty());
    assert_eq!(got.bands.len(), 2);
    // Identity expressions reproduce the bands, nodata included (b1 nodata 0
    // becomes the UInt16 default nodata, 65535).
    for b in 0..2 {
        for (i, (&x, &y)) in got.bands[b].iter().zip(&src.bands[b]).enumerate() {
            let want = if Some(y) == src.nodata[b] { 65535.0 } else { y };
            assert_eq!(x, want, "band {} pixel {i}", b + 1);
        }
    }
    assert_eq!(got.nodata, vec![Some(65535.0); 2]);
    assert_eq!(got.descriptions, vec!["b1".to_string(), "b2".to_string()]);
    assert_eq!(meta_item(&out, "TILERUN_OP").as_deref(), Some("expr"));
    let src_meta = gdal::Dataset::open(&src_path).unwrap();
    use gdal::Metadata;
    for item in src_meta.metadata_domain("").unwrap_or_default() {
        let (k, v) = item.split_once('=').unwrap();
        assert_eq!(meta_item(&out, k).as_deref(), Some(v), "metadata {k}");
    }
}

#[test]
fn integer_output_rounds_and_clamps() {
    let env = Env::new();
    let out = env.path("o.tif");
    // b1 of the fixture spans well past 255 once scaled: clamps at 255;
    // b1 / 1000 rounds half away from zero; 0 - b1 clamps onto nodata.
    env.run([
        fixture("scene_small.tif").as_os_str(),
        "-e".as_ref(),
        "b1 * 10; b1 / 1000 - 0.5; 0 - b1".as_ref(),
        "--ot".as_ref(),
        "Byte".as_ref(),
        "--nodata".as_ref(),
        "0".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ])
    .ok();
    let src = read(&fixture("scene_small.tif"));
    let got = read(&out);
    for i in 0..src.bands[0].len() {
        let v = src.bands[0][i];
        if Some(v) == src.nodata[0] {
            assert_eq!(got.bands[0][i], 0.0);
            continue;
        }
        // 0 is the output nodata: valid results that round or clamp to it
        // take the nearest other value, 1.
        let round = |x: f64| x.round().clamp(0.0, 255.0).max(1.0);
        assert_eq!(got.bands[0][i], round(v * 10.0), "pixel {i}");
        assert_eq!(got.bands[1][i], round(v / 1000.0 - 0.5), "pixel {i}");
        assert_eq!(got.bands[2][i], 1.0, "pixel {i}");
    }
}

#[test]
fn recipe_from_config_names_output_from_template_and_prints_json() {
    let env = Env::new();
    let input = env.path("scene.tif");
    std::fs::copy(fixture("scene_small.tif"), &input).unwrap();
    std::fs::copy(root().join("config.toml"), env.path("config.toml")).unwrap();
    let run = env.run(["scene.tif", "--recipe", "ndvi", "--json"]);
    run.ok();
    let out = env.path("scene_ndvi.tif");
    assert!(out.exists(), "files: {:?}", env.files());
    let line: serde_json::Value = serde_json::from_str(run.stdout().trim()).expect("one JSON line");
    assert_eq!(line["windows"].as_u64(), Some(1));
    assert_eq!(line["pixels"].as_u64(), Some(300 * 200));
    for k in ["input", "output", "seconds", "mb_per_s"] {
        assert!(!line[k].is_null(), "missing {k}: {line}");
    }
    let got = read(&out);
    assert_eq!(got.nodata[0], Some(-9999.0));
    assert_eq!(got.bands[0], ndvi_oracle(&read(&input), -9999.0));
    assert_eq!(meta_item(&out, "TILERUN_RECIPE").as_deref(), Some("ndvi"));
}

#[test]
fn config_lookup_order_and_flag_overrides() {
    let env = Env::new();
    std::fs::copy(fixture("scene_small.tif"), env.path("s.tif")).unwrap();
    env.write("config.toml", "[recipes.x]\nexpr = 'b1'\not = 'UInt16'\n");
    let other = env.write("other.toml", "[recipes.x]\nexpr = 'b2'\not = 'Int32'\n");
    // ./config.toml
    env.run(["s.tif", "-r", "x", "-o", "a.tif"]).ok();
    assert_eq!(read(&env.path("a.tif")).types, vec!["UInt16"]);
    // $TILERUN_CONFIG beats ./config.toml
    let out = env
        .cmd()
        .args(["s.tif", "-r", "x", "-o", "b.tif"])
        .env("TILERUN_CONFIG", &other)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(read(&env.path("b.tif")).types, vec!["Int32"]);
    // --config beats both; --ot beats the recipe.
    env.run([
        "s.tif",
        "-r",
        "x",
        "-o",
        "c.tif",
        "--config",
        "other.toml",
        "--ot",
        "Float64",
    ])
    .ok();
    let c = read(&env.path("c.tif"));
    assert_eq!(c.types, vec!["Float64"]);
    assert_eq!(
        c.bands[0][150 * 300 + 150],
        read(&env.path("s.tif")).bands[1][150 * 300 + 150]
    );
    // `window = 0` is automatic in the config and on the command line
    // alike; `--window 0` takes a configured window back to automatic.
    env.write("w.toml", "[engine]\nwindow = 16\n");
    let windows = |extra: &[&str]| -> u64 {
        let mut args = vec!["s.tif", "-e", "b1", "-o", "w.tif", "--overwrite", "--json"];
        args.extend(extra);
        let r = env.run(args);
        let v: serde_json::Value = serde_json::from_str(r.ok().stdout().trim()).unwrap();
        v["windows"].as_u64().unwrap()
    };
    let auto = windows(&[]);
    assert_eq!(windows(&["--window", "0"]), auto);
    // 300×200 px in 16-px windows.
    assert_eq!(windows(&["--config", "w.toml"]), 19 * 13);
    assert_eq!(windows(&["--config", "w.toml", "--window", "0"]), auto);
}

#[test]
fn striped_input_gets_full_width_windows_and_correct_values() {
    let env = Env::new();
    let out = env.path("o.tif");
    let src_path = fixture("striped.tif");
    env.run([
        src_path.as_os_str(),
        "-e".as_ref(),
        "b1 * 2 + 1".as_ref(),
        "--ot".as_ref(),
        "Float64".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
        "--json".as_ref(),
    ])
    .ok();
    let (src, got) = (read(&src_path), read(&out));
    assert_eq!(src.block.0, src.width, "fixture should be striped");
    for (i, (&x, &y)) in got.bands[0].iter().zip(&src.bands[0]).enumerate() {
        if Some(y) == src.nodata[0] {
            assert_eq!(Some(x), got.nodata[0]);
        } else {
            assert_eq!(x, y * 2.0 + 1.0, "pixel {i}");
        }
    }
}

#[test]
fn one_pixel_wide_and_tall_rasters() {
    let env = Env::new();
    for name in ["tiny_col.tif", "tiny_row.tif"] {
        let out = env.path(&format!("o_{name}"));
        env.run([
            fixture(name).as_os_str(),
            "-e".as_ref(),
            "b1 + 1".as_ref(),
            "--ot".as_ref(),
            "Float64".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
            "--window".as_ref(),
            "7".as_ref(),
        ])
        .ok();
        let (src, got) = (read(&fixture(name)), read(&out));
        assert_eq!((got.width, got.height), (src.width, src.height));
        for (&x, &y) in got.bands[0].iter().zip(&src.bands[0]) {
            if Some(y) != src.nodata[0] {
                assert_eq!(x, y + 1.0);
            }
        }
    }
}

#[test]
fn every_block_layout_and_codec_gives_the_same_pixels() {
    // Workers compress blocks themselves for portable codecs and the writer
    // appends them with libtiff; other layouts go through GDAL. All must
    // read back identically.
    let env = Env::new();
    let src = fixture("scene_small.tif");
    let expr = "b1; b2 * 2; b4 - b3";
    let run = |name: &str, co: &[&str]| {
        let out = env.path(name);
        let mut args = vec![
            src.to_str().unwrap(),
            "-e",
            expr,
            "--ot",
            "Int32",
            "-o",
            out.to_str().unwrap(),
        ];
        for c in co {
            args.extend(["--co", c]);
        }
        env.run(&args).ok();
        read(&out)
    };
    let base = run("base.tif", &[]);
    let variants: [&[&str]; 8] = [
        &["INTERLEAVE=BAND"],
        &["TILED=NO"],
        &["TILED=NO", "BLOCKYSIZE=7", "INTERLEAVE=BAND"],
        &["COMPRESS=ZSTD"],
        &["COMPRESS=LZW", "PREDICTOR=1"],
        &["COMPRESS=NONE"],
        &["BLOCKXSIZE=64", "BLOCKYSIZE=32"],
        &["COMPRESS=PACKBITS", "BIGTIFF=YES"],
    ];
    for (i, co) in variants.iter().enumerate() {
        let got = run(&format!("v{i}.tif"), co);
        assert!(got.bands == base.bands, "pixels differ with --co {co:?}");
    }
    assert_no_temp(env.dir.path());
}
