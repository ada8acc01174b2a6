//! Multi-band outputs are plain bands: no RGB, no alpha, unless the bands
//! keep an input's colours (a rescaled RGB image) or the user asks with
//! `--co PHOTOMETRIC=...` / `--co ALPHA=...` (README, "Metadata fidelity").
//! GDAL's GTiff default would make a 4-band Byte output RGB plus an alpha
//! band that every GDAL reader takes for a mask. Checked through python3-gdal
//! (colour interpretation, mask flags) and the TIFF tags themselves, read
//! here without GDAL.

use super::*;

/// GDAL's GMF_NODATA: the mask comes from the nodata value, not alpha.
const GMF_NODATA: i64 = 8;

/// (colour interpretation names, mask flags) of every band.
fn bands(path: &Path) -> (Vec<String>, Vec<i64>) {
    let code = "import sys\nfrom osgeo import gdal\nds = gdal.Open(sys.argv[1])\n\
        for i in range(ds.RasterCount):\n    b = ds.GetRasterBand(i + 1)\n    \
        print(gdal.GetColorInterpretationName(b.GetColorInterpretation()), b.GetMaskFlags())\n";
    let out = python(code, &[path.to_str().unwrap()]);
    out.lines()
        .map(|l| {
            let (ci, flags) = l.split_once(' ').unwrap();
            (ci.to_string(), flags.parse::<i64>().unwrap())
        })
        .unzip()
}

/// (PhotometricInterpretation, ExtraSamples) of every IFD of a
/// little-endian TIFF or BigTIFF.
fn tags(path: &Path) -> Vec<(u64, Vec<u64>)> {
    let f = std::fs::read(path).unwrap();
    let le = |at: usize, n: usize| {
        f[at..at + n]
            .iter()
            .rev()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b))
    };
    assert_eq!(&f[..2], b"II");
    let big = le(2, 2) == 43;
    let (cw, ew, vw) = if big { (8, 20, 8) } else { (2, 12, 4) };
    let mut next = if big { le(8, 8) } else { le(4, 4) } as usize;
    let mut out = Vec::new();
    while next != 0 {
        let n = le(next, cw) as usize;
        let (mut photometric, mut extra) = (0, vec![]);
        for i in 0..n {
            let e = next + cw + i * ew;
            let (tag, count) = (le(e, 2), le(e + 4, vw) as usize);
            let value = e + ew - vw;
            match tag {
                262 => photometric = le(value, 2),
                338 => {
                    let at = if 2 * count <= vw {
                        value
                    } else {
                        le(value, vw) as usize
                    };
                    extra = (0..count).map(|k| le(at + 2 * k, 2)).collect();
                }
                _ => {}
            }
        }
        out.push((photometric, extra));
        next = le(next + cw + n * ew, vw) as usize;
    }
    out
}

/// No IFD marks a sample as alpha (ExtraSamples 1 or 2).
#[track_caller]
fn assert_no_alpha_tag(path: &Path, what: &str) {
    for (k, (_, extra)) in tags(path).iter().enumerate() {
        assert!(
            extra.iter().all(|&e| e == 0),
            "{what}: IFD {k} ExtraSamples {extra:?}"
        );
    }
}

#[test]
fn computed_bands_are_plain_in_gtiff_and_cog() {
    let env = Env::new();
    let rgb = corpus("RGB.byte.tif");
    let outputs: [(&str, &[&str]); 4] = [
        ("GTiff", &[]),
        ("COG", &[]),                           // assembled by tilerun
        ("COG", &["--co", "COMPRESS=LZMA"]),    // assembled, another codec
        ("COG", &["--resampling", "bilinear"]), // GDAL's COG copy
    ];
    let mut n = 0;
    for (k, (of, extra)) in outputs.iter().enumerate() {
        for expr in ["b1;b2", "b1;b2;b3", "b1;b2;b3;b1", "b1;b2;b3;b1;b2"] {
            let out = env.path(&format!("{k}_{}.tif", expr.len()));
            let mut args = vec![rgb.to_str().unwrap(), "-e", expr, "--ot", "Byte"];
            args.extend(["--of", of, "-o", out.to_str().unwrap()]);
            args.extend_from_slice(extra);
            ok(&env, &args);
            let what = format!("{of} {extra:?} {expr}");
            let (ci, flags) = bands(&out);
            let count = expr.split(';').count();
            let mut want = vec!["Gray".to_string()];
            want.resize(count, "Undefined".into());
            assert_eq!(ci, want, "{what}");
            assert_eq!(flags, vec![GMF_NODATA; count], "{what}: masks");
            assert_no_alpha_tag(&out, &what);
            if *of == "GTiff" {
                assert!(tags(&out).iter().all(|t| t.0 == 1), "{what}: MINISBLACK");
            }
            if *of == "COG" {
                assert_valid_cog(&out);
            }
            n += 1;
        }
    }
    assert_eq!(n, 16);
}

#[test]
fn band_meaning_is_kept_on_purpose_and_the_user_can_ask_for_more() {
    let env = Env::new();
    let rgb = corpus("RGB.byte.tif");
    let rgba = corpus("RGBA.byte.tif");
    let r = |name: &str, args: &[&str]| {
        let out = env.path(name);
        let mut a = args.to_vec();
        a.extend(["-o", out.to_str().unwrap()]);
        ok(&env, &a);
        out
    };
    let rescale = ["--op", "rescale", "--set", "in=0,255"];
    // A rescaled RGB image stays RGB, in GTiff (Photometric RGB) and COG.
    for of in ["GTiff", "COG"] {
        let mut a = vec![rgb.to_str().unwrap(), "--band", "1,2,3", "--of", of];
        a.extend(rescale);
        let out = r(&format!("rgb_{of}.tif"), &a);
        assert_eq!(bands(&out).0, ["Red", "Green", "Blue"], "{of}");
        assert_eq!(tags(&out)[0].0, 2, "{of}: Photometric RGB");
    }
    // Reordered colours keep their names; alpha does not survive a stretch.
    let mut a = vec![rgb.to_str().unwrap(), "--band", "3,2,1"];
    a.extend(rescale);
    assert_eq!(bands(&r("bgr.tif", &a)).0, ["Blue", "Green", "Red"]);
    let mut a = vec![rgba.to_str().unwrap(), "--band", "1,2,3,4"];
    a.extend(rescale);
    let out = r("rgba.tif", &a);
    let (ci, flags) = bands(&out);
    assert_eq!(ci, ["Red", "Green", "Blue", "Undefined"]);
    assert_eq!(flags, vec![GMF_NODATA; 4]);
    assert_no_alpha_tag(&out, "rescaled RGBA");
    // The user's creation options win.
    let out = r(
        "asked.tif",
        &[
            rgb.to_str().unwrap(),
            "-e",
            "b1;b2;b3;b1",
            "--ot",
            "Byte",
            "--co",
            "PHOTOMETRIC=RGB",
            "--co",
            "ALPHA=YES",
        ],
    );
    assert_eq!(bands(&out).0, ["Red", "Green", "Blue", "Alpha"]);
    assert_eq!(tags(&out)[0], (2, vec![2]));
}
