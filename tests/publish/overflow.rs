//! A valid result never becomes nodata (README, "Types"): values that
//! would be stored as the output nodata, or (for floats) so close to it that
//! GDAL reads them as nodata, take the nearest value that reads as valid,
//! and the JSON summary counts them. Oracles: the input's values, written
//! out; GDAL's own nodata mask; and gdal_calc.py for the default nodata.

use super::types::write;
use super::*;

/// `tilerun INPUT -e EXPR --ot T [--nodata ND] --json -o OUT`, insisting on
/// success: the JSON summary, the output, and stderr.
fn convert(
    env: &Env,
    input: &Path,
    expr: &str,
    t: &str,
    nodata: Option<&str>,
    out: &Path,
) -> (serde_json::Value, Raster, String) {
    let mut args = vec![input.to_str().unwrap(), "-e", expr, "--ot", t];
    if let Some(nd) = nodata {
        args.extend(["--nodata", nd]);
    }
    args.extend(["--json", "-o", out.to_str().unwrap()]);
    let run = env.run(&args);
    run.ok();
    let json = serde_json::from_str(run.stdout().trim()).expect("one JSON line");
    (json, read(out), run.stderr())
}

/// `b1 * 3` of RGB.byte.tif as Byte: results of 255 and more are valid
/// pixels, but 255 is the output's nodata, so they must come out as 254 (the
/// nearest other value), counted in the JSON summary and named in one
/// warning line (README, "Types"). The expected figures are the issue's.
#[test]
fn overflow_saturates_to_the_nearest_value_that_is_not_nodata() {
    let env = Env::new();
    let input = corpus("RGB.byte.tif");
    let out = env.path("x3.tif");
    let (json, got, stderr) = convert(&env, &input, "b1*3", "Byte", None, &out);
    let src = read(&input);
    assert_eq!(got.nodata[0], Some(255.0));
    let (mut saturated, mut moved) = (0u64, 0u64);
    for i in 0..src.bands[0].len() {
        let g = got.bands[0][i];
        if src.masks[0][i] == 0 {
            assert_eq!(g, 255.0, "pixel {i}: nodata in, nodata out");
            continue;
        }
        let v = 3.0 * src.bands[0][i];
        saturated += u64::from(v > 255.0);
        moved += u64::from(v >= 255.0);
        assert_eq!(g, v.min(254.0), "pixel {i}: 3 × {}", src.bands[0][i]);
        assert_ne!(
            got.masks[0][i], 0,
            "pixel {i}: a valid result reads as nodata"
        );
    }
    assert_eq!((saturated, moved), (49_747, 50_616));
    assert_eq!(json["saturated"].as_u64(), Some(saturated), "{json}");
    assert_eq!(json["nudged"].as_u64(), Some(moved), "{json}");
    let warnings: Vec<&str> = json["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("saturated"))
        .collect();
    assert_eq!(warnings.len(), 1, "{json}");
    assert!(
        warnings[0].contains("49747") && warnings[0].contains("nodata 255"),
        "{}",
        warnings[0]
    );
    assert!(stderr.contains("49747 values saturated"), "{stderr}");
}

/// What a valid value must be stored as: the nearest integer in `lo..=hi`
/// other than `nd` (found by trying the neighbours); `nd` itself goes one
/// up, or down at the top of the range. Plus whether it saturated and
/// whether nodata was avoided.
fn nearest_not_nodata(v: f64, (lo, hi): (f64, f64), nd: f64) -> (f64, bool, bool) {
    let r = if v < 0.0 {
        -((-v) + 0.5).floor()
    } else {
        (v + 0.5).floor()
    };
    let saturated = r < lo || r > hi;
    let c = r.max(lo).min(hi);
    if c != nd {
        return (c, saturated, false);
    }
    let mut near: Vec<f64> = [nd + 1.0, nd - 1.0]
        .into_iter()
        .filter(|x| (lo..=hi).contains(x))
        .collect();
    near.sort_by(|a, b| (a - v).abs().total_cmp(&(b - v).abs()));
    (near[0], saturated, true)
}

/// The rule for every integer type, with nodata inside the range and at
/// either bound: rounding, saturating or landing exactly on nodata moves a
/// valid value to the nearest other value; the JSON counts agree.
#[test]
fn no_type_lets_a_valid_value_become_nodata() {
    let env = Env::new();
    let types = [
        ("Byte", (0.0, 255.0)),
        ("UInt16", (0.0, 65535.0)),
        ("Int16", (-32768.0, 32767.0)),
        ("UInt32", (0.0, 4294967295.0)),
        ("Int32", (-2147483648.0, 2147483647.0)),
    ];
    let mut checked = 0;
    for (t, (lo, hi)) in types {
        for nd in [7.0, lo, hi, -7.0] {
            if nd < lo {
                continue;
            }
            let mut vals: Vec<f64> = [-0.6, -0.5, -0.4, 0.0, 0.4, 0.5, 0.6]
                .iter()
                .map(|d| nd + d)
                .collect();
            vals.extend([lo - 1e9, lo - 0.6, lo, hi, hi + 0.6, hi + 1e9, 3.0]);
            let input = env.path(&format!("v_{t}_{nd}.tif"));
            write::<f64>(&input, &vals, None);
            let out = env.path(&format!("o_{t}_{nd}.tif"));
            let nd_s = nd.to_string();
            let (json, got, _) = convert(&env, &input, "b1", t, Some(&nd_s), &out);
            let (mut sat, mut moved) = (0, 0);
            for (i, v) in vals.iter().enumerate() {
                let (want, s, m) = nearest_not_nodata(*v, (lo, hi), nd);
                assert_eq!(got.bands[0][i], want, "{t} nodata {nd}: {v}");
                assert_ne!(got.masks[0][i], 0, "{t} nodata {nd}: {v} reads as nodata");
                sat += u64::from(s);
                moved += u64::from(m);
                checked += 1;
            }
            assert_eq!(json["saturated"].as_u64(), Some(sat), "{t} {nd}: {json}");
            assert_eq!(json["nudged"].as_u64(), Some(moved), "{t} {nd}: {json}");
            assert!(moved >= 4, "{t} {nd:e}: the cases must reach nodata");
        }
    }
    assert!(checked >= 200, "{checked}");
}

/// GDAL's own nodata mask over `vals` stored as Float32/Float64 with
/// nodata `nd`: the oracle of what reads back as nodata.
fn gdal_mask(env: &Env, t: &str, vals: &[f64], nd: f64) -> Vec<u8> {
    let path = env.path(&format!("probe_{t}.tif"));
    let _ = std::fs::remove_file(&path);
    if t == "Float32" {
        write::<f32>(&path, vals, Some(nd));
    } else {
        write::<f64>(&path, vals, Some(nd));
    }
    read(&path).masks[0].clone()
}

/// The next value of type `t` from `x` towards `to`.
fn step(t: &str, x: f64, to: f64) -> f64 {
    match (t, x < to) {
        ("Float32", true) => f64::from((x as f32).next_up()),
        ("Float32", false) => f64::from((x as f32).next_down()),
        (_, true) => x.next_up(),
        (_, false) => x.next_down(),
    }
}

/// Floats: GDAL 3.6 reads values within two float epsilons (of the sum)
/// of nodata as nodata too, so with the Float32 default f32::MAX every
/// value from about 1e31 up, and with −9999 a few steps either side. Valid
/// results there go to the nearest value GDAL reads as valid: checked with
/// GDAL's own mask, on the output and on a probe holding that value and
/// its neighbour towards nodata.
#[test]
fn float_results_never_read_back_as_nodata() {
    let env = Env::new();
    let max = f64::from(f32::MAX);
    let cases: [(&str, f64, &[f64]); 4] = [
        ("Float32", max, &[1e39, max, 1e35, 1.2e31, -1e39, 1.5]),
        (
            "Float32",
            -9999.0,
            &[-9999.0, -9999.0 + 1e-5, -9999.003, -9998.9],
        ),
        (
            "Float64",
            -9999.0,
            &[-9999.0, -9999.001, -9998.999, -9998.9],
        ),
        ("Float64", f64::MAX, &[1e300, 1.7e308, 1e200]),
    ];
    for (k, (t, nd, vals)) in cases.into_iter().enumerate() {
        let input = env.path(&format!("f{k}.tif"));
        write::<f64>(&input, vals, None);
        let out = env.path(&format!("o{k}.tif"));
        let nd_s = format!("{nd:e}");
        let (json, got, _) = convert(&env, &input, "b1", t, Some(&nd_s), &out);
        assert_eq!(
            got.masks[0],
            vec![255; vals.len()],
            "{t} {nd}: {:?}",
            got.bands[0]
        );
        // What storing each value as it is would have done.
        let stored: Vec<f64> = vals
            .iter()
            .map(|v| f64::from(v.clamp(-max, max) as f32))
            .collect();
        let as_is = if t == "Float32" { &stored[..] } else { vals };
        let would = gdal_mask(&env, t, as_is, nd);
        let mut moved = 0;
        for (i, (&v, &g)) in vals.iter().zip(&got.bands[0]).enumerate() {
            if would[i] != 0 {
                assert_eq!(g, as_is[i], "{t} {nd}: {v} was valid as it is");
                continue;
            }
            moved += 1;
            let probe = gdal_mask(&env, t, &[g, step(t, g, nd)], nd);
            assert_eq!(
                probe,
                vec![255, 0],
                "{t} {nd}: {v} -> {g} is not the nearest valid"
            );
        }
        let saturated = vals
            .iter()
            .filter(|v| t == "Float32" && v.abs() > max)
            .count();
        assert!(moved >= 2, "{t} {nd:e}: the cases must reach nodata");
        assert_eq!(
            json["nudged"].as_u64(),
            Some(moved as u64),
            "{t} {nd}: {json}"
        );
        assert_eq!(
            json["saturated"].as_u64(),
            Some(saturated as u64),
            "{t} {nd}: {json}"
        );
    }
}

/// The default output nodata per type is gdal_calc.py's (README, "Band
/// math"): both tools run without a nodata option, for every type.
#[test]
fn default_nodata_is_gdal_calcs() {
    if !have("gdal_calc.py") {
        eprintln!("SKIP: gdal_calc.py not installed");
        return;
    }
    let env = Env::new();
    let input = fixture("plane.tif");
    for t in [
        "Byte", "UInt16", "Int16", "UInt32", "Int32", "Float32", "Float64",
    ] {
        let (ours, theirs) = (
            env.path(&format!("t_{t}.tif")),
            env.path(&format!("g_{t}.tif")),
        );
        let (_, got, _) = convert(&env, &input, "b1", t, None, &ours);
        oracle(
            "/usr/bin/gdal_calc.py",
            &[
                "--quiet",
                "-A",
                input.to_str().unwrap(),
                "--calc",
                "A",
                "--type",
                t,
                "--outfile",
                theirs.to_str().unwrap(),
            ],
        );
        let (a, b) = (got.nodata[0], read(&theirs).nodata[0]);
        assert!(
            a.is_some() && a == b,
            "{t}: tilerun {a:?}, gdal_calc.py {b:?}"
        );
    }
}
