//! Engine tests with real files: ops that panic, many jobs through one
//! long-lived engine, and cleanup on every path.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ndarray::Array2;

use crate::engine::job::JobError;
use crate::engine::Engine;
use crate::ops::{Block, Op};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn spec(
    input: &Path,
    output: &Path,
    expr: &str,
    window: Option<usize>,
) -> crate::plan::recipe::JobSpec {
    let cfg = crate::config::Config::default();
    let request = crate::plan::Request {
        files: vec![input.to_path_buf()],
        output: Some(output.to_path_buf()),
        op: Some(crate::plan::recipe::OpSpec::Expr(expr.into())),
        window,
        ..Default::default()
    };
    crate::plan::recipe::resolve(&request, &cfg).expect("spec")
}

/// An op that panics on one window, to prove panics become job failures.
struct Boom;

impl Op for Boom {
    fn name(&self) -> &str {
        "boom"
    }
    fn bands(&self) -> &[usize] {
        &[1]
    }
    fn out_bands(&self) -> usize {
        1
    }
    fn compute(&self, _: &Block<'_>) -> Vec<Array2<f64>> {
        panic!("boom at the op")
    }
    fn describe(&self) -> String {
        "boom".into()
    }
}

#[test]
fn a_panicking_op_fails_the_job_names_the_window_and_leaves_nothing() {
    crate::gdal::env::init(32);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tif");
    let s = spec(&fixture("scene_small.tif"), &out, "b1", Some(64));
    let mut p = crate::plan::prepare::prepare(&s, 1, Arc::new(AtomicBool::new(false))).unwrap();
    Arc::get_mut(&mut p.ctx).expect("sole owner").op = Arc::new(Boom);
    let engine = Engine::start(3).unwrap();
    engine.feed(&p.ctx);
    let outcome = p.outcome.recv().unwrap();
    let err = outcome.result.unwrap_err().to_string();
    assert!(
        err.contains("panicked") && err.contains("boom at the op"),
        "{err}"
    );
    assert!(err.contains("window x="), "{err}");
    // The engine survives for the next job.
    let out2 = dir.path().join("o2.tif");
    let p2 = crate::plan::prepare::prepare(
        &spec(&fixture("scene_small.tif"), &out2, "b1", None),
        2,
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    engine.feed(&p2.ctx);
    assert!(p2.outcome.recv().unwrap().result.is_ok());
    engine.shutdown();
    assert!(!out.exists());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("o2.tif")]);
}

#[test]
fn many_jobs_overlap_in_one_engine_and_match_sequential_runs() {
    crate::gdal::env::init(32);
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(2).unwrap();
    let inputs = [
        "scene_small.tif",
        "striped.tif",
        "nan_f64.tif",
        "tiny_row.tif",
    ];
    let mut jobs = Vec::new();
    for (i, name) in inputs.iter().cycle().take(12).enumerate() {
        let out = dir.path().join(format!("{i}.tif"));
        let s = spec(
            &fixture(name),
            &out,
            "b1 * 2 + 1",
            if i % 2 == 0 { Some(100) } else { None },
        );
        let p = crate::plan::prepare::prepare(&s, i as u64 + 10, Arc::new(AtomicBool::new(false)))
            .unwrap();
        // Feed without waiting: the next job's windows follow the previous
        // job's tail through the same workers and writer.
        engine.feed(&p.ctx);
        jobs.push((p, out, name));
    }
    for (p, out, name) in &jobs {
        let o = p.outcome.recv().unwrap();
        assert!(o.result.is_ok(), "{name}: {:?}", o.result);
        let a = gdal::Dataset::open(out).unwrap();
        let b = gdal::Dataset::open(fixture(name)).unwrap();
        let (w, h) = a.raster_size();
        let va = a
            .rasterband(1)
            .unwrap()
            .read_as::<f64>((0, 0), (w, h), (w, h), None)
            .unwrap();
        let vb = b
            .rasterband(1)
            .unwrap()
            .read_as::<f64>((0, 0), (w, h), (w, h), None)
            .unwrap();
        let nd_in = b.rasterband(1).unwrap().no_data_value();
        let nd_out = a.rasterband(1).unwrap().no_data_value().unwrap();
        for (x, y) in va.data().iter().zip(vb.data()) {
            let want = if Some(*y) == nd_in || y.is_nan() {
                nd_out as f32 as f64
            } else {
                (y * 2.0 + 1.0) as f32 as f64
            };
            assert_eq!(*x, want, "{name}");
        }
    }
    engine.shutdown();
}

#[test]
fn cancelling_a_job_removes_its_temp_output() {
    crate::gdal::env::init(32);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tif");
    let cancel = Arc::new(AtomicBool::new(true));
    let p = crate::plan::prepare::prepare(
        &spec(&fixture("scene_small.tif"), &out, "b1", Some(32)),
        1,
        Arc::clone(&cancel),
    )
    .unwrap();
    let engine = Engine::start(2).unwrap();
    engine.feed(&p.ctx);
    let o = p.outcome.recv().unwrap();
    assert!(
        matches!(o.result, Err(JobError::Cancelled)),
        "{:?}",
        o.result
    );
    engine.shutdown();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
