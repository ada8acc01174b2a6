//! The house plan, enforced: imports between `src/` modules run one way.
//!
//! Reads every source file, collects the `crate::…` and `super::…` paths its
//! non-test code names, resolves each to the module file that defines it,
//! and fails on (1) an arrow between stage folders that runs against the
//! plan in `lib.rs` and (2) any import cycle between module files. Test code
//! (`tests.rs`, `*_tests.rs`, `#[cfg(test)] mod tests { … }`) may reach up to
//! build its fixtures, so it is left out. A small walk of our own rather
//! than cargo-modules: it needs no nightly toolchain and runs in `make test`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::root;

/// Stage folders by floor: an import may go to a floor below or to a
/// sibling on the same floor, never up. Siblings are kept acyclic by the
/// file-level check.
const FLOORS: &[&[&str]] = &[
    &["cli"],
    &["watch", "queue"],
    &["plan"],
    &["config", "engine"],
    &["input", "ops", "sink", "remote"],
    &["gdal"],
    &["error", "window", "metrics"],
];

fn floor(stage: &str) -> usize {
    FLOORS
        .iter()
        .position(|f| f.contains(&stage))
        .unwrap_or_else(|| panic!("src/{stage} is on no floor of the plan: add it to FLOORS"))
}

/// Module path (["engine", "job"]) of every file under src/, lib.rs as [].
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut m: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into()).collect();
            if matches!(m.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                m.pop();
            }
            out.insert(m, p);
        }
    }
    out
}

fn is_test_file(p: &Path) -> bool {
    let n = p.file_stem().unwrap().to_string_lossy();
    n == "tests" || n.ends_with("_tests") || n == "proptests" || n == "test_support"
}

/// The file's code without comments, string contents and test modules.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| {
            let l = l.split("//").next().unwrap_or("");
            // Drop string literals so messages quoting paths do not count.
            let mut out = String::new();
            let mut in_str = false;
            for c in l.chars() {
                if c == '"' {
                    in_str = !in_str;
                } else if !in_str {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Module paths named in `code` by `crate::` or `super::` paths.
fn named_paths(code: &str, me: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut i = 0;
    while i < bytes.len() {
        let starts = |w: &str| bytes[i..].iter().take(w.len()).copied().eq(w.chars());
        let boundary = i == 0 || !ident(bytes[i - 1]);
        let (base, skip): (Vec<String>, usize) = if boundary && starts("crate::") {
            (vec![], 7)
        } else if boundary && starts("super::") {
            // `super` of module a::b is a, whether b is b.rs or b/mod.rs.
            (me[..me.len().saturating_sub(1)].to_vec(), 7)
        } else {
            i += 1;
            continue;
        };
        i += skip;
        let mut path = base;
        loop {
            let start = i;
            while i < bytes.len() && ident(bytes[i]) {
                i += 1;
            }
            if start == i {
                break;
            }
            path.push(bytes[start..i].iter().collect());
            if bytes[i..].iter().take(2).copied().eq("::".chars()) {
                i += 2;
            } else {
                break;
            }
        }
        out.push(path);
    }
    out
}

/// The longest prefix of `path` that is a module file.
fn resolve(path: &[String], mods: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| mods.contains_key(p))
}

type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

fn graph() -> Graph {
    let src = root().join("src");
    let mods = modules(&src);
    let mut g = Graph::new();
    for (m, file) in &mods {
        if is_test_file(file) || m.is_empty() {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for p in named_paths(&code, m) {
            let Some(to) = resolve(&p, &mods) else {
                continue;
            };
            // A module naming its own children (or itself) is not an arrow.
            if to.starts_with(m) || to.is_empty() {
                continue;
            }
            g.entry(m.clone()).or_default().insert(to);
        }
    }
    g
}

fn find_cycle(g: &Graph) -> Option<Vec<Vec<String>>> {
    fn visit(
        n: &Vec<String>,
        g: &Graph,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|x| x == m).unwrap();
                    let mut c = stack[at..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, g, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

fn show(m: &[String]) -> String {
    m.join("::")
}

#[test]
fn stage_folders_import_only_downwards() {
    let g = graph();
    let mut wrong = Vec::new();
    for (from, tos) in &g {
        for to in tos {
            let (a, b) = (&from[0], &to[0]);
            if a != b && floor(a) > floor(b) {
                wrong.push(format!("{} -> {}", show(from), show(to)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the plan in lib.rs:\n{}",
        wrong.join("\n")
    );
    // The check must see the arrows that exist, or it proves nothing.
    let engine_uses_sink = g
        .iter()
        .any(|(f, t)| f[0] == "engine" && t.iter().any(|m| m[0] == "sink"));
    assert!(
        engine_uses_sink,
        "the import walk found no engine -> sink arrow"
    );
}

#[test]
fn no_import_cycles_between_modules() {
    let g = graph();
    if let Some(c) = find_cycle(&g) {
        let names: Vec<String> = c.iter().map(|m| show(m)).collect();
        panic!("import cycle: {}", names.join(" -> "));
    }
}

#[test]
fn the_cycle_check_catches_a_cycle() {
    let v = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let mut g = Graph::new();
    g.entry(v("a::x")).or_default().insert(v("b::y"));
    g.entry(v("b::y")).or_default().insert(v("c"));
    g.entry(v("c")).or_default().insert(v("a::x"));
    assert_eq!(find_cycle(&g).map(|c| c.len()), Some(4));
    g.get_mut(&v("c")).unwrap().clear();
    assert!(find_cycle(&g).is_none());
    let code = code_of("use crate::sink::spec::Format; // crate::watch\nlet s = \"crate::cli\";");
    let me = v("engine::job");
    assert_eq!(named_paths(&code, &me), vec![v("sink::spec::Format")]);
}
