//! Every file of the shared rasterio corpus is processed correctly or refused
//! cleanly. Values are checked against a computation done here from GDAL's
//! own reading of the input, with GDAL's mask band as the validity oracle.

use crate::util::*;

#[test]
fn every_corpus_file_is_processed_or_refused_cleanly() {
    let env = Env::new();
    let mut processed = 0;
    for name in list(&corpus_dir()) {
        if !name.ends_with(".tif") {
            continue;
        }
        let src_path = corpus(&name);
        let out = env.path(&format!("out_{name}"));
        if name == "corrupt.tif" {
            let run = env.run([
                src_path.as_os_str(),
                "-e".as_ref(),
                "b1".as_ref(),
                "-o".as_ref(),
                out.as_os_str(),
            ]);
            run.fails(1);
            assert!(run.stderr().contains("corrupt.tif"), "{}", run.stderr());
            assert!(!out.exists());
            continue;
        }
        let src_ds = read(&src_path);
        let n = src_ds.bands.len();
        // Sum of every band, in f64: touches all bands and their nodata.
        let expr: Vec<String> = (1..=n).map(|b| format!("b{b}")).collect();
        let expr = expr.join(" + ");
        let run = env.run([
            src_path.as_os_str(),
            "-e".as_ref(),
            expr.as_ref(),
            "--ot".as_ref(),
            "Float64".as_ref(),
            "--nodata".as_ref(),
            "-1e300".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
            "--window".as_ref(),
            "100".as_ref(),
        ]);
        run.ok();
        let got = read(&out);
        assert_eq!(
            (got.width, got.height),
            (src_ds.width, src_ds.height),
            "{name}"
        );
        assert_eq!(got.gt, src_ds.gt, "{name}: geotransform");
        assert_same_crs(&got.wkt, &src_ds.wkt, &name);
        let mut valid = 0usize;
        for i in 0..got.bands[0].len() {
            let ok = (0..n).all(|b| src_ds.masks[b][i] != 0 && !src_ds.bands[b][i].is_nan());
            let want = if ok {
                (0..n).map(|b| src_ds.bands[b][i]).sum::<f64>()
            } else {
                -1e300
            };
            assert_eq!(got.bands[0][i], want, "{name}: pixel {i}");
            valid += ok as usize;
        }
        if name != "all-nodata.tif" {
            assert!(valid > 0, "{name}: no valid pixel compared");
        }
        processed += 1;
    }
    assert_no_temp(env.dir.path());
    assert!(processed >= 25, "only {processed} corpus files processed");
}
