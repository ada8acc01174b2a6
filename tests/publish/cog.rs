//! COG output validates (GDAL's validator, per-tile checks) for several
//! types and sizes, overviews follow the documented defaults, and their
//! values are what gdaladdo computes from the same full resolution.

use super::*;

/// Expected full-resolution value at `i`: the input's, or nodata where
/// GDAL's mask says invalid; a valid value equal to the output nodata is
/// moved off it, to a neighbour that reads as valid (README, "Types").
fn identity_ok(src: &Raster, got: &Raster, b: usize, nodata: f64, name: &str) {
    for i in 0..src.bands[b].len() {
        if src.masks[b][i] != 0 && src.bands[b][i] == nodata {
            let g = got.bands[b][i];
            let moved = got.masks[b][i] != 0 && g != nodata && (g - nodata).abs() <= 1.0;
            assert!(
                moved,
                "{name} band {b} pixel {i}: valid {nodata} stored as {g}"
            );
            continue;
        }
        let want = if src.masks[b][i] == 0 {
            nodata
        } else {
            src.bands[b][i]
        };
        assert_eq!(got.bands[b][i], want, "{name} band {b} pixel {i}");
    }
}

#[test]
fn cogs_validate_for_several_types_and_sizes() {
    let env = Env::new();
    let world = corpus("world.byte.tif");
    let alpha = corpus("alpha.tif");
    let rgba16 = corpus("RGBA.uint16.tif");
    let cases: Vec<(&str, std::path::PathBuf, Vec<&str>)> = vec![
        // Geographic Byte, 2880×1200: three automatic levels.
        (
            "world",
            world,
            vec!["-e", "b1", "--ot", "Byte", "--nodata", "0"],
        ),
        // One pixel wide (1×29 Float32) and one pixel tall.
        (
            "col",
            fixture("tiny_col.tif"),
            vec!["-e", "b1", "--ot", "Float64"],
        ),
        (
            "row",
            fixture("tiny_row.tif"),
            vec!["-e", "b1", "--ot", "Int16", "--nodata", "-32768"],
        ),
        // UInt16 with an alpha band: three bands, one automatic level.
        (
            "rgba16",
            rgba16,
            vec!["-e", "b1; b2; b3", "--ot", "UInt16", "--nodata", "0"],
        ),
        // Float32 DEM smaller than a tile, with an explicit level.
        (
            "dem",
            fixture("dem_small.tif"),
            vec![
                "-e",
                "b1",
                "--overviews",
                "2",
                "--ot",
                "Float32",
                "--nodata",
                "-9999",
            ],
        ),
        // 32-bit integers.
        (
            "u32",
            fixture("dem_small.tif"),
            vec!["-e", "b1", "--ot", "UInt32", "--nodata", "0"],
        ),
        (
            "i32",
            fixture("dem_small.tif"),
            vec!["-e", "b1", "--ot", "Int32", "--nodata", "-1"],
        ),
        // RGB Byte from an RGBA file through an identity stretch.
        (
            "alpha",
            alpha,
            vec![
                "--op",
                "rescale",
                "--set",
                "in=0,255",
                "--set",
                "out=0,255",
                "--band",
                "1,2,3",
            ],
        ),
    ];
    for (name, input, args) in &cases {
        let out = env.path(&format!("{name}.tif"));
        let mut all = vec![input.to_str().unwrap()];
        all.extend(args.iter());
        all.extend(["--of", "COG", "-o", out.to_str().unwrap()]);
        ok(&env, &all);
        assert_valid_cog(&out);
        let (src, got) = (read(input), read(&out));
        assert_eq!((got.width, got.height), (src.width, src.height), "{name}");
        assert_eq!(got.gt, src.gt, "{name}");
        let nodata = got.nodata[0].expect("output nodata is always set");
        if args.contains(&"UInt32") || args.contains(&"Int32") || args.contains(&"Int16") {
            for (i, (&g, &s)) in got.bands[0].iter().zip(&src.bands[0]).enumerate() {
                let want = if src.masks[0][i] == 0 {
                    nodata
                } else {
                    s.round()
                };
                let (lo, hi) = if args.contains(&"UInt32") {
                    (0.0, 4294967295.0)
                } else if args.contains(&"Int16") {
                    (-32768.0, 32767.0)
                } else {
                    (-2147483648.0, 2147483647.0)
                };
                let want = if src.masks[0][i] == 0 {
                    want
                } else {
                    want.clamp(lo, hi)
                };
                assert_eq!(g, want, "{name} pixel {i}");
            }
        } else {
            for b in 0..got.bands.len() {
                identity_ok(&src, &got, b, nodata, name);
            }
        }
        let sizes: Vec<_> = overviews(&out, 1).into_iter().map(|(s, _)| s).collect();
        let want = if *name == "dem" {
            vec![(src.width.div_ceil(2), src.height.div_ceil(2))]
        } else {
            expected_auto_sizes(src.width, src.height)
        };
        assert_eq!(sizes, want, "{name}: overview sizes");
    }
    assert!(overviews(&env.path("world.tif"), 1).len() == 3);
    assert_no_temp(env.dir.path());
}

