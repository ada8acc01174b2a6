//! Bad input: a clear one-line error naming the path and the cause, the
//! right exit code, no output and no temp file.

use std::path::Path;

use crate::util::*;

/// Run, expect `code`, check that stderr names `needle`s and nothing is left.
#[track_caller]
fn refused(env: &Env, args: &[&str], code: i32, needles: &[&str]) -> String {
    let run = env.run(args);
    run.fails(code);
    let err = run.stderr();
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
    assert!(
        !env.path("out.tif").exists(),
        "output written despite the error"
    );
    assert_no_temp(env.dir.path());
    err
}

#[test]
fn missing_file() {
    let env = Env::new();
    refused(
        &env,
        &["nope.tif", "-e", "b1", "-o", "out.tif"],
        1,
        &["nope.tif", "No such file"],
    );
}

#[test]
fn directory_as_input() {
    let env = Env::new();
    std::fs::create_dir(env.path("d.tif")).unwrap();
    refused(
        &env,
        &["d.tif", "-e", "b1", "-o", "out.tif"],
        1,
        &["d.tif", "directory"],
    );
}

#[test]
fn empty_and_non_raster_files() {
    let env = Env::new();
    env.write("empty.tif", "");
    refused(
        &env,
        &["empty.tif", "-e", "b1", "-o", "out.tif"],
        1,
        &["empty.tif", "empty"],
    );
    env.write("text.tif", "this is not a raster\n");
    refused(
        &env,
        &["text.tif", "-e", "b1", "-o", "out.tif"],
        1,
        &["text.tif", "not recognized"],
    );
}

#[test]
fn corrupt_tile_fails_instead_of_yielding_zeros() {
    let env = Env::new();
    let c = corpus("corrupt.tif");
    let err = refused(
        &env,
        &[c.to_str().unwrap(), "-e", "b1", "-o", "out.tif"],
        1,
        &["corrupt.tif", "truncated"],
    );
    // The file ends inside its tile 3: found from the TIFF's block table
    // before any pixel is read (see `tiffcheck`), not halfway through a job.
    assert!(err.contains("tile 3 of 4"), "{err}");
    // The same at any window/worker setting.
    refused(
        &env,
        &[
            c.to_str().unwrap(),
            "-e",
            "b1",
            "-o",
            "out.tif",
            "--window",
            "100",
            "-j",
            "3",
        ],
        1,
        &["corrupt.tif"],
    );
}

#[test]
fn expression_naming_a_missing_band() {
    let env = Env::new();
    let f = fixture("scene_small.tif");
    refused(
        &env,
        &[f.to_str().unwrap(), "-e", "b1 + b9", "-o", "out.tif"],
        2,
        &["scene_small.tif", "b9", "4 bands"],
    );
}

#[test]
fn unparsable_expression_shows_a_caret() {
    let env = Env::new();
    let f = fixture("scene_small.tif");
    let err = refused(
        &env,
        &[f.to_str().unwrap(), "-e", "(b1 + * 2", "-o", "out.tif"],
        2,
        &["scene_small.tif"],
    );
    let lines: Vec<&str> = err.lines().collect();
    let src_line = lines
        .iter()
        .position(|l| l.contains("(b1 + * 2"))
        .expect("source echoed");
    let caret = lines[src_line + 1];
    let col = caret.find('^').expect("caret line");
    let src_col = lines[src_line].find("(b1").unwrap();
    assert_eq!(col - src_col, 6, "caret under '*':\n{err}");
}

#[test]
fn unknown_output_type() {
    let env = Env::new();
    let f = fixture("scene_small.tif");
    refused(
        &env,
        &[
            f.to_str().unwrap(),
            "-e",
            "b1",
            "--ot",
            "Float16",
            "-o",
            "out.tif",
        ],
        2,
        &["Float16"],
    );
}

#[test]
fn missing_or_unwritable_output_folder() {
    let env = Env::new();
    let f = fixture("scene_small.tif");
    let missing = env.path("no/such/dir/out.tif");
    refused(
        &env,
        &[
            f.to_str().unwrap(),
            "-e",
            "b1",
            "-o",
            missing.to_str().unwrap(),
        ],
        1,
        &["no/such/dir"],
    );
    // Root ignores permission bits, so use a read-only filesystem instead.
    let ro = Path::new("/proc/tilerun-test-out.tif");
    refused(
        &env,
        &[f.to_str().unwrap(), "-e", "b1", "-o", ro.to_str().unwrap()],
        1,
        &["/proc"],
    );
    // A regular file where the folder should be.
    env.write("file", "x");
    refused(
        &env,
        &[f.to_str().unwrap(), "-e", "b1", "-o", "file/out.tif"],
        1,
        &["file"],
    );
}

#[test]
fn output_equal_to_input() {
    let env = Env::new();
    std::fs::copy(fixture("scene_small.tif"), env.path("in.tif")).unwrap();
    let before = std::fs::read(env.path("in.tif")).unwrap();
    refused(
        &env,
        &["in.tif", "-e", "b1", "-o", "./in.tif"],
        2,
        &["in.tif", "input"],
    );
    assert_eq!(
        std::fs::read(env.path("in.tif")).unwrap(),
        before,
        "input modified"
    );
}

#[test]
fn bad_config_is_a_usage_error_naming_key_and_line() {
    let env = Env::new();
    env.write("config.toml", "[engine]\nworkers = 1\nwokers = 2\n");
    let f = fixture("scene_small.tif");
    refused(
        &env,
        &[f.to_str().unwrap(), "-e", "b1", "-o", "out.tif"],
        2,
        &["config.toml", "wokers", "line 3"],
    );
    refused(
        &env,
        &[
            f.to_str().unwrap(),
            "-r",
            "nope",
            "-o",
            "out.tif",
            "--config",
            "config.toml",
        ],
        2,
        &["config.toml"],
    );
    env.write("ok.toml", "");
    refused(
        &env,
        &[
            f.to_str().unwrap(),
            "-r",
            "nope",
            "-o",
            "out.tif",
            "--config",
            "ok.toml",
        ],
        2,
        &["nope"],
    );
    refused(
        &env,
        &[
            f.to_str().unwrap(),
            "-e",
            "b1",
            "-o",
            "out.tif",
            "--config",
            "missing.toml",
        ],
        2,
        &["missing.toml"],
    );
}

#[test]
fn nodata_that_the_type_cannot_hold() {
    let env = Env::new();
    let f = fixture("scene_small.tif");
    refused(
        &env,
        &[
            f.to_str().unwrap(),
            "-e",
            "b1",
            "--ot",
            "Byte",
            "--nodata",
            "-9999",
            "-o",
            "out.tif",
        ],
        2,
        &["--nodata", "Byte"],
    );
}
