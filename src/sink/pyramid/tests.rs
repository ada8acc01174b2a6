use super::kernel::*;
use super::*;

/// Feed a `w`×`h` Float32 raster in `win`-sized windows, in `order`;
/// return every strip as (level, y, data) sorted, and the peak number of
/// full-resolution rows held.
fn run(
    w: usize,
    h: usize,
    win: usize,
    reverse_rows: bool,
) -> (Vec<(usize, usize, Vec<u8>)>, usize) {
    let p = Pyramid::new(
        (w, h),
        3,
        1,
        OutType::Float32,
        -9999.0,
        16,
        Resampling::Average,
    );
    let mut wins = Vec::new();
    for y in (0..h).step_by(win) {
        let mut row: Vec<Window> = (0..w)
            .step_by(win)
            .map(|x| Window {
                x,
                y,
                w: win.min(w - x),
                h: win.min(h - y),
            })
            .collect();
        if reverse_rows {
            row.reverse();
        }
        wins.extend(row);
    }
    let (mut strips, mut peak) = (Vec::new(), 0);
    for win in wins {
        let data: Vec<u8> = (0..win.pixels())
            .flat_map(|i| {
                let (r, c) = (win.y + i / win.w, win.x + i % win.w);
                let v = if (r * 7 + c) % 11 == 0 {
                    -9999.0
                } else {
                    (r * w + c) as f32
                };
                v.to_ne_bytes()
            })
            .collect();
        for s in p.add(win, &data).unwrap().0 {
            strips.push((s.level, s.window.y, s.data));
        }
        peak = peak.max(p.state.lock().unwrap().levels[1].rows.len());
    }
    strips.sort();
    (strips, peak)
}

#[test]
fn window_order_does_not_change_the_levels_and_memory_stays_bounded() {
    let (a, peak) = run(72, 96, 16, false);
    let (b, _) = run(72, 96, 16, true);
    assert_eq!(a, b);
    // Every strip of every level, each exactly once.
    for (k, rows) in [(1, 48), (2, 24), (3, 12)] {
        let ys: Vec<usize> = a.iter().filter(|s| s.0 == k).map(|s| s.1).collect();
        assert_eq!(ys, (0..rows).step_by(16).collect::<Vec<_>>(), "level {k}");
    }
    assert!(peak <= 32, "held {peak} full-resolution rows");
}

#[test]
fn gdal_rounding_and_replacement() {
    let byte = Rules::new(OutType::Byte, 0.0);
    // Round half up in the integer work type; nodata boxes stay nodata.
    assert_eq!(average([1.0, 2.0, 0.0, 0.0], &byte), 2.0);
    assert_eq!(average([0.0; 4], &byte), 0.0);
    let i16 = Rules::new(OutType::Int16, -32768.0);
    // Float work type, then half away from zero on the way back.
    assert_eq!(average([-1.0, -2.0, -32768.0, -32768.0], &i16), -2.0);
    assert_eq!(average([1.0, 2.0, -32768.0, -32768.0], &i16), 2.0);
    // An average landing on nodata is nudged off it.
    let f = Rules::new(OutType::Float32, 5.0);
    assert_eq!(average([4.0, 6.0, 5.0, 5.0], &f), f64::from(5.0000005f32));
    let z = Rules::new(OutType::Float32, 0.0);
    assert_eq!(
        average([1.0, -1.0, 0.0, 0.0], &z),
        f64::from(f32::MIN_POSITIVE)
    );
    // Mode: ties go to the value that got ahead first.
    assert_eq!(mode([3.0, 1.0, 1.0, 3.0], &byte), 1.0);
    assert_eq!(mode([3.0, 1.0, 2.0, 4.0], &byte), 3.0);
    assert_eq!(mode([0.0, 0.0, 0.0, 7.0], &byte), 7.0);
    assert_eq!(mode([0.0; 4], &byte), 0.0);
    assert_eq!(replacement(OutType::Byte, 255.0), 254.0);
    assert_eq!(replacement(OutType::UInt32, 4294967295.0), 4294967040.0);
    // Int32 is resampled in Float32: 2^24 + 1 is not representable.
    let i32r = Rules::new(OutType::Int32, 0.0);
    assert_eq!(i32r.back(i32r.work(16777217.0)), 16777216.0);
}

#[test]
fn spans_cover_the_axis_in_order() {
    for (src, dst) in [(8, 4), (9, 5), (2049, 1025), (1, 1), (7, 1)] {
        let spans: Vec<_> = (0..dst).map(|i| span(i, src, dst)).collect();
        assert_eq!(spans[0].0, 0);
        assert_eq!(spans[dst - 1].1, src);
        for s in &spans {
            assert!(s.0 < s.1 && s.1 <= src, "{src}->{dst}: {s:?}");
        }
    }
    assert_eq!(span(3, 8, 4), (6, 8));
}
