//! Start-up and what the daemon says: a broken config (a missing inbox or
//! output folder, any flaw in any recipe) exits 2 before READY=1, against a
//! real `NOTIFY_SOCKET`, naming the file, the line and the key and leaving
//! the disk as it was; a running daemon logs its warnings' text and the
//! outputs it replaces.

use std::time::Duration;

use super::harness::*;
use super::notify::Socket;
use crate::util::*;

/// Start the daemon with a real notification socket: it must exit 2
/// without READY=1, say every `needle`, and leave the site's files exactly
/// as they were. Returns what it said.
#[track_caller]
fn refused_before_ready(site: &Site, needles: &[String]) -> String {
    let sock = Socket::bind(site);
    let before = tree(site.env.dir.path());
    let mut d = Daemon::spawn(sock.cmd(site, 0));
    let code = d.wait_exit(60);
    let text = d.text();
    assert_eq!(code, 2, "{text}");
    let got = sock.during(Duration::from_millis(200));
    assert!(
        !got.iter().any(|m| m.contains("READY=1")),
        "READY=1 sent by a refused start: {got:?}"
    );
    for n in needles {
        assert!(text.contains(n.as_str()), "{n:?} missing from:\n{text}");
    }
    assert_eq!(
        tree(site.env.dir.path()),
        before,
        "a refused start changed the disk:\n{text}"
    );
    text
}

#[test]
fn a_missing_inbox_or_output_folder_is_refused_before_ready_and_nothing_is_created() {
    let fresh = || Site::new(&[("*.tif", "double")], "");
    // A typo in either folder: named by key, path and line.
    for key in ["inbox", "output"] {
        let site = fresh();
        let dir = if key == "inbox" {
            &site.inbox
        } else {
            &site.out
        };
        std::fs::remove_dir(dir).unwrap();
        let line = site.line_of(&format!("{key} = '{}'", dir.display()));
        refused_before_ready(
            &site,
            &[
                format!("watch.toml:{line}: [watch] {key} = {}", dir.display()),
                "no such folder".into(),
            ],
        );
        for d in [&site.work, &site.done, &site.failed, dir] {
            assert!(!d.exists(), "{} was created", d.display());
        }
    }
    // Output inside the inbox: refused before inbox/out/ is made, and
    // before any state folder is made when inbox/out/ already exists.
    for exists in [false, true] {
        let site = fresh();
        let inside = site.inbox.join("out");
        if exists {
            std::fs::create_dir(&inside).unwrap();
        }
        let text = std::fs::read_to_string(&site.config).unwrap().replace(
            &format!("output = '{}'", site.out.display()),
            &format!("output = '{}'", inside.display()),
        );
        std::fs::write(&site.config, text).unwrap();
        let line = site.line_of(&format!("output = '{}'", inside.display()));
        let why = if exists {
            "overlaps the inbox"
        } else {
            "no such folder"
        };
        refused_before_ready(
            &site,
            &[format!("watch.toml:{line}: [watch] output"), why.into()],
        );
        assert_eq!(inside.exists(), exists);
    }
    // With the inbox and output in place, the state folders are made
    // beside the inbox and the daemon gets ready.
    let site = fresh();
    let sock = Socket::bind(&site);
    let mut d = Daemon::spawn(sock.cmd(&site, 0));
    sock.until(60, "READY=1");
    for dir in [&site.work, &site.done, &site.failed] {
        assert!(dir.is_dir(), "{} not created", dir.display());
    }
    d.stop();
}

#[test]
fn every_recipe_is_checked_completely_before_ready_and_by_the_cli() {
    // (a recipe no rule uses, a text on the faulty line, what the message says)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "op = 'hillshade'\nset = { azimuth = 315, altitud = 45 }",
            "altitud",
            &["set.altitud", "valid: band, alg, scale, azimuth, altitude"],
        ),
        (
            "op = 'hillshade'\nset = { altitude = 95 }",
            "altitude = 95",
            &["set.altitude", "within 0..90"],
        ),
        (
            "op = 'focal'\nset = { size = 5 }",
            "op = 'focal'",
            &["set.stat", "no default"],
        ),
        ("op = 'slopes'", "slopes", &["op", "did you mean 'slope'"]),
        ("expr = 'b1'\not = 'Float23'", "Float23", &["ot", "Float23"]),
        (
            "expr = 'b1'\not = 'Byte'\nnodata = -1",
            "nodata = -1",
            &["nodata", "-1 cannot be stored in Byte"],
        ),
        ("expr = 'b1 * * 2'", "b1 * *", &["expr", "column 6"]),
        (
            "expr = 'b1'\nband = 2",
            "band = 2",
            &["band", "names its bands"],
        ),
        (
            "expr = 'b1'\nco = { COMPRESS = 'BOGUS' }",
            "BOGUS",
            &["co.COMPRESS", "'BOGUS'", "ZSTD"],
        ),
        (
            "expr = 'b1'\noutput = '../{stem}.tif'",
            "../",
            &["output", "not a plain file name"],
        ),
        (
            "expr = 'b1'\noutput = '{stem}.png'",
            "{stem}.png",
            &["output", "PNG", "Float32"],
        ),
    ];
    for (i, (body, at, words)) in cases.iter().enumerate() {
        let site = Site::new(&[("*.tif", "double")], "");
        let name = format!("unused{i}");
        site.append(&format!("[recipes.{name}]\n{body}"));
        let line = site.line_of(at);
        let mut needles: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        needles.push(format!("recipe '{name}'"));
        let text = refused_before_ready(&site, &needles);
        // The file and line: `FILE:LINE:` from tilerun's checks, TOML's own
        // "line N" for a value that does not even deserialise.
        assert!(
            text.contains(&format!("watch.toml:{line}: "))
                || (text.contains("watch.toml") && text.contains(&format!("line {line},"))),
            "{body:?}: no watch.toml line {line} in\n{text}"
        );
        // The one-shot CLI checks the recipe it is asked for the same way.
        let out = site.env.path("cli.tif");
        let args = [
            fixture("scene_small.tif").into_os_string(),
            "--config".into(),
            site.config.clone().into_os_string(),
            "--recipe".into(),
            name.clone().into(),
            "-o".into(),
            out.clone().into_os_string(),
        ];
        let run = site.env.run(args);
        run.fails(2);
        for n in &needles {
            assert!(run.stderr().contains(n.as_str()), "{n:?}: {}", run.stderr());
        }
        assert!(!out.exists(), "{body:?}: the CLI wrote an output");
        assert_no_temp(site.env.dir.path());
    }
}

