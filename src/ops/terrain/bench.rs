//! Single-thread throughput of the terrain kernels on one 2048² block (plus
//! its halo), the shape the engine hands a worker. Ignored by default; run
//! `cargo test --release --lib ops::terrain::bench -- --ignored --nocapture`.
//! It prints the per-cell path (the code before the fast path) next to
//! `Terrain::run` and asserts nothing about speed (speed targets belong to
//! bench/ scripts). Time is this thread's CPU time, so other processes
//! sharing the machine's cores do not skew the numbers much.

use ndarray::Array2;

use super::kernel::{Gradient, Product, Shading, Terrain};
use super::test_support::synthetic_dem;
use crate::ops::Core;

#[test]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
fn single_thread_mpix_per_s() {
    const N: usize = 2048;
    let dem = synthetic_dem(N + 2, N + 2, 300.0);
    let core = Core {
        row: 1,
        col: 1,
        rows: N,
        cols: N,
    };
    let hill = |shading| Product::Hillshade {
        azimuth: 315.0,
        altitude: 45.0,
        z: 1.0,
        shading,
    };
    let cases = [
        ("hillshade", hill(Shading::Standard), Gradient::Horn),
        (
            "hillshade combined",
            hill(Shading::Combined),
            Gradient::Horn,
        ),
        (
            "hillshade multi",
            hill(Shading::MultiDirectional),
            Gradient::Horn,
        ),
        ("slope", Product::Slope { percent: false }, Gradient::Horn),
        (
            "aspect",
            Product::Aspect {
                trigonometric: false,
                zero_for_flat: false,
            },
            Gradient::Horn,
        ),
    ];
    for (name, product, gradient) in cases {
        let t = Terrain::new(product, gradient, 30.0, -30.0, 1.0);
        let mpix = |f: &dyn Fn() -> Array2<f64>| {
            let _warm = f();
            let start = thread_cpu_seconds();
            let out = f();
            let secs = thread_cpu_seconds() - start;
            assert_eq!(out.dim(), (N, N));
            (N * N) as f64 / secs / 1e6
        };
        let before = mpix(&|| t.run_per_cell(dem.view(), core));
        let after = mpix(&|| t.run(dem.view(), core));
        println!(
            "{name:<20} per-cell {before:6.1} Mpix/s   fast path {after:6.1} Mpix/s   ×{:.2}",
            after / before
        );
    }
}

fn thread_cpu_seconds() -> f64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .expect("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec() as f64 + ts.tv_nsec() as f64 * 1e-9
}
