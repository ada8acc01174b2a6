//! Terrain and focal ops through the real binary: parity with gdaldem on
//! fixtures and corpus rasters (and, in `differences`, where tilerun
//! differs on purpose), seam-free output at any window size and worker
//! count, focal statistics against a naive reference, bad parameters.

use std::path::Path;

use crate::util::*;

mod differences;

/// (input, band, extra gdaldem args): single-band DEMs from fixtures and
/// corpus rasters of several types, sizes, nodata styles and CRSs.
fn dems() -> Vec<(std::path::PathBuf, usize, Vec<&'static str>)> {
    vec![
        (fixture("dem_small.tif"), 1, vec![]),
        (fixture("dem_south_up.tif"), 1, vec![]),
        (fixture("dem_east_west.tif"), 1, vec![]),
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

/// A north-up, west-to-east copy of `input` made by gdalwarp (nearest
/// neighbour onto the same pixel grid, so every value is kept), and which
/// axes it reversed; `input` itself when it already is.
fn north_up(env: &Env, input: &Path) -> (std::path::PathBuf, bool, bool) {
    let src = read(input);
    let gt = src.gt.expect("terrain test inputs are georeferenced");
    let flip = (gt[5] > 0.0, gt[1] < 0.0);
    if flip == (false, false) {
        return (input.to_path_buf(), false, false);
    }
    let (w, h) = (src.width as f64, src.height as f64);
    let (x0, x1) = (gt[0], gt[0] + w * gt[1]);
    let (y0, y1) = (gt[3], gt[3] + h * gt[5]);
    let name = input.file_name().unwrap().to_string_lossy();
    let out = env.path(&format!("north_up_{name}"));
    let te = [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)].map(|v| v.to_string());
    let ts = [src.width, src.height].map(|v| v.to_string());
    let mut args = vec!["-q", "-r", "near", "-te"];
    args.extend(te.iter().map(String::as_str));
    args.push("-ts");
    args.extend(ts.iter().map(String::as_str));
    args.extend([input.to_str().unwrap(), out.to_str().unwrap()]);
    if !out.exists() {
        oracle("/usr/bin/gdalwarp", &args);
    }
    let copy = read(&out);
    for b in 0..src.bands.len() {
        let want = mirror(&src.bands[b], src.width, flip.0, flip.1);
        let same = want
            .iter()
            .zip(&copy.bands[b])
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        assert!(same, "{name}: gdalwarp's north-up copy changed values");
    }
    (out, flip.0, flip.1)
}

/// Run tilerun `op` and `gdaldem op -compute_edges` on the same input and
/// compare: nodata masks must agree. For a DEM stored
/// south-up or east to west, where gdaldem 3.6.2's aspect is wrong, gdaldem
/// runs on a north-up copy and its result is mirrored back. Returns the
/// largest difference, the pixels that differ and the valid pixels.
fn parity(env: &Env, input: &Path, band: usize, extra: &[&str], op: &str) -> (f64, usize, usize) {
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
    let (gd_input, rows, cols) = north_up(env, input);
    let mut gd = vec![op, "-compute_edges", "-q", "-b", &band_s];
    gd.extend_from_slice(extra);
    gd.extend([gd_input.to_str().unwrap(), theirs.to_str().unwrap()]);
    oracle("/usr/bin/gdaldem", &gd);
    let (a, b) = (read(&ours), read(&theirs));
    let want = mirror(&valid(&b), b.width, rows, cols);
    let got = valid(&a);
    let what = format!("{op} {name}");
    let worst = worst_diff(op, &want, &got, &what);
    let off = want
        .iter()
        .zip(&got)
        .filter(|(w, g)| w != g && !w.is_nan())
        .count();
    let compared = got.iter().filter(|v| !v.is_nan()).count();
    eprintln!(
        "{what}: {off} of {compared} pixels differ, by up to {worst} \
         (storage mirrored: {rows}, {cols})"
    );
    (worst, off, compared)
}

/// Slope and aspect are bit-identical to gdaldem's on every input.
/// Hillshade is too, except on Byte/Int16 inputs, where gdaldem 3.6.2 takes
/// an SSE path dividing by a reciprocal-square-root estimate and tilerun
/// an exact square root: 1 DN apart where the shade sits on a rounding
/// boundary (a handful of pixels of RGB.byte.tif; see the README).
#[test]
fn hillshade_slope_aspect_match_gdaldem() {
    if !have("gdaldem") {
        eprintln!("SKIP: gdaldem not installed");
        return;
    }
    let env = Env::new();
    let mut compared = [0usize; 3];
    let mut off_by_one = 0;
    for (input, band, extra) in dems() {
        for (k, op) in ["hillshade", "slope", "aspect"].into_iter().enumerate() {
            let (worst, off, n) = parity(&env, &input, band, &extra, op);
            let integer = ["Byte", "Int16"].contains(&read(&input).types[band - 1].as_str());
            if op == "hillshade" && integer {
                assert!(worst <= 1.0, "{op} {input:?}: up to {worst} DN off");
                off_by_one += off;
            } else {
                assert!(
                    off == 0,
                    "{op} {input:?}: {off} pixels differ, up to {worst}"
                );
            }
            compared[k] += n;
        }
    }
    // (Some inputs are all nodata for an op in gdaldem too, e.g. aspect of
    // the corpus's shade.tif; the masks above still had to agree.)
    assert!(
        compared.iter().all(|&n| n > 500_000),
        "too few valid pixels compared: {compared:?}"
    );
    assert!(
        off_by_one * 10_000 < compared[0],
        "{off_by_one} hillshade pixels 1 DN off: more than rounding ties"
    );
    eprintln!("hillshade: {off_by_one} of {} pixels 1 DN off", compared[0]);
}

/// Band 1 with nodata (GDAL's mask) as NaN.
fn valid(r: &Raster) -> Vec<f64> {
    r.bands[0]
        .iter()
        .zip(&r.masks[0])
        .map(|(&v, &m)| if m == 0 { f64::NAN } else { v })
        .collect()
}

/// `v` (row-major, `w` wide) with its rows and/or columns reversed.
fn mirror(v: &[f64], w: usize, rows: bool, cols: bool) -> Vec<f64> {
    let h = v.len() / w;
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (y, x)))
        .map(|(y, x)| {
            let yy = if rows { h - 1 - y } else { y };
            let xx = if cols { w - 1 - x } else { x };
            v[yy * w + xx]
        })
        .collect()
}

/// Largest difference where both are valid (angles for aspect); the
/// nodata masks must agree.
fn worst_diff(op: &str, a: &[f64], b: &[f64], what: &str) -> f64 {
    let mut worst = 0f64;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.is_nan(), y.is_nan(), "{what}: nodata differs at {i}");
        if !x.is_nan() {
            let d = (x - y).abs();
            worst = worst.max(if op == "aspect" { d.min(360.0 - d) } else { d });
        }
    }
    worst
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
