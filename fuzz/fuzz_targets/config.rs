//! Fuzz the config parser: any text gives a config or an error naming the
//! problem, never a panic; and no recipe's output template can name a file
//! outside the output folder, whatever it contains.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = tilerun::config::parse(text) else {
        return;
    };
    let _ = cfg.limits();
    for (name, r) in &cfg.recipes {
        let Some(t) = &r.output else { continue };
        for input in ["/in/scene.tif", "/in/..", "/in/a b/-x.tif"] {
            if let Ok(p) = tilerun::plan::recipe::render(t, Path::new(input), name) {
                let comps: Vec<_> = p.components().collect();
                assert!(
                    matches!(comps[..], [Component::Normal(_)]),
                    "template {t:?} escaped: {p:?}"
                );
            }
        }
    }
});
