//! The delivery fixtures (`fixtures/deliveries.py`) are what they claim:
//! agency names, types, nodata, scale/offset, every QA flag and SCL class
//! present, aligned 10/20/60 m grids, lossless JPEG 2000, and archive
//! members that GDAL 3.6 reads in place with the same pixels as the loose
//! files. Later tests of multi-file inputs rely on all of this.

use std::path::PathBuf;

use crate::util::*;

pub const LANDSAT: &str = "LC09_L2SP_042034_20231015_20231019_02_T1";
pub const SAFE: &str = "S2B_MSIL2A_20231015T101019_N0509_R022_T33UUP_20231015T130000.SAFE";
const IMG: &str = "GRANULE/L2A_T33UUP_A034567_20231015T101500/IMG_DATA";

pub fn deliveries() -> PathBuf {
    root().join("fixtures/deliveries")
}

/// A Landsat band file, e.g. `landsat("QA_PIXEL.TIF")`.
pub fn landsat(suffix: &str) -> PathBuf {
    deliveries()
        .join(LANDSAT)
        .join(format!("{LANDSAT}_{suffix}"))
}

/// A Sentinel-2 image inside the .SAFE, e.g. `s2("R20m", "SCL_20m")`.
pub fn s2(res: &str, band: &str) -> PathBuf {
    deliveries()
        .join(SAFE)
        .join(format!("{IMG}/{res}/T33UUP_20231015T101019_{band}.jp2"))
}

#[test]
fn landsat_bands_carry_the_collection_2_metadata() {
    let qa = read(&landsat("QA_PIXEL.TIF"));
    assert_eq!((qa.width, qa.height), (253, 199));
    assert_eq!((qa.types[0].as_str(), qa.nodata[0]), ("UInt16", Some(1.0)));
    let fill: Vec<bool> = qa.bands[0].iter().map(|&v| v == 1.0).collect();
    for sr in ["SR_B4.TIF", "SR_B5.TIF"] {
        let path = landsat(sr);
        let r = read(&path);
        assert_eq!((r.types[0].as_str(), r.nodata[0]), ("UInt16", Some(0.0)));
        assert_eq!((r.gt, r.width, r.height), (qa.gt, qa.width, qa.height));
        assert_same_crs(&r.wkt, &qa.wkt, sr);
        let ds = gdal::Dataset::open(&path).unwrap();
        let band = ds.rasterband(1).unwrap();
        assert_eq!((band.scale(), band.offset()), (Some(2.75e-05), Some(-0.2)));
        // SR is nodata exactly where QA_PIXEL says fill.
        let zero: Vec<bool> = r.bands[0].iter().map(|&v| v == 0.0).collect();
        assert_eq!(zero, fill, "{sr}");
    }
    assert_eq!(qa.gt.unwrap()[1], 30.0);
    // Every flag bit, and every level of every two-bit confidence, occurs
    // on valid pixels (bit 0, fill, occurs as the nodata value 1).
    let valid: Vec<u32> = qa.bands[0]
        .iter()
        .filter(|&&v| v != 1.0)
        .map(|&v| v as u32)
        .collect();
    assert!(fill.iter().any(|&f| f) && !valid.is_empty());
    for bit in 1..8 {
        assert!(valid.iter().any(|v| v >> bit & 1 == 1), "bit {bit}");
    }
    for first in [8, 10, 12, 14] {
        for level in 0..4 {
            let seen = valid.iter().any(|v| (v >> first) & 3 == level);
            assert!(seen, "confidence bits {first}-{} = {level}", first + 1);
        }
    }
    for side in ["MTL.json", "MTL.txt"] {
        let text = std::fs::read_to_string(landsat(side)).unwrap();
        assert!(text.contains("REFLECTANCE_MULT_BAND_4") && text.contains("2.75E-05"));
    }
}

