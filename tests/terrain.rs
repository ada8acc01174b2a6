//! Terrain and focal ops through the real binary: parity with gdaldem on
//! fixtures and corpus rasters, seam-free output at any window size and
//! worker count, focal statistics against a naive reference, bad parameters.

use std::path::Path;

use crate::util::*;

/// (input, band, extra gdaldem args): single-band DEMs from fixtures and
/// corpus rasters of several types, sizes, nodata styles and CRSs.
fn dems() -> Vec<(std::path::PathBuf, usize, Vec<&'static str>)> {
    vec![
        (fixture("dem_small.tif"), 1, vec![]),
        (fixture("dem_geo.tif"), 1, vec!["-s", "111120"]),
        (fixture("plane.tif"), 1, vec![]),
        (corpus("shade.tif"), 1, vec![]),
        (corpus("byte.tif"), 1, vec![]),
        (corpus("float_raster_with_nodata.tif"), 1, vec![]),
        (corpus("float_nan.tif"), 1, vec![]),
        (corpus("rgb1_fake_nir_epsg3857.tif"), 1, vec![]),
        (corpus("RGB.byte.tif"), 2, vec![]),
        (corpus("world.byte.tif"), 1, vec!["-s", "111120"]),
    ]
}

/// Run tilerun `op` and `gdaldem op -compute_edges` on the same input and
/// compare: `tol` on values where both are valid, identical nodata masks.
fn parity(env: &Env, input: &Path, band: usize, extra: &[&str], op: &str, tol: f64) -> usize {
    let name = input.file_name().unwrap().to_string_lossy();
    let ours = env.path(&format!("{op}_{name}"));
    let theirs = env.path(&format!("gd_{op}_{name}"));
    let band_s = band.to_string();
    let mut args = vec![
        input.to_str().unwrap(),
        "--op",
        op,
        "--band",
        &band_s,
        "-o",
        ours.to_str().unwrap(),
    ];
    let scale;
    if let Some(i) = extra.iter().position(|a| *a == "-s") {
        scale = format!("scale={}", extra[i + 1]);
        args.extend(["--set", &scale]);
    }
    env.run(&args).ok();
    let mut gd = vec![op, "-compute_edges", "-q", "-b", &band_s];
    gd.extend_from_slice(extra);
    gd.extend([input.to_str().unwrap(), theirs.to_str().unwrap()]);
    oracle("/usr/bin/gdaldem", &gd);
    let (a, b) = (read(&ours), read(&theirs));
    let (nda, ndb) = (a.nodata[0], b.nodata[0]);
    let is_nd = |v: f64, nd: Option<f64>| v.is_nan() || Some(v) == nd;
    let mut compared = 0;
    for (i, (x, y)) in a.bands[0].iter().zip(&b.bands[0]).enumerate() {
        assert_eq!(
            is_nd(*x, nda),
            is_nd(*y, ndb),
            "{op} {name}: nodata mask differs at {i} ({x} vs {y})"
        );
        if !is_nd(*x, nda) {
            let d = if op == "aspect" {
                ((x - y + 180.0).rem_euclid(360.0) - 180.0).abs()
            } else {
                (x - y).abs()
            };
            assert!(d <= tol, "{op} {name}: pixel {i}: {x} vs {y}");
            compared += 1;
        }
    }
    compared
}

#[test]
fn hillshade_slope_aspect_match_gdaldem() {
    if !have("gdaldem") {
        eprintln!("SKIP: gdaldem not installed");
        return;
    }
    let env = Env::new();
    let mut compared = [0usize; 3];
    for (input, band, extra) in dems() {
        compared[0] += parity(&env, &input, band, &extra, "hillshade", 1.0);
        compared[1] += parity(&env, &input, band, &extra, "slope", 1e-3);
        compared[2] += parity(&env, &input, band, &extra, "aspect", 1e-3);
    }
    // (Some inputs are all nodata for an op in gdaldem too, e.g. aspect of
    // the corpus's shade.tif; the masks above still had to agree.)
    assert!(
        compared.iter().all(|&n| n > 500_000),
        "too few valid pixels compared: {compared:?}"
    );
}

fn run_bytes(env: &Env, name: &str, args: &[&str]) -> Vec<Vec<f64>> {
    let out = env.path(name);
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["-o", out.to_str().unwrap()]);
    env.run(&a).ok();
    read(&out).bands
}

