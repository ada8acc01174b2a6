//! Where tilerun differs from gdaldem 3.6.2 on purpose (README, "Terrain
//! and focal ops"): DEMs stored south-up or east to west, where gdaldem's
//! aspect is wrong, and the default scale on a geographic CRS.

use std::path::Path;

use super::{mirror, valid, worst_diff};
use crate::util::*;

/// dem_south_up.tif and dem_east_west.tif hold dem_small.tif's terrain
/// stored bottom row first and east to west: every terrain product must be
/// dem_small's mirrored the same way. gdaldem 3.6.2 gets aspect wrong on
/// such storage, so the oracle is gdaldem on the north-up dem_small.tif,
/// mirrored; hillshade and slope are also checked against gdaldem on the
/// stored file itself, where gdaldem is right.
#[test]
fn terrain_follows_the_ground_not_the_storage_order() {
    if !have("gdaldem") {
        eprintln!("SKIP: gdaldem not installed");
        return;
    }
    let env = Env::new();
    let north = fixture("dem_small.tif");
    type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str]);
    let cases: [Case; 9] = [
        ("hillshade", &[], &[]),
        ("hillshade", &["combined=true"], &["-combined"]),
        (
            "hillshade",
            &["multidirectional=true"],
            &["-multidirectional"],
        ),
        (
            "hillshade",
            &["azimuth=100", "alg=ZevenbergenThorne"],
            &["-az", "100", "-alg", "ZevenbergenThorne"],
        ),
        ("slope", &[], &[]),
        ("slope", &["units=percent"], &["-p"]),
        ("aspect", &[], &[]),
        ("aspect", &["trigonometric=true"], &["-trigonometric"]),
        (
            "aspect",
            &["alg=ZevenbergenThorne"],
            &["-alg", "ZevenbergenThorne"],
        ),
    ];
    let gdaldem = |input: &Path, op: &str, args: &[&str], name: &str| {
        let out = env.path(name);
        let mut a = vec![op, "-compute_edges", "-q"];
        a.extend_from_slice(args);
        a.extend([input.to_str().unwrap(), out.to_str().unwrap()]);
        oracle("/usr/bin/gdaldem", &a);
        read(&out)
    };
    for (stored, rows, cols) in [
        ("dem_south_up.tif", true, false),
        ("dem_east_west.tif", false, true),
    ] {
        let input = fixture(stored);
        let src = read(&input);
        assert!(
            src.gt.unwrap()[5] > 0.0 || src.gt.unwrap()[1] < 0.0,
            "{stored}"
        );
        for (k, (op, set, gd)) in cases.iter().enumerate() {
            let what = format!("{stored} {op} {set:?}");
            let out = env.path(&format!("{k}_{stored}"));
            let mut args = vec![input.to_str().unwrap(), "--op", op, "-o"];
            args.push(out.to_str().unwrap());
            for s in *set {
                args.extend(["--set", s]);
            }
            env.run(&args).ok();
            let got = read(&out);
            assert_eq!(got.gt, src.gt, "{what}: the output keeps the storage order");
            let got = valid(&got);
            let north_up = gdaldem(&north, op, gd, &format!("n{k}_{stored}"));
            let want = mirror(&valid(&north_up), src.width, rows, cols);
            let d = worst_diff(op, &want, &got, &what);
            assert!(
                d == 0.0,
                "{what}: {d} from gdaldem on the north-up DEM, mirrored"
            );
            let direct = valid(&gdaldem(&input, op, gd, &format!("d{k}_{stored}")));
            let d_direct = worst_diff(op, &direct, &got, &what);
            if *op == "aspect" {
                // gdaldem 3.6.2's bug, which this fixture must exercise.
                assert!(
                    d_direct > 170.0,
                    "{what}: gdaldem direct within {d_direct}°"
                );
            } else {
                // gdaldem's float sums follow the storage order: its own
                // mirrored results move by float noise (1 DN in hillshade).
                let tol = if *op == "hillshade" { 1.0 } else { 1e-3 };
                assert!(
                    d_direct <= tol,
                    "{what}: {d_direct} from gdaldem on the stored DEM"
                );
            }
            eprintln!("{what}: {d} from the mirrored oracle, {d_direct} from gdaldem direct");
        }
    }
}

/// On a geographic CRS the default scale is 111120 where gdaldem's is 1:
/// the JSON summary reports the scale used (and a warning says why), the
/// values are gdaldem's with `-s 111120` (see the parity test above), and
/// differ from gdaldem run with its own default.
#[test]
fn geographic_scale_is_reported_in_the_summary() {
    let env = Env::new();
    let dem = fixture("dem_geo.tif");
    let summary = |name: &str, extra: &[&str]| {
        let out = env.path(name);
        let mut args = vec![dem.to_str().unwrap(), "--json", "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let run = env.run(&args);
        run.ok();
        let json: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
        (json, read(&out))
    };
    let (json, ours) = summary("slope.tif", &["--op", "slope"]);
    assert_eq!(
        json["resolved"]["scale"].as_f64(),
        Some(111_120.0),
        "{json}"
    );
    let warned = json["warnings"].as_array().unwrap().iter().any(|w| {
        let w = w.as_str().unwrap();
        w.contains("scale=111120") && w.contains("gdaldem's default is 1")
    });
    assert!(warned, "{json}");
    let (json, _) = summary("slope1.tif", &["--op", "slope", "--set", "scale=1"]);
    assert_eq!(json["resolved"]["scale"].as_f64(), Some(1.0), "{json}");
    assert_eq!(json["warnings"].as_array().unwrap().len(), 0, "{json}");
    let (json, _) = summary("hs.tif", &["--op", "hillshade"]);
    assert_eq!(
        json["resolved"]["scale"].as_f64(),
        Some(111_120.0),
        "{json}"
    );
    let (json, _) = summary("aspect.tif", &["--op", "aspect"]);
    assert!(
        json["resolved"].get("scale").is_none(),
        "aspect uses no scale: {json}"
    );
    if have("gdaldem") {
        let theirs = env.path("gd_default.tif");
        let args = ["slope", "-compute_edges", "-q", dem.to_str().unwrap()];
        oracle(
            "/usr/bin/gdaldem",
            &[&args[..], &[theirs.to_str().unwrap()]].concat(),
        );
        let d = worst_diff(
            "slope",
            &valid(&read(&theirs)),
            &valid(&ours),
            "default scale",
        );
        assert!(d > 10.0, "gdaldem's default scale should differ, by {d}°");
    }
}