#[test]
fn warnings_reach_the_log_as_text_in_json_and_text_formats() {
    let site = Site::new(&[("*.tif", "hs")], "");
    site.append("[recipes.hs]\nop = 'hillshade'\noutput = '{stem}_hs.tif'");
    // gdaldem's documented scale for a DEM in degrees, said in words.
    let said = "input CRS is geographic; using scale=111120";
    let mut d = site.start();
    d.wait_ready();
    site.drop_in(&fixture("dem_geo.tif"), "geo.tif");
    let v = d.wait_log(60, "geo.tif done", |v| {
        v["outcome"] == "done" && v["input"] == "geo.tif"
    });
    d.stop();
    assert_eq!(v["warnings"], 1, "{v}");
    let text = v["warning_text"].as_str().unwrap_or_default();
    assert!(text.contains(said), "{v}");

    let mut c = site.env.cmd();
    for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM"] {
        c.env_remove(var);
    }
    c.args(["watch", "--log-format", "text", "--config"])
        .arg(&site.config);
    let mut d = Daemon::spawn(c);
    wait_until(60, "ready", || d.text().contains(" ready "));
    site.drop_in(&fixture("dem_geo.tif"), "geo2.tif");
    wait_until(60, "geo2.tif done", || d.text().contains("done geo2.tif"));
    d.stop();
    let log = d.text();
    let line = log.lines().find(|l| l.contains("done geo2.tif")).unwrap();
    assert!(line.contains("warnings=1"), "{line}");
    assert!(
        line.contains(&format!("warning_text=hillshade: {said}")),
        "{line}"
    );
}

/// Two inputs whose outputs share a name, dropped together: both finish,
/// and the later commit's replacement is logged whatever the timing. (The
/// line used to come from a look before the job, which missed an output
/// committed while the second job was already running.)
#[test]
fn two_inputs_with_one_output_name_log_the_replacement_whatever_the_timing() {
    let site = Site::new(&[("*.tif", "double"), ("*.tiff", "double")], "");
    let mut d = site.start();
    d.wait_ready();
    site.drop_in(&fixture("rgb_band.tif"), "b.tif");
    site.drop_in(&fixture("dem_small.tif"), "b.tiff");
    wait_until(60, "both in done/", || {
        site.done.join("b.tif").exists() && site.done.join("b.tiff").exists()
    });
    d.stop();
    let logs = d.logs();
    let replaced: Vec<_> = logs.iter().filter(|v| v["event"] == "replaced").collect();
    assert_eq!(replaced.len(), 1, "{}", d.text());
    let out = site.out.join("b_x2.tif");
    assert_eq!(replaced[0]["output"], out.display().to_string());
    // The output is the one whose commit logged the replacement.
    let winner = match replaced[0]["input"].as_str() {
        Some("b.tif") => "rgb_band.tif",
        Some("b.tiff") => "dem_small.tif",
        other => panic!("replaced by {other:?}"),
    };
    assert_eq!(names(&site.out), ["b_x2.tif"]);
    assert_same_raster(&out, &site.reference(&fixture(winner), "double"));
}

#[test]
fn a_redelivered_input_replaces_its_output_and_the_log_names_both() {
    let site = Site::new(&[("*.tif", "double")], "");
    let mut d = site.start();
    d.wait_ready();
    site.drop_in(&fixture("rgb_band.tif"), "a.tif");
    wait_until(60, "a.tif in done/", || site.done.join("a.tif").exists());
    // Same name, other pixels: the new output replaces the old one.
    site.drop_in(&fixture("dem_small.tif"), "a.tif");
    let v = d.wait_log(60, "replaced", |v| v["event"] == "replaced");
    wait_until(60, "a.1.tif in done/", || {
        site.done.join("a.1.tif").exists()
    });
    d.stop();
    let out = site.out.join("a_x2.tif");
    assert_eq!(v["input"], "a.tif", "{v}");
    assert_eq!(v["output"], out.display().to_string(), "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains("a.tif") && msg.contains("a_x2.tif"), "{msg}");
    assert_eq!(
        d.logs().iter().filter(|v| v["event"] == "replaced").count(),
        1,
        "only the second delivery replaces: {}",
        d.text()
    );
    assert_eq!(names(&site.out), ["a_x2.tif"]);
    assert_eq!(names(&site.done), ["a.1.tif", "a.tif"]);
    assert_same_raster(&out, &site.reference(&fixture("dem_small.tif"), "double"));
}
