//! Hostile and broken inputs through the one-shot CLI: every case of the
//! generated corpus (tests/hostile/gen.py) is refused with one clean line or
//! processed faithfully; never a crash, hang, panic, partial output or
//! leftover temp file. Plus the policies a config can widen.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// One case of the generated corpus (see gen.py's docstring).
pub struct Case {
    pub path: PathBuf,
    pub name: String,
    pub expect: String,
    /// The outcome expected when dropped in the daemon's inbox.
    pub daemon: String,
    pub kind: String,
    pub expr: String,
    pub reason: String,
}

/// Generate the corpus into `dir` and read its manifest.
pub fn corpus_cases(dir: &Path) -> Vec<Case> {
    let gen = root().join("tests/hostile/gen.py");
    let out = Command::new("/usr/bin/python3")
        .arg(&gen)
        .arg(dir)
        .output()
        .expect("run gen.py");
    assert!(
        out.status.success(),
        "gen.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let s = |c: &serde_json::Value, k: &str| c[k].as_str().unwrap().to_string();
    m["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let hex = s(c, "name_hex");
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            Case {
                path: dir.join(OsStr::from_bytes(&bytes)),
                name: s(c, "name"),
                expect: s(c, "expect"),
                daemon: s(c, "daemon"),
                kind: s(c, "kind"),
                expr: s(c, "expr"),
                reason: s(c, "reason"),
            }
        })
        .collect()
}

struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    secs: f64,
}

/// Run tilerun with a hard timeout; stdout/stderr go through files so a
/// chatty child can never block on a full pipe.
fn run_limited(env: &Env, args: &[&OsStr], limit: Duration) -> Outcome {
    let (o, e) = (env.path("stdout.txt"), env.path("stderr.txt"));
    let mut child = env
        .cmd()
        .args(args)
        .stdout(Stdio::from(std::fs::File::create(&o).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&e).unwrap()))
        .spawn()
        .expect("spawn tilerun");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tilerun {args:?} hung for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    Outcome {
        status,
        stdout: read(&o),
        stderr: read(&e),
        secs: start.elapsed().as_secs_f64(),
    }
}

#[test]
fn every_hostile_case_is_refused_cleanly_or_processed_faithfully() {
    let env = Env::new();
    let dir = env.path("corpus");
    let outdir = env.path("out");
    std::fs::create_dir(&outdir).unwrap();
    let cases = corpus_cases(&dir);
    assert!(cases.len() >= 50, "only {} cases generated", cases.len());
    let (mut refused, mut processed) = (0, 0);
    for (i, c) in cases.iter().enumerate() {
        let out = outdir.join(format!("{i}.tif"));
        let args: Vec<&OsStr> = vec![
            "-e".as_ref(),
            c.expr.as_ref(),
            "--ot".as_ref(),
            "Float64".as_ref(),
            "--nodata".as_ref(),
            "-1e300".as_ref(),
            "-j".as_ref(),
            "2".as_ref(),
            "--json".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
            // Names may start with '-': everything after `--` is the input.
            "--".as_ref(),
            c.path.as_os_str(),
        ];
        let r = run_limited(&env, &args, Duration::from_secs(60));
        let what = format!("{} ({}): {}", c.name.escape_debug(), c.reason, r.stderr);
        let code = r.status.code();
        assert!(code.is_some(), "killed by a signal: {what}");
        assert!(!r.stderr.contains("panicked"), "panic: {what}");
        assert!(r.secs < 30.0, "took {:.1}s: {what}", r.secs);
        assert_no_temp(&outdir);
        if c.expect == "refuse" {
            assert_eq!(code, Some(1), "expected a refusal: {what}");
            assert!(!out.exists(), "output written for a refused input: {what}");
            let errors: Vec<&str> = r
                .stderr
                .lines()
                .filter(|l| l.starts_with("tilerun: error: "))
                .collect();
            assert_eq!(errors.len(), 1, "one error line: {what}");
            // The line names the input, escaped, then says why.
            let shown = tilerun::error::show(&c.path);
            assert!(
                errors[0].starts_with(&format!("tilerun: error: {shown}: ")),
                "error line does not start with the escaped path {shown:?}: {what}"
            );
            assert!(errors[0].len() > shown.len() + 20, "no cause given: {what}");
            refused += 1;
        } else {
            assert_eq!(code, Some(0), "expected success: {what}");
            let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
            assert!(json["warnings"].is_array(), "{what}");
            assert_same_pixels(&c.path, &out, &env, &what);
            processed += 1;
        }
    }
    assert!(
        refused >= 30 && processed >= 15,
        "{refused} refused, {processed} processed"
    );
    assert_no_temp(&dir);
}

