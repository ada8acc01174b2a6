//! Where a key is written in the config file. serde drops positions once a
//! value is typed, but a check that runs later (a recipe's `set` key, a
//! folder that does not exist) must still point at the line; toml_edit
//! keeps the spans, so the text is parsed again, only when a message needs
//! a line.

/// The 1-based line of the key at `path` in TOML `text`, or of the deepest
/// enclosing key found. toml_edit keeps the spans that serde drops.
pub fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut table: &dyn toml_edit::TableLike = doc.as_table();
    let mut found = None;
    for key in path {
        let hit = table.get_key_value(key).or_else(|| {
            table
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .and_then(|(k, _)| table.get_key_value(k))
        });
        let Some((k, item)) = hit else { break };
        found = k.span().or_else(|| item.span()).or(found);
        match item.as_table_like() {
            Some(t) => table = t,
            None => break,
        }
    }
    let at = found?.start;
    Some(text[..at].matches('\n').count() + 1)
}

/// The path of the key written at byte `offset` of `text`, or of the key
/// whose value spans it: what a TOML error's span is about.
pub fn key_at(text: &str, offset: usize) -> Option<Vec<String>> {
    fn walk(table: &dyn toml_edit::TableLike, offset: usize, path: &mut Vec<String>) -> bool {
        for (k, item) in table.iter() {
            let Some((key, _)) = table.get_key_value(k) else {
                continue;
            };
            let within = |s: Option<std::ops::Range<usize>>| s.is_some_and(|s| s.contains(&offset));
            path.push(k.to_string());
            if let Some(t) = item.as_table_like() {
                if walk(t, offset, path) {
                    return true;
                }
            }
            if within(key.span()) || (item.is_value() && within(item.span())) {
                return true;
            }
            path.pop();
        }
        false
    }
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut path = Vec::new();
    walk(doc.as_table(), offset, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_by_line_in_headers_inline_tables_and_any_case() {
        let text = "[engine]\nworkers = 1\n\n[recipes.hs]\nop = 'hillshade'\n\
                    set = { azimuth = 1, altitud = 45 }\nco = { compress = 'X' }\n\
                    [recipes.b.set]\nz = 2\n";
        let line = |p: &[&str]| line_of(text, p);
        assert_eq!(line(&["recipes", "hs"]), Some(4));
        assert_eq!(line(&["recipes", "hs", "set", "altitud"]), Some(6));
        assert_eq!(line(&["recipes", "hs", "co", "COMPRESS"]), Some(7));
        assert_eq!(line(&["recipes", "b", "set", "z"]), Some(9));
        // A missing key falls back to the nearest one that exists.
        assert_eq!(line(&["recipes", "hs", "nodata"]), Some(4));
        assert_eq!(line(&["nothing"]), None);
    }
}
