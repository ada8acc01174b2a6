//! A GDAL user's habits, and nothing ignored without a word: the format
//! follows the output's extension, GDAL's single-dash flags work, creation
//! options are held to the driver's own list, `-b` beside `--expr` is an
//! error, an existing output needs `--overwrite`, and a stuck user gets a
//! hint. Every refusal: its exit code, a message naming the file and the
//! key, and nothing on disk.

use std::path::Path;

use gdal::Metadata;

use crate::util::*;

/// Run in a fresh folder holding `in.tif` (a copy of `input`); expect
/// `code` and every needle on stderr, and no file beyond the input.
#[track_caller]
fn refused(input: &str, args: &[&str], code: i32, needles: &[&str]) -> String {
    let env = Env::new();
    std::fs::copy(fixture(input), env.path("in.tif")).unwrap();
    let mut all = vec!["in.tif"];
    all.extend(args);
    let run = env.run(&all);
    run.fails(code);
    let err = run.stderr();
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} missing from:\n{err}");
    }
    assert_eq!(env.files(), ["in.tif"], "{args:?} left files behind");
    err
}

fn driver(p: &Path) -> String {
    gdal::Dataset::open(p).unwrap().driver().short_name()
}

#[test]
fn the_output_extension_picks_the_format_and_a_contradiction_is_refused() {
    let env = Env::new();
    let dem = fixture("dem_small.tif");
    let dem = dem.to_str().unwrap();
    env.run([dem, "--op", "hillshade", "-o", "hs.tif"]).ok();
    env.run([dem, "--op", "hillshade", "-o", "hs.png"]).ok();
    env.run([
        dem,
        "--op",
        "hillshade",
        "-o",
        "hs.jpg",
        "--co",
        "QUALITY=95",
    ])
    .ok();
    let png = std::fs::read(env.path("hs.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG under .png");
    assert_eq!(driver(&env.path("hs.png")), "PNG");
    assert_eq!(driver(&env.path("hs.jpg")), "JPEG");
    // PNG is lossless: the very pixels of the GeoTIFF.
    let tif = read(&env.path("hs.tif"));
    assert_eq!(read(&env.path("hs.png")).bands, tif.bands);
    // JPEG at quality 95 stays close (mean error under 1.5 DN).
    let jpg = read(&env.path("hs.jpg"));
    let err: f64 = jpg.bands[0]
        .iter()
        .zip(&tif.bands[0])
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / tif.bands[0].len() as f64;
    assert!(err < 1.5, "JPEG mean error {err}");
    // UInt16 fits PNG.
    let scene = fixture("scene_small.tif");
    env.run([
        scene.to_str().unwrap(),
        "-e",
        "b1",
        "--ot",
        "UInt16",
        "-o",
        "b1.png",
    ])
    .ok();
    assert_eq!(read(&env.path("b1.png")).types, ["UInt16"]);

    let hs = ["--op", "hillshade"];
    refused(
        "dem_small.tif",
        &[&hs[..], &["-o", "x.png", "--of", "GTiff"]].concat(),
        2,
        &["x.png", "format GTiff", "'.png'"],
    );
    refused(
        "dem_small.tif",
        &[&hs[..], &["-o", "x.tif", "--of", "PNG"]].concat(),
        2,
        &["x.tif", "format PNG"],
    );
    refused(
        "dem_small.tif",
        &["--op", "slope", "-o", "x.png"],
        2,
        &["x.png", "PNG holds only Byte or UInt16", "Float32"],
    );
    refused(
        "dem_small.tif",
        &[&hs[..], &["-o", "x.jpg", "--ot", "UInt16"]].concat(),
        2,
        &["x.jpg", "JPEG holds only Byte"],
    );
    refused(
        "dem_small.tif",
        &[&hs[..], &["-o", "x.img"]].concat(),
        2,
        &["x.img", "HFA"],
    );
}

#[test]
fn gdal_spellings_of_flags_are_understood() {
    let env = Env::new();
    let scene = fixture("scene_small.tif");
    let s = scene.to_str().unwrap();
    let op = [s, "--op", "focal", "--set", "stat=mean"];
    let gdal = [&op[..], &["-b", "2", "-of", "COG", "-co", "COMPRESS=ZSTD"]].concat();
    let gdal = [&gdal[..], &["-ot", "Float64", "-q", "-o", "gdal.tif"]].concat();
    let run = env.run(&gdal);
    run.ok();
    assert!(!run.stderr().contains("'-c'"), "{}", run.stderr());
    let long = [
        &op[..],
        &["--band", "2", "--of", "COG", "--co", "COMPRESS=ZSTD"],
    ]
    .concat();
    let long = [&long[..], &["--ot", "Float64", "--quiet", "-o", "long.tif"]].concat();
    env.run(&long).ok();
    let (g, l) = (read(&env.path("gdal.tif")), read(&env.path("long.tif")));
    assert_eq!(g.types, ["Float64"]);
    assert_eq!(g.bands, l.bands);
    let ds = gdal::Dataset::open(env.path("gdal.tif")).unwrap();
    assert_eq!(
        ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
        Some("COG")
    );
    assert_eq!(
        ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
            .as_deref(),
        Some("ZSTD")
    );
    // -b repeated, GDAL style, picks bands in order; -overwrite replaces.
    let args = [
        s,
        "--op",
        "rescale",
        "--set",
        "in=0,3000",
        "-b",
        "3",
        "-b",
        "1",
    ];
    env.run([&args[..], &["-o", "two.tif"]].concat()).ok();
    env.run([&args[..], &["-o", "two.tif", "-overwrite"]].concat())
        .ok();
    assert_eq!(read(&env.path("two.tif")).bands.len(), 2);
}

#[test]
fn unknown_creation_options_and_values_are_refused_by_name() {
    let e = &["-e", "b1", "-o", "out.tif"];
    refused(
        "scene_small.tif",
        &[&e[..], &["--co", "COMPRESS=BOGUS"]].concat(),
        2,
        &["out.tif", "--co COMPRESS=BOGUS", "unexpected value", "ZSTD"],
    );
    refused(
        "scene_small.tif",
        &[&e[..], &["-co", "COMPRES=ZSTD"]].concat(),
        2,
        &["out.tif", "COMPRES", "did you mean COMPRESS?"],
    );
    refused(
        "scene_small.tif",
        &[&e[..], &["--of", "COG", "--co", "LEVEL=high"]].concat(),
        2,
        &["out.tif", "--co LEVEL=high", "int"],
    );
    refused(
        "scene_small.tif",
        &[
            "-e",
            "b1",
            "--ot",
            "Byte",
            "-o",
            "out.png",
            "--co",
            "QUALITY=90",
        ],
        2,
        &["out.png", "QUALITY", "PNG"],
    );
    // What the driver does take still works.
    let env = Env::new();
    let scene = fixture("scene_small.tif");
    let args = [scene.to_str().unwrap(), "-e", "b1", "-o", "z.tif"];
    env.run(
        [
            &args[..],
            &["--co", "COMPRESS=ZSTD", "--co", "ZSTD_LEVEL=9"],
        ]
        .concat(),
    )
    .ok();
    let ds = gdal::Dataset::open(env.path("z.tif")).unwrap();
    assert_eq!(
        ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
            .as_deref(),
        Some("ZSTD")
    );
}

#[test]
fn band_with_an_expression_is_refused() {
    refused(
        "scene_small.tif",
        &["-b", "2", "--expr", "b1*2", "-o", "out.tif"],
        2,
        &["--band/-b", "the expression names its bands"],
    );
}

#[test]
fn an_existing_output_is_refused_unless_overwrite() {
    let env = Env::new();
    let scene = fixture("scene_small.tif");
    let s = scene.to_str().unwrap();
    env.run([s, "-e", "b1", "-o", "out.tif"]).ok();
    let before = std::fs::read(env.path("out.tif")).unwrap();
    let run = env.run([s, "-e", "b2", "-o", "out.tif"]);
    run.fails(2);
    assert!(
        run.stderr()
            .contains("out.tif: output exists; add --overwrite"),
        "{}",
        run.stderr()
    );
    assert_eq!(std::fs::read(env.path("out.tif")).unwrap(), before);
    assert_eq!(env.files(), ["out.tif"]);
    env.run([s, "-e", "b2", "-o", "out.tif", "--overwrite"])
        .ok();
    env.run([s, "-e", "b2", "-o", "b2.tif"]).ok();
    assert!(
        read(&env.path("out.tif")).bands == read(&env.path("b2.tif")).bands,
        "--overwrite did not replace the output"
    );
    let help = env.run(["--help"]).stdout();
    assert!(help.contains("--overwrite") && help.contains("existing output is refused"));
}

#[test]
fn hints_where_a_user_is_stuck() {
    refused(
        "dem_small.tif",
        &["--op", "slope", "--set", "unitz=percent", "-o", "out.tif"],
        2,
        &[
            "in.tif",
            "unitz",
            "did you mean 'units'?",
            "valid: band, alg, scale, units",
        ],
    );
    refused(
        "dem_small.tif",
        &["--op", "focal", "-o", "out.tif"],
        2,
        &["in.tif", "stat is required (it has no default)"],
    );
    refused(
        "dem_small.tif",
        &["--recipe", "ndvi", "-o", "out.tif"],
        2,
        &[
            "--recipe ndvi",
            "no config file found",
            "./config.toml",
            "--config FILE",
        ],
    );
    // A VRT is refused by the driver allow-list, which says where it is set.
    let env = Env::new();
    let dem = fixture("dem_small.tif");
    oracle(
        "/usr/bin/gdal_translate",
        &[
            "-q",
            "-of",
            "VRT",
            dem.to_str().unwrap(),
            env.path("d.vrt").to_str().unwrap(),
        ],
    );
    let run = env.run(["d.vrt", "-e", "b1", "-o", "out.tif"]);
    run.fails(1);
    assert!(run.stderr().contains("d.vrt") && run.stderr().contains("[input] allowed_drivers"));
    assert_eq!(env.files(), ["d.vrt"]);
    // No arguments: the help, with the subcommands.
    let run = env.run::<[&str; 0], &str>([]);
    run.fails(2);
    let text = run.stderr() + &run.stdout();
    assert!(
        text.contains("Commands:") && text.contains("watch"),
        "{text}"
    );
    // watch --help points to the config keys.
    let help = env.run(["watch", "--help"]).stdout();
    for key in [
        "[watch]",
        "inbox",
        "output",
        "[[watch.rules]]",
        "[recipes.NAME]",
    ] {
        assert!(
            help.contains(key),
            "{key} missing from watch --help:\n{help}"
        );
    }
}