#[test]
fn sentinel2_grids_align_and_jpeg2000_is_lossless() {
    let b04 = read(&s2("R10m", "B04_10m"));
    let b04_20 = read(&s2("R20m", "B04_20m"));
    let scl = read(&s2("R20m", "SCL_20m"));
    let b01 = read(&s2("R60m", "B01_60m"));
    for (r, size, px, ty) in [
        (&b04, 240, 10.0, "UInt16"),
        (&read(&s2("R10m", "B08_10m")), 240, 10.0, "UInt16"),
        (&b04_20, 120, 20.0, "UInt16"),
        (&scl, 120, 20.0, "Byte"),
        (&b01, 40, 60.0, "UInt16"),
    ] {
        assert_eq!((r.width, r.height), (size, size));
        assert_eq!(r.gt, Some([300000.0, px, 0.0, 5900040.0, 0.0, -px]));
        assert_eq!((r.types[0].as_str(), r.nodata[0]), (ty, None));
        assert_same_crs(&r.wkt, &b04.wkt, "S2 grid");
    }
    let mut classes = [0usize; 256];
    scl.bands[0].iter().for_each(|&c| classes[c as usize] += 1);
    assert!(classes[..12].iter().all(|&n| n > 0), "{:?}", &classes[..12]);
    assert_eq!(classes[12..].iter().sum::<usize>(), 0);
    // The 20 m band is the 2x2 mean of the 10 m one, rounded: only true of
    // the decoded pixels if both JP2 files are lossless.
    for (i, &v) in b04_20.bands[0].iter().enumerate() {
        let (r, c) = (i / 120 * 2, i % 120 * 2);
        let at = |dr: usize, dc: usize| b04.bands[0][(r + dr) * 240 + c + dc];
        let mean = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4.0;
        let want = if scl.bands[0][i] == 0.0 {
            0.0
        } else {
            mean.round_ties_even()
        };
        assert_eq!(v, want, "20 m pixel {i}");
    }
    let xml = std::fs::read_to_string(deliveries().join(SAFE).join("MTD_MSIL2A.xml")).unwrap();
    assert!(xml.contains("<PROCESSING_BASELINE>05.09</PROCESSING_BASELINE>"));
    assert!(xml.contains(r#"<BOA_ADD_OFFSET band_id="3">-1000</BOA_ADD_OFFSET>"#));
    assert!(xml.contains(r#"<BOA_QUANTIFICATION_VALUE unit="none">10000<"#));
}

#[test]
fn archive_members_read_in_place_with_the_same_pixels() {
    // Reading a .gz, GDAL otherwise leaves a `.properties` sidecar (sizes
    // and seek snapshots) next to it: here among the fixtures, and in the
    // daemon's case in the inbox.
    gdal::config::set_config_option("CPL_VSIL_GZIP_WRITE_PROPERTIES", "NO").unwrap();
    let d = deliveries();
    let tif = format!("{LANDSAT}_QA_PIXEL.TIF");
    let jp2 = format!("{SAFE}/{IMG}/R10m/T33UUP_20231015T101019_B08_10m.jp2");
    for (virt, loose) in [
        (
            format!("/vsitar/{}/{LANDSAT}.tar/{tif}", d.display()),
            landsat("QA_PIXEL.TIF"),
        ),
        (
            format!("/vsitar/{}/{LANDSAT}.tar.gz/{tif}", d.display()),
            landsat("QA_PIXEL.TIF"),
        ),
        (
            format!("/vsizip/{}/{SAFE}.zip/{jp2}", d.display()),
            s2("R10m", "B08_10m"),
        ),
    ] {
        let (a, b) = (read(PathBuf::from(&virt).as_path()), read(&loose));
        assert_eq!((a.gt, &a.nodata), (b.gt, &b.nodata), "{virt}");
        assert!(a.bands == b.bands, "{virt}: pixels differ");
    }
    let stray: Vec<String> = list(&d)
        .into_iter()
        .filter(|n| n.ends_with(".properties"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}