#[test]
fn neighbourhood_ops_are_seam_free_at_any_window_and_worker_count() {
    let env = Env::new();
    let dem = fixture("dem_small.tif");
    let d = dem.to_str().unwrap();
    let cases: [&[&str]; 4] = [
        &["--op", "hillshade"],
        &["--op", "slope"],
        &["--op", "focal", "--set", "stat=mean", "--set", "size=7"],
        &["--op", "focal", "--set", "stat=median", "--set", "size=7"],
    ];
    for (c, case) in cases.iter().enumerate() {
        let mut base_args = vec![d];
        base_args.extend_from_slice(case);
        let base = run_bytes(&env, &format!("base{c}.tif"), &base_args);
        for window in ["64", "100", "333", "512"] {
            for workers in ["1", "2", "3"] {
                let mut args = base_args.clone();
                args.extend(["--window", window, "--workers", workers]);
                let got = run_bytes(&env, &format!("c{c}_{window}_{workers}.tif"), &args);
                assert!(
                    got == base,
                    "{case:?} differs at --window {window} --workers {workers}"
                );
            }
        }
    }
}

/// Naive focal statistics: every window sorted afresh, valid cells only.
fn naive_focal(
    v: &[f64],
    w: usize,
    h: usize,
    nd: Option<f64>,
    size: usize,
    stat: &str,
) -> Vec<Option<f64>> {
    let r = (size / 2) as isize;
    let valid = |x: f64| !x.is_nan() && Some(x) != nd;
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h as isize {
        for x in 0..w as isize {
            if !valid(v[(y as usize) * w + x as usize]) {
                out.push(None);
                continue;
            }
            let mut cells = Vec::new();
            for dy in -r..=r {
                for dx in -r..=r {
                    let (yy, xx) = (y + dy, x + dx);
                    if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                        let c = v[yy as usize * w + xx as usize];
                        if valid(c) {
                            cells.push(c);
                        }
                    }
                }
            }
            cells.sort_by(f64::total_cmp);
            let n = cells.len();
            out.push(Some(match stat {
                "mean" => cells.iter().sum::<f64>() / n as f64,
                "min" => cells[0],
                "max" => cells[n - 1],
                "median" if n % 2 == 1 => cells[n / 2],
                "median" => (cells[n / 2 - 1] + cells[n / 2]) / 2.0,
                _ => unreachable!(),
            }));
        }
    }
    out
}

#[test]
fn focal_statistics_match_a_naive_reference() {
    let env = Env::new();
    let dem = fixture("dem_small.tif");
    let src = read(&dem);
    for (stat, size) in [("mean", 5), ("median", 7), ("min", 3), ("max", 9)] {
        let set_stat = format!("stat={stat}");
        let set_size = format!("size={size}");
        let out = env.path(&format!("{stat}{size}.tif"));
        env.run([
            dem.to_str().unwrap(),
            "--op",
            "focal",
            "--set",
            &set_stat,
            "--set",
            &set_size,
            "--ot",
            "Float64",
            "--window",
            "100",
            "-o",
            out.to_str().unwrap(),
        ])
        .ok();
        let got = read(&out);
        let want = naive_focal(
            &src.bands[0],
            src.width,
            src.height,
            src.nodata[0],
            size,
            stat,
        );
        for (i, (g, w)) in got.bands[0].iter().zip(&want).enumerate() {
            match w {
                None => assert_eq!(Some(*g), got.nodata[0], "{stat}{size} pixel {i}"),
                Some(w) => assert!(
                    (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                    "{stat}{size} pixel {i}: {g} vs {w}"
                ),
            }
        }
    }
}

#[test]
fn bad_parameters_are_refused_naming_the_op_and_reason() {
    let env = Env::new();
    let dem = fixture("dem_small.tif");
    let d = dem.to_str().unwrap();
    let rgb = corpus("RGB.byte.tif");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec![rgb.to_str().unwrap(), "--op", "hillshade"],
            vec!["hillshade", "--band"],
        ),
        (
            vec![d, "--op", "focal", "--set", "stat=mean", "--set", "size=4"],
            vec!["focal", "size"],
        ),
        (
            vec![
                d,
                "--op",
                "focal",
                "--set",
                "stat=median",
                "--set",
                "size=1",
            ],
            vec!["focal", "size"],
        ),
        (
            vec![d, "--op", "slope", "--set", "colour=red"],
            vec!["slope", "colour"],
        ),
        (
            vec![d, "--op", "hillshade", "--set", "azimuth=400"],
            vec!["hillshade", "azimuth"],
        ),
        (
            vec![d, "--op", "hillshade", "--set", "altitude=-5"],
            vec!["hillshade", "altitude"],
        ),
    ];
    for (mut args, needles) in cases {
        args.extend(["-o", "out.tif"]);
        let run = env.run(&args);
        run.fails(2);
        for n in needles {
            assert!(
                run.stderr().contains(n),
                "{args:?}: stderr lacks {n:?}: {}",
                run.stderr()
            );
        }
        assert!(!env.path("out.tif").exists());
        assert_no_temp(env.dir.path());
    }
}
