//! Unit tests of the config file: unknown keys and bad values name their
//! key and line, recipes are checked, and arbitrary text never panics.

use super::*;

/// The config is operator input, but it must still fail with a message,
/// never a panic; and no recipe's output template may leave the output
/// folder whatever the file says. (Bounded fuzzing: `make fuzz`.)
mod props {
    use super::parse;
    use proptest::prelude::*;
    use std::path::{Component, Path};

    /// Table headers, keys and values from the config's own vocabulary.
    const TABLES: &[&str] = &[
        "[engine]",
        "[output]",
        "[output.creation_options]",
        "[input]",
        "[limits]",
        "[recipes.x]",
        "[recipes.\"a b\"]",
        "[[recipes]]",
        "[recipes]",
    ];
    const KEYS: &[&str] = &[
        "workers",
        "window",
        "gdal_cachemax_mb",
        "dir",
        "allowed_drivers",
        "allow_sparse",
        "max_pixels",
        "max_dimension",
        "max_bands",
        "max_block_bytes",
        "expr",
        "op",
        "set",
        "band",
        "ot",
        "nodata",
        "nodata_policy",
        "output",
        "format",
        "co",
        "x",
    ];
    const VALUES: &[&str] = &[
        "0",
        "-1",
        "18446744073709551616",
        "1e400",
        "nan",
        "inf",
        "true",
        "'b1'",
        "\"../{stem}\"",
        "'{stem}/{recipe}'",
        "'{stem}_{recipe}.tif'",
        "'/etc/x'",
        "[1, 2]",
        "[]",
        "{ a = 1 }",
        "'slope'",
        "2.5",
        "\"\\u0000\"",
        "'..'",
    ];

    /// Tables of `key = value` lines from the config's own vocabulary
    /// (and the odd random line), so inputs get past TOML syntax into the
    /// typed fields and the recipe checks; or a hostile recipe.
    fn line() -> impl Strategy<Value = String> {
        prop_oneof![table(), recipe()]
    }

    fn table() -> impl Strategy<Value = String> {
        let kv = (prop::sample::select(KEYS), prop::sample::select(VALUES))
            .prop_map(|(k, v)| format!("{k} = {v}"));
        let body = prop::collection::vec(prop_oneof![9 => kv, 1 => any::<String>()], 0..5);
        (prop::sample::select(TABLES), body).prop_map(|(t, b)| format!("{t}\n{}", b.join("\n")))
    }

    /// A valid recipe whose output template is made of hostile pieces.
    fn recipe() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "{stem}", "{recipe}", "{ext}", "..", "/", ".", "a", "\\", " ", "~", "{", "}",
        ]);
        let template = prop::collection::vec(piece, 0..7).prop_map(|v| v.concat());
        let name = prop::sample::select(vec!["x", "..", "a/b", "", "/"]);
        (name, template).prop_map(|(n, t)| format!("[recipes.{n:?}]\nexpr = 'b1'\noutput = {t:?}"))
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn config_shaped_text_never_panics_or_escapes(
            lines in prop::collection::vec(line(), 0..5)
        ) {
            let Ok(cfg) = parse(&lines.join("\n")) else { return Ok(()) };
            let _ = cfg.limits();
            for (name, r) in &cfg.recipes {
                let Some(t) = &r.output else { continue };
                let input = Path::new("/in/scene.tif");
                if let Ok(p) = crate::plan::recipe::render(t, input, name) {
                    let comps: Vec<_> = p.components().collect();
                    prop_assert!(matches!(comps[..], [Component::Normal(_)]), "{t:?}: {p:?}");
                }
            }
        }
    }
}

#[test]
fn unknown_keys_name_the_key_and_line() {
    let err = parse("[engine]\nworkers = 2\nwindoww = 3\n").unwrap_err();
    assert!(err.contains("windoww"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    let err = parse("[recipes.x]\nexpr = 'b1'\ncolour = 1\n").unwrap_err();
    assert!(err.contains("colour") && err.contains("line 3"), "{err}");
}

#[test]
fn a_value_that_does_not_deserialise_names_its_recipe_and_key() {
    let e = parse("[engine]\nworkers = 1\n[recipes.t]\nexpr = 'b1'\not = 'Float23'\n").unwrap_err();
    assert!(e.starts_with("recipe 't', ot: "), "{e}");
    assert!(e.contains("line 5") && e.contains("Float23"), "{e}");
    let e = parse("[recipes.t]\nexpr = 'b1'\ncolour = 1\n").unwrap_err();
    assert!(e.contains("colour") && e.contains("line 3"), "{e}");
}

#[test]
fn recipes_need_exactly_one_of_expr_or_op() {
    assert!(parse("[recipes.x]\nexpr = 'b1'\nop = 'slope'\n").is_err());
    assert!(parse("[recipes.x]\not = 'Byte'\n").is_err());
    let c = parse("[recipes.x]\nop = 'slope'\nset = { units = 'percent', z = 2 }\n").unwrap();
    assert_eq!(value_string(&c.recipes["x"].set["z"]), "2");
}

#[test]
fn the_shipped_example_parses() {
    let text = include_str!("../../config.toml");
    let c = parse(text).unwrap();
    assert!(c.recipes.contains_key("ndvi"));
}

#[test]
fn a_mistyped_s3_output_folder_is_refused_with_its_line() {
    let e = parse("[engine]\nworkers = 1\n[output]\ndir = 's3:/bucket/out'\n").unwrap_err();
    assert!(e.starts_with("line 4: [output] dir: "), "{e}");
    assert!(e.contains("s3:/bucket/out"), "{e}");
    assert!(parse("[output]\ndir = 's3://bucket/out'\n").is_ok());
    assert!(parse("[output]\ndir = 'out'\n").is_ok());
}
