//! rescale and reclass end to end, against arithmetic written out here and
//! numpy's percentile; the three nodata policies on bands whose nodata
//! differ.

use super::*;

/// Round half away from zero and clamp, as README documents for integers.
fn to_int(v: f64, lo: f64, hi: f64) -> f64 {
    v.round().clamp(lo, hi)
}

/// True when `v` is within 1e-9 of a .5 tie, where two correct ways of
/// computing the same stretch may round to neighbouring integers.
fn near_tie(v: f64) -> bool {
    (v - v.floor() - 0.5).abs() < 1e-9
}

#[test]
fn rescale_matches_the_written_out_stretch() {
    let env = Env::new();
    let input = fixture("scene_small.tif");
    let out = env.path("rgb8.tif");
    ok(
        &env,
        &[
            input.to_str().unwrap(),
            "--op",
            "rescale",
            "--set",
            "in=0,3000",
            "--set",
            "out=1,255",
            "--ot",
            "Byte",
            "--band",
            "3,2,1",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let (src, got) = (read(&input), read(&out));
    assert_eq!(got.bands.len(), 3);
    // Input nodata 0 stays nodata 0: the stretch starts at 1.
    assert_eq!(got.nodata, vec![Some(0.0); 3]);
    // Bands keep their meaning: descriptions follow the chosen bands.
    assert_eq!(got.descriptions, vec!["red", "green", "blue"]);
    let mut checked = 0;
    for (ob, ib) in [(0, 2), (1, 1), (2, 0)] {
        for i in 0..src.bands[ib].len() {
            let v = src.bands[ib][i];
            let g = got.bands[ob][i];
            if Some(v) == src.nodata[ib] {
                assert_eq!(g, 0.0, "nodata stays nodata at {i}");
                continue;
            }
            let exact = 1.0 + v / 3000.0 * 254.0;
            let want = to_int(exact.clamp(1.0, 255.0), 0.0, 255.0);
            let tie = near_tie(exact) && (g - want).abs() == 1.0;
            assert!(
                g == want || tie,
                "band {ob} pixel {i}: {v} -> {g}, want {want}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100_000);
}

/// numpy's percentiles of band `b`'s valid pixels (GDAL's mask band).
fn numpy_percentiles(path: &Path, b: usize, pcts: &[f64]) -> Vec<f64> {
    let code = r#"
import sys
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
ds = gdal.Open(sys.argv[1])
band = ds.GetRasterBand(int(sys.argv[2]))
a = band.ReadAsArray().astype(np.float64)
m = band.GetMaskBand().ReadAsArray()
v = a[(m != 0) & ~np.isnan(a)]
print(" ".join(repr(float(x)) for x in np.percentile(v, [float(p) for p in sys.argv[3:]])))
"#;
    let mut args = vec![path.to_str().unwrap().to_string(), b.to_string()];
    args.extend(pcts.iter().map(|p| p.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    python(code, &refs)
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect()
}

/// The `resolved=lo,hi;lo,hi` ranges recorded in TILERUN_PARAMS.
fn resolved(path: &Path) -> Vec<(f64, f64)> {
    let params = meta_item(path, "TILERUN_PARAMS").unwrap();
    let r = params.split("resolved=").nth(1).unwrap();
    let r = r.split_whitespace().next().unwrap();
    r.split(';')
        .map(|p| {
            let (a, b) = p.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

#[test]
fn auto_rescale_percentiles_match_numpy() {
    let env = Env::new();
    // UInt16 with nodata; UInt16 with an alpha band (masked pixels
    // excluded; every valid pixel is 10000, so the stretch degenerates to
    // the documented step); a Float32 DEM with a nodata hole.
    let cases: [(&Path, &[usize], (f64, f64)); 3] = [
        (&fixture("scene_small.tif"), &[4, 1, 3], (2.0, 98.0)),
        (&corpus("RGBA.uint16.tif"), &[1, 2, 3], (2.0, 98.0)),
        (&fixture("dem_small.tif"), &[1], (0.5, 99.7)),
    ];
    for (input, bands, (lo, hi)) in cases {
        let out = env.path("auto.tif");
        let _ = std::fs::remove_file(&out);
        let band_list: Vec<String> = bands.iter().map(|b| b.to_string()).collect();
        ok(
            &env,
            &[
                input.to_str().unwrap(),
                "--op",
                "rescale",
                "--set",
                "in=auto",
                "--set",
                &format!("percentiles={lo},{hi}"),
                "--set",
                "out=0,1",
                "--ot",
                "Float64",
                "--band",
                &band_list.join(","),
                "-o",
                out.to_str().unwrap(),
            ],
        );
        let ranges = resolved(&out);
        let (src, got) = (read(input), read(&out));
        for (k, &b) in bands.iter().enumerate() {
            let want = numpy_percentiles(input, b, &[lo, hi]);
            let (a, z) = ranges[k];
            for (g, w) in [(a, want[0]), (z, want[1])] {
                assert!(
                    (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                    "{} band {b}: {g} vs numpy {w}",
                    input.display()
                );
            }
            // And the output is the stretch over exactly those ranges.
            let nd = got.nodata[k].unwrap();
            for i in 0..src.bands[b - 1].len() {
                let v = src.bands[b - 1][i];
                let g = got.bands[k][i];
                if src.masks[b - 1][i] == 0 {
                    assert_eq!(g, nd);
                } else if a == z {
                    assert_eq!(g, if v <= a { 0.0 } else { 1.0 });
                } else {
                    let want = ((v - a) / (z - a)).clamp(0.0, 1.0);
                    assert!((g - want).abs() < 1e-12, "pixel {i}: {g} vs {want}");
                }
            }
        }
    }
}

#[test]
fn reclass_matches_written_out_rules() {
    let env = Env::new();
    let ndvi = env.path("ndvi.tif");
    let input = fixture("scene_small.tif");
    ok(
        &env,
        &[
            input.to_str().unwrap(),
            "-e",
            "(b4 - b3) / (b4 + b3)",
            "--ot",
            "Float32",
            "-o",
            ndvi.to_str().unwrap(),
        ],
    );
    let out = env.path("classes.tif");
    ok(
        &env,
        &[
            ndvi.to_str().unwrap(),
            "--op",
            "reclass",
            "--set",
            "rules=[-1,0):1; [0,0.3):2; [0.3,0.5]:3",
            "--set",
            "default=0",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let (src, got) = (read(&ndvi), read(&out));
    assert_eq!(got.types, vec!["Byte"]);
    assert_eq!(got.nodata, vec![Some(255.0)]);
    let mut seen = [0usize; 4];
    for i in 0..src.bands[0].len() {
        let v = src.bands[0][i];
        let want = if src.masks[0][i] == 0 {
            255.0
        } else if (-1.0..0.0).contains(&v) {
            1.0
        } else if (0.0..0.3).contains(&v) {
            2.0
        } else if (0.3..=0.5).contains(&v) {
            3.0
        } else {
            0.0
        };
        assert_eq!(got.bands[0][i], want, "pixel {i}: ndvi {v}");
        if want != 255.0 {
            seen[want as usize] += 1;
        }
    }
    assert!(seen.iter().filter(|n| **n > 0).count() >= 3, "{seen:?}");
    assert!(src.masks[0].contains(&0), "nodata was exercised");
}

/// Two Float32 bands with nodata -9999 at different pixels.
fn two_band_holes(path: &Path) -> (Vec<f64>, Vec<f64>) {
    let (w, h) = (40usize, 30usize);
    let a: Vec<f64> = (0..w * h)
        .map(|i| if i % 7 == 0 { -9999.0 } else { (i % 50) as f64 })
        .collect();
    let b: Vec<f64> = (0..w * h)
        .map(|i| {
            if i % 5 == 0 {
                -9999.0
            } else {
                100.0 - (i % 30) as f64
            }
        })
        .collect();
    let d = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let ds = d.create_with_band_type::<f32, _>(path, w, h, 2).unwrap();
    for (i, v) in [&a, &b].into_iter().enumerate() {
        let mut band = ds.rasterband(i + 1).unwrap();
        band.set_no_data_value(Some(-9999.0)).unwrap();
        let mut buf = gdal::raster::Buffer::new((w, h), v.clone());
        band.write((0, 0), (w, h), &mut buf).unwrap();
    }
    (a, b)
}

#[test]
fn nodata_policies_propagate_ignore_none() {
    let env = Env::new();
    let input = env.path("holes.tif");
    let (a, b) = two_band_holes(&input);
    let nd = |v: f64| v == -9999.0;
    type Oracle = fn(f64, f64, bool, bool) -> Option<f64>;
    let cases: [(&str, Oracle); 3] = [
        ("propagate", |x, y, nx, ny| {
            (!nx && !ny).then(|| (x + y) / 2.0)
        }),
        ("ignore", |x, y, nx, ny| match (nx, ny) {
            (true, true) => None,
            (true, false) => Some(y),
            (false, true) => Some(x),
            _ => Some((x + y) / 2.0),
        }),
        ("none", |x, y, _, _| Some((x + y) / 2.0)),
    ];
    for (policy, oracle) in cases {
        let out = env.path(&format!("{policy}.tif"));
        ok(
            &env,
            &[
                input.to_str().unwrap(),
                "-e",
                "mean(b1, b2)",
                "--nodata-policy",
                policy,
                "--ot",
                "Float64",
                "--nodata",
                "-1e30",
                "-o",
                out.to_str().unwrap(),
            ],
        );
        let got = read(&out);
        assert_eq!(got.nodata, vec![Some(-1e30)], "nodata is always set");
        assert_eq!(
            meta_item(&out, "TILERUN_NODATA_POLICY").as_deref(),
            Some(policy)
        );
        for i in 0..a.len() {
            let want = oracle(a[i], b[i], nd(a[i]), nd(b[i])).unwrap_or(-1e30);
            assert_eq!(
                got.bands[0][i], want,
                "{policy} pixel {i}: {} {}",
                a[i], b[i]
            );
        }
    }
}
