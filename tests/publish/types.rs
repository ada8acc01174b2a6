//! Every GDAL sample type is accepted as input and read exactly; conversion
//! to every output type rounds half away from zero and clamps at the type's
//! bounds, with NaN becoming nodata (README, "Types").

use gdal::raster::{Buffer, GdalType};

use super::*;

/// A one-row GTiff of type `T` holding `vals`, nodata `nd`.
pub(super) fn write<T: GdalType + Copy>(path: &Path, vals: &[f64], nd: Option<f64>) {
    let d = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let ds = d
        .create_with_band_type::<T, _>(path, vals.len(), 1, 1)
        .unwrap();
    let mut band = ds.rasterband(1).unwrap();
    band.set_no_data_value(nd).unwrap();
    let mut buf = Buffer::new((vals.len(), 1), vals.to_vec());
    band.write((0, 0), (vals.len(), 1), &mut buf).unwrap();
}

#[test]
fn every_input_type_is_read_exactly() {
    let env = Env::new();
    let cases: Vec<(&str, Vec<f64>, Option<f64>)> = vec![
        ("Byte", vec![0.0, 1.0, 254.0, 255.0], Some(1.0)),
        ("UInt16", vec![0.0, 65535.0, 12345.0, 7.0], Some(7.0)),
        ("Int16", vec![-32768.0, 32767.0, -1.0, 0.0], None),
        (
            "UInt32",
            vec![0.0, 4294967295.0, 4294967294.0, 9.0],
            Some(9.0),
        ),
        (
            "Int32",
            vec![-2147483648.0, 2147483647.0, -5.0, 3.0],
            Some(3.0),
        ),
        (
            "Float32",
            vec![
                f32::MIN as f64,
                f32::MAX as f64,
                -0.1f32 as f64,
                1e-30f32 as f64,
            ],
            None,
        ),
        (
            "Float64",
            vec![f64::MIN, f64::MAX, 1e-300, -7.25],
            Some(-7.25),
        ),
    ];
    for (t, vals, nd) in cases {
        let input = env.path(&format!("in_{t}.tif"));
        match t {
            "Byte" => write::<u8>(&input, &vals, nd),
            "UInt16" => write::<u16>(&input, &vals, nd),
            "Int16" => write::<i16>(&input, &vals, nd),
            "UInt32" => write::<u32>(&input, &vals, nd),
            "Int32" => write::<i32>(&input, &vals, nd),
            "Float32" => write::<f32>(&input, &vals, nd),
            _ => write::<f64>(&input, &vals, nd),
        }
        assert_eq!(read(&input).types, vec![t], "fixture type");
        let out = env.path(&format!("out_{t}.tif"));
        ok(
            &env,
            &[
                input.to_str().unwrap(),
                "-e",
                "b1",
                "--ot",
                "Float64",
                "--nodata",
                "nan",
                "-o",
                out.to_str().unwrap(),
            ],
        );
        let got = read(&out);
        for (g, v) in got.bands[0].iter().zip(&vals) {
            if Some(*v) == nd {
                assert!(g.is_nan(), "{t}: nodata {v} -> {g}");
            } else {
                assert_eq!(g, v, "{t}");
            }
        }
    }
}

/// The documented conversion, written out: NaN and ±inf → nodata; floats
/// clamp to the type's finite range (Float32 then rounds to nearest f32);
/// integers round half away from zero, then clamp.
fn convert(v: f64, t: &str, nd: f64) -> f64 {
    if !v.is_finite() {
        return nd;
    }
    let (lo, hi) = match t {
        "Byte" => (0.0, 255.0),
        "UInt16" => (0.0, 65535.0),
        "Int16" => (-32768.0, 32767.0),
        "UInt32" => (0.0, 4294967295.0),
        "Int32" => (-2147483648.0, 2147483647.0),
        "Float32" => return v.clamp(f32::MIN as f64, f32::MAX as f64) as f32 as f64,
        _ => return v,
    };
    let r = if v < 0.0 {
        -((-v) + 0.5).floor()
    } else {
        (v + 0.5).floor()
    };
    r.max(lo).min(hi)
}

#[test]
fn conversion_rounds_and_clamps_at_every_type_bound() {
    let env = Env::new();
    let mut vals = vec![f64::NAN, -1e300, 1e300, 3.5e38, -3.5e38, 0.0, -0.0];
    for bound in [
        0.0,
        255.0,
        65535.0,
        -32768.0,
        32767.0,
        4294967295.0,
        -2147483648.0,
        2147483647.0,
    ] {
        for d in [-1.0, -0.5, -0.49, 0.0, 0.49, 0.5, 1.0] {
            vals.push(bound + d);
        }
    }
    for x in [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.4999999999, 1e-300] {
        vals.push(x);
    }
    let input = env.path("bounds.tif");
    write::<f64>(&input, &vals, None);
    let read_back = read(&input).bands[0].clone();
    for t in [
        "Byte", "UInt16", "Int16", "UInt32", "Int32", "Float32", "Float64",
    ] {
        let out = env.path(&format!("{t}.tif"));
        // A nodata no conversion produces, so NaN is told apart.
        let nd = if t.starts_with("Float") {
            "-12345.5"
        } else {
            "12345"
        };
        let nd = if t == "Byte" { "17" } else { nd };
        ok(
            &env,
            &[
                input.to_str().unwrap(),
                "-e",
                "b1",
                "--ot",
                t,
                "--nodata",
                nd,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        let got = read(&out);
        assert_eq!(got.types, vec![t]);
        let ndv: f64 = nd.parse().unwrap();
        for (g, v) in got.bands[0].iter().zip(&read_back) {
            assert_eq!(*g, convert(*v, t, ndv), "{t}: {v}");
        }
    }
}
