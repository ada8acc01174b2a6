//! Every corpus file through an identity stretch (rescale in=0,1 out=0,1
//! clip=false, same output type as the input), to GTiff and to COG:
//! georeferencing, CRS and nodata identical per `gdalinfo -json`, band
//! descriptions and colour interpretation kept, dataset metadata copied,
//! history added, and every value equal to the input's (nodata where GDAL's
//! mask says invalid; a valid value equal to the output nodata moved off
//! it). The stretch arithmetic itself is checked in `ops`.

use serde_json::Value;

use super::*;

/// Same nodata per gdalinfo: numbers by value, "NaN" as text.
fn same_nodata(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn wkt(j: &Value) -> Option<&str> {
    j["coordinateSystem"]["wkt"].as_str()
}

/// Check one output against its input; `cog` relaxes what GDAL 3.6's COG
/// driver cannot carry (see README): ESRI-flavoured WKT (same CRS per OSR)
/// and non-default metadata domains.
fn check(name: &str, input: &Path, out: &Path, cog: bool) {
    let (ji, jo) = (gdalinfo(input), gdalinfo(out));
    let what = format!("{name} ({})", if cog { "COG" } else { "GTiff" });
    assert_eq!(ji["size"], jo["size"], "{what}: size");
    assert_eq!(
        ji["geoTransform"], jo["geoTransform"],
        "{what}: geotransform"
    );
    match (wkt(&ji), wkt(&jo)) {
        (Some(a), Some(b)) if cog && name == "test_esri_wkt.tif" => assert_same_crs(a, b, &what),
        (a, b) => assert_eq!(a, b, "{what}: WKT"),
    }
    let (bi, bo) = (
        ji["bands"].as_array().unwrap(),
        jo["bands"].as_array().unwrap(),
    );
    assert_eq!(bi.len(), bo.len(), "{what}: bands");
    for (i, (a, b)) in bi.iter().zip(bo).enumerate() {
        match a.get("noDataValue") {
            Some(nd) => assert!(
                same_nodata(nd, &b["noDataValue"]),
                "{what} band {i}: nodata {nd} vs {}",
                b["noDataValue"]
            ),
            None => assert!(b.get("noDataValue").is_some(), "{what}: nodata always set"),
        }
        assert_eq!(
            a.get("description"),
            b.get("description"),
            "{what} band {i}"
        );
        let ci = &a["colorInterpretation"];
        if ci != "Alpha" {
            assert_eq!(ci, &b["colorInterpretation"], "{what} band {i}: colour");
        }
    }
    let (mi, mo) = (&ji["metadata"], &jo["metadata"]);
    for (domain, items) in mi.as_object().into_iter().flatten() {
        let skip = ["IMAGE_STRUCTURE", "DERIVED_SUBDATASETS"].contains(&domain.as_str());
        if skip || (cog && !domain.is_empty()) {
            continue;
        }
        for (k, v) in items.as_object().unwrap() {
            assert_eq!(&mo[domain][k], v, "{what}: metadata {domain}:{k}");
        }
    }
    let history = &mo[""];
    assert_eq!(history["TILERUN_OP"], "rescale", "{what}");
    assert_eq!(
        history["TILERUN_VERSION"],
        env!("CARGO_PKG_VERSION"),
        "{what}"
    );
    assert_eq!(history["TILERUN_INPUT"], name, "{what}");
    assert!(
        history["TILERUN_PARAMS"]
            .as_str()
            .unwrap()
            .contains("in=0,1 out=0,1 clip=false"),
        "{what}"
    );
    let (src, got) = (read(input), read(out));
    assert_eq!(src.types, got.types, "{what}: types");
    for b in 0..src.bands.len() {
        let nd = got.nodata[b].unwrap();
        for i in 0..src.bands[b].len() {
            let (v, g) = (src.bands[b][i], got.bands[b][i]);
            if src.masks[b][i] == 0 || v.is_nan() {
                assert!(g == nd || (g.is_nan() && nd.is_nan()), "{what} {b}/{i}");
            } else if v == nd {
                // Valid but equal to the output nodata (an input without
                // nodata using every value): moved off it (README, "Types").
                let moved = got.masks[b][i] != 0 && g != nd && (g - nd).abs() <= 1.0;
                assert!(moved, "{what} {b}/{i}: valid {v} stored as {g}");
            } else {
                assert_eq!(g, v, "{what} {b}/{i}");
            }
        }
    }
}

#[test]
fn every_corpus_file_round_trips_to_gtiff_and_cog() {
    let env = Env::new();
    let mut done = 0;
    for name in list(&corpus_dir()) {
        if !name.ends_with(".tif") {
            continue;
        }
        let input = corpus(&name);
        let mut base: Vec<String> = [
            input.to_str().unwrap(),
            "--op",
            "rescale",
            "--set",
            "in=0,1",
            "--set",
            "out=0,1",
            "--set",
            "clip=false",
        ]
        .map(String::from)
        .to_vec();
        if name == "corrupt.tif" {
            let out = env.path("corrupt_out.tif");
            base.extend(["-o".into(), out.to_str().unwrap().into()]);
            env.run(&base).fails(1);
            assert!(!out.exists());
            continue;
        }
        let src = read(&input);
        base.extend(["--ot".into(), src.types[0].clone()]);
        if let Some(nd) = src.nodata[0] {
            base.push(format!("--nodata={nd}"));
        }
        for cog in [false, true] {
            let out = env.path(&format!("{}_{name}", if cog { "cog" } else { "gtiff" }));
            let mut args = base.clone();
            if cog {
                args.extend(["--of".into(), "COG".into()]);
            }
            args.extend(["-o".into(), out.to_str().unwrap().into()]);
            env.run(&args).ok();
            if cog {
                assert_valid_cog(&out);
            }
            check(&name, &input, &out, cog);
        }
        done += 1;
    }
    assert!(done >= 29, "only {done} corpus files");
    assert_no_temp(env.dir.path());
}

#[test]
fn rotated_and_geographic_rasters_survive() {
    let env = Env::new();
    for (name, check_gt) in [
        (
            "rotated.tif",
            (|gt: [f64; 6]| gt[2] != 0.0 || gt[4] != 0.0) as fn([f64; 6]) -> bool,
        ),
        ("world.byte.tif", |gt: [f64; 6]| gt[1] > 0.0 && gt[1] < 1.0),
    ] {
        for of in ["GTiff", "COG"] {
            let out = env.path(&format!("{of}_{name}"));
            let input = corpus(name);
            ok(
                &env,
                &[
                    input.to_str().unwrap(),
                    "-e",
                    "b1",
                    "--of",
                    of,
                    "-o",
                    out.to_str().unwrap(),
                ],
            );
            let (src, got) = (read(&input), read(&out));
            let gt = got.gt.expect("geotransform");
            assert!(check_gt(gt), "{name}: {gt:?}");
            assert_eq!(got.gt, src.gt, "{name} {of}");
            assert_eq!(got.wkt, src.wkt, "{name} {of}");
            if name == "world.byte.tif" {
                let srs = gdal::spatial_ref::SpatialRef::from_wkt(&got.wkt).unwrap();
                assert!(srs.is_geographic());
            }
        }
    }
}