/// The output holds the input's band 1 exactly, nodata where GDAL's mask
/// says the input is invalid. GDAL reads a plain-named copy of the input,
/// since odd names are part of what is tested.
pub fn assert_same_pixels(input: &Path, out: &Path, env: &Env, what: &str) {
    let ext = input.extension().map(|e| e.to_string_lossy().into_owned());
    let copy = env.path(&format!("ref.{}", ext.unwrap_or_else(|| "tif".into())));
    std::fs::copy(input, &copy).unwrap();
    let src = read(&copy);
    // The gdal crate opens paths through a lossy UTF-8 copy: read odd names
    // through a plain-named copy.
    let out_copy = env.path("ref_out.tif");
    std::fs::copy(out, &out_copy).unwrap();
    let got = read(&out_copy);
    std::fs::remove_file(&out_copy).unwrap();
    assert_eq!((got.width, got.height), (src.width, src.height), "{what}");
    for (i, (&g, &s)) in got.bands[0].iter().zip(&src.bands[0]).enumerate() {
        let want = if src.masks[0][i] != 0 && !s.is_nan() {
            s
        } else {
            -1e300
        };
        assert_eq!(g, want, "pixel {i}: {what}");
    }
    std::fs::remove_file(&copy).unwrap();
}

/// Remote and in-memory GDAL paths are refused before GDAL sees them, with
/// a message saying why (and without any network access).
#[test]
fn gdal_virtual_paths_are_refused() {
    let env = Env::new();
    for p in [
        "/vsicurl/http://127.0.0.1:9/x.tif",
        "/vsimem/x.tif",
        "/vsizip//tmp/x.zip/x.tif",
        "/vsigzip//tmp/x.tif.gz",
    ] {
        let r = env.run(["-e", "b1", "-o", "out.tif", "--", p]);
        r.fails(1);
        assert!(
            r.stderr().contains("virtual file systems") && r.stderr().contains(p),
            "{p}: {}",
            r.stderr()
        );
    }
    assert!(!env.path("out.tif").exists());
}

/// Refused by default, accepted once the config says so: the sparse policy,
/// the driver allow-list and the block-size limit.
#[test]
fn config_widens_what_is_accepted() {
    let env = Env::new();
    let dir = env.path("corpus");
    corpus_cases(&dir);
    let sparse = dir.join("sparse.tif");
    let run = |cfg: &str, input: &Path| {
        env.write("c.toml", cfg);
        let _ = std::fs::remove_file(env.path("out.tif"));
        env.run([
            "--config".as_ref(),
            "c.toml".as_ref(),
            "-e".as_ref(),
            "b1".as_ref(),
            "-o".as_ref(),
            "out.tif".as_ref(),
            input.as_os_str(),
        ])
    };
    let r = run("", &sparse);
    r.fails(1);
    assert!(r.stderr().contains("allow_sparse"), "{}", r.stderr());
    run("[input]\nallow_sparse = true\n", &sparse).ok();
    // The written tile is kept, the three missing ones read as 0.
    let got = read(&env.path("out.tif"));
    assert_eq!(got.bands[0][0], 9.0);
    assert_eq!(got.bands[0][127 * 128 + 127], 0.0);
    // Truncation is never accepted, sparse or not.
    let r = run(
        "[input]\nallow_sparse = true\n",
        &dir.join("trunc_mid_tile_data.tif"),
    );
    r.fails(1);
    assert!(r.stderr().contains("truncated"), "{}", r.stderr());

    // VRT is refused by default, and reads through once allowed.
    let vrt = dir.join("vrt_to_good.tif");
    run("", &vrt).fails(1);
    run("[input]\nallowed_drivers = [\"GTiff\", \"VRT\"]\n", &vrt).ok();
    // Still no way to read a non-raster through it.
    let r = run(
        "[input]\nallowed_drivers = [\"GTiff\", \"VRT\"]\n",
        &dir.join("passwd.vrt"),
    );
    r.fails(1);
    assert!(!r.stderr().contains("root:"), "{}", r.stderr());

    // A block limit below the file's 64x64 Byte tiles refuses it.
    let good = dir.join("good_tiled.tif");
    let r = run("[limits]\nmax_block_bytes = 4000\n", &good);
    r.fails(1);
    assert!(
        r.stderr().contains("limits.max_block_bytes"),
        "{}",
        r.stderr()
    );
    run("[limits]\nmax_block_bytes = 4096\n", &good).ok();
    assert_no_temp(env.dir.path());
}

/// GDAL warnings during a job reach the JSON summary and stderr, once each
/// line, with the input path.
#[test]
fn gdal_warnings_are_reported_per_job() {
    let env = Env::new();
    let dir = env.path("corpus");
    corpus_cases(&dir);
    let r = env.run([
        "-e".as_ref(),
        "b1".as_ref(),
        "--json".as_ref(),
        "-o".as_ref(),
        "out.tif".as_ref(),
        dir.join("ifd_loop.tif").as_os_str(),
    ]);
    r.ok();
    let json: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    let warnings = json["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("looping")),
        "{json}"
    );
    assert!(r.stderr().contains("ifd_loop.tif: GDAL:"), "{}", r.stderr());
}