/// The oracle: the same full resolution written as plain GTiff, then
/// gdaladdo with the given method and levels.
fn gdaladdo_oracle(env: &Env, args: &[&str], method: &str, levels: &[&str]) -> std::path::PathBuf {
    let plain = env.path(&format!("plain_{method}_{}.tif", levels.join("_")));
    let mut all = args.to_vec();
    all.extend(["-o", plain.to_str().unwrap()]);
    ok(env, &all);
    let mut addo = vec!["-q", "-r", method, plain.to_str().unwrap()];
    addo.extend(levels);
    oracle("gdaladdo", &addo);
    plain
}

#[test]
fn overview_values_match_gdaladdo_average_and_mode() {
    let env = Env::new();
    let world = corpus("world.byte.tif");
    let w = world.to_str().unwrap();
    // Continuous data: average by default, levels 2,4,8 for 2880×1200.
    let base = [w, "-e", "b1 * 1.5", "--ot", "Float32"];
    let cog = env.path("avg.tif");
    let mut args = base.to_vec();
    args.extend(["--of", "COG", "-o", cog.to_str().unwrap()]);
    ok(&env, &args);
    assert_valid_cog(&cog);
    let want = gdaladdo_oracle(&env, &base, "average", &["2", "4", "8"]);
    assert_eq!(overviews(&cog, 1), overviews(&want, 1));
    assert_eq!(
        meta_item(&cog, "TILERUN_OVERVIEWS").as_deref(),
        Some("2,4,8 average")
    );
    // Classes: reclass declares mode.
    let classes = [
        w,
        "--op",
        "reclass",
        "--set",
        "rules=[0,64):1; [64,128):2; [128,256):3",
    ];
    let cog = env.path("mode.tif");
    let mut args = classes.to_vec();
    args.extend(["--of", "COG", "-o", cog.to_str().unwrap()]);
    ok(&env, &args);
    assert_valid_cog(&cog);
    let want = gdaladdo_oracle(&env, &classes, "mode", &["2", "4", "8"]);
    let got = overviews(&cog, 1);
    assert_eq!(got, overviews(&want, 1));
    for (_, data) in &got {
        assert!(
            data.iter().all(|v| [1.0, 2.0, 3.0].contains(v)),
            "mode invents no class"
        );
    }
    assert_no_temp(env.dir.path());
}

#[test]
fn gtiff_overviews_only_when_asked_and_recipes_can_ask() {
    let env = Env::new();
    let world = corpus("world.byte.tif");
    let w = world.to_str().unwrap();
    let plain = env.path("plain.tif");
    ok(&env, &[w, "-e", "b1", "-o", plain.to_str().unwrap()]);
    assert!(
        overviews(&plain, 1).is_empty(),
        "GTiff default: no overviews"
    );
    let auto = env.path("auto.tif");
    ok(
        &env,
        &[
            w,
            "-e",
            "b1",
            "--overviews",
            "auto",
            "-o",
            auto.to_str().unwrap(),
        ],
    );
    let sizes: Vec<_> = overviews(&auto, 1).into_iter().map(|(s, _)| s).collect();
    assert_eq!(sizes, expected_auto_sizes(2880, 1200));
    let near = env.path("near.tif");
    let args = [
        w,
        "-e",
        "b1",
        "--overviews",
        "3,9",
        "--resampling",
        "NEAREST",
    ];
    let mut all = args.to_vec();
    all.extend(["-o", near.to_str().unwrap()]);
    ok(&env, &all);
    let want = gdaladdo_oracle(&env, &args[..3], "nearest", &["3", "9"]);
    assert_eq!(overviews(&near, 1), overviews(&want, 1));
    // A COG without overviews on request is still valid.
    let none = env.path("none.tif");
    ok(
        &env,
        &[
            w,
            "-e",
            "b1",
            "--of",
            "COG",
            "--overviews",
            "none",
            "-o",
            none.to_str().unwrap(),
        ],
    );
    assert_valid_cog(&none);
    assert!(overviews(&none, 1).is_empty());
    // Recipe keys: format, overviews, resampling.
    env.write(
        "config.toml",
        "[recipes.pub]\nexpr = 'b1'\nformat = 'COG'\noverviews = [2, 4]\nresampling = 'nearest'\n",
    );
    let out = env.path("recipe.tif");
    ok(&env, &[w, "-r", "pub", "-o", out.to_str().unwrap()]);
    assert_valid_cog(&out);
    assert_eq!(
        overviews(&out, 1),
        overviews(
            &gdaladdo_oracle(&env, &[w, "-e", "b1"], "nearest", &["2", "4"]),
            1
        )
    );
    assert_eq!(meta_item(&out, "TILERUN_RECIPE").as_deref(), Some("pub"));
    assert_no_temp(env.dir.path());
}

#[test]
fn a_failing_cog_copy_leaves_nothing_behind() {
    let env = Env::new();
    let out = env.path("out.tif");
    // WEBP takes 3 or 4 bands: only the COG copy finds out, after every
    // window was written to the intermediate.
    let run = env.run([
        corpus("world.byte.tif").to_str().unwrap(),
        "-e",
        "b1; b1",
        "--ot",
        "Byte",
        "--of",
        "COG",
        "--co",
        "COMPRESS=WEBP",
        "-o",
        out.to_str().unwrap(),
    ]);
    run.fails(1);
    assert!(run.stderr().contains("COG"), "{}", run.stderr());
    assert!(!out.exists());
    assert_no_temp(env.dir.path());
    assert_eq!(env.files(), Vec::<String>::new());
}
