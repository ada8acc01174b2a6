//! Each bad request is a usage error (exit 2) naming the option and the
//! reason, before any output or temp file exists.

use super::*;

#[track_caller]
fn refused(args: &[&str], needles: &[&str]) {
    let env = Env::new();
    let scene = fixture("scene_small.tif");
    let mut all = vec![scene.to_str().unwrap()];
    all.extend(args);
    all.extend(["-o", "out.tif"]);
    let run = env.run(&all);
    run.fails(2);
    let err = run.stderr();
    for n in needles {
        assert!(err.contains(n), "{args:?}: stderr lacks {n:?}:\n{err}");
    }
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert_eq!(env.files(), Vec::<String>::new(), "{args:?} left files");
}

#[test]
fn overlapping_reclass_rules() {
    refused(
        &[
            "--op",
            "reclass",
            "--band",
            "4",
            "--set",
            "rules=[0,100):1; [50,200]:2",
        ],
        &["reclass", "--set rules", "[0,100)", "[50,200]", "overlap"],
    );
}

#[test]
fn rescale_input_min_not_below_max() {
    refused(
        &["--op", "rescale", "--set", "in=3000,0"],
        &[
            "rescale",
            "in=3000,0",
            "min (3000) must be less than max (0)",
        ],
    );
    refused(
        &["--op", "rescale", "--set", "in=5,5", "--band", "1"],
        &["in=5,5", "less than"],
    );
}

#[test]
fn unknown_resampling_method() {
    refused(
        &["-e", "b1", "--overviews", "2", "--resampling", "bicubic"],
        &["--resampling", "bicubic", "nearest, average"],
    );
    refused(
        &["-e", "b1", "--overviews", "4,2"],
        &["--overviews", "increasing"],
    );
}

#[test]
fn output_type_that_cannot_hold_the_nodata() {
    refused(
        &["-e", "b1", "--ot", "Byte", "--nodata", "-1"],
        &["--nodata", "-1", "Byte"],
    );
    refused(
        &["-e", "b1", "--ot", "Int16", "--nodata", "0.5"],
        &["--nodata", "Int16", "integers only"],
    );
    refused(
        &["-e", "b1", "--ot", "UInt16", "--nodata", "nan"],
        &["--nodata", "NaN", "UInt16"],
    );
}

#[test]
fn cog_with_incompatible_creation_options() {
    for (co, why) in [
        ("TILED=YES", "COG is always tiled"),
        ("BLOCKXSIZE=256", "BLOCKSIZE"),
        ("OVERVIEWS=AUTO", "use --overviews"),
        ("RESAMPLING=MODE", "use --resampling"),
        ("TARGET_SRS=EPSG:3857", "keeps the input's grid"),
        ("COMPRESS=JPEG", "needs --ot Byte"),
    ] {
        let key = co.split('=').next().unwrap();
        refused(
            &["-e", "b1", "--ot", "UInt16", "--of", "COG", "--co", co],
            &[&format!("--co {key}"), why],
        );
    }
}
