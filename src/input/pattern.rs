//! A recipe's file-name pattern for one input, e.g. `*_SR_B4.TIF`: one `*`,
//! and what it matches is the delivery's **set key** (the product id), so
//! the files of one delivery are the ones whose keys agree. Matching is on
//! the file name only and ignores case, as the daemon's rules do.

use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, serde_with::DeserializeFromStr)]
pub struct Pattern {
    text: String,
    prefix: String,
    suffix: String,
}

impl FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let fail = |why: &str| Err(format!("pattern '{s}': {why}"));
        if s.matches('*').count() != 1 {
            return fail("needs exactly one '*' (it matches the delivery's set key)");
        }
        if s.contains(['/', '?', '[', ']', '{', '}']) {
            return fail("only '*' is special, and it matches file names (no '/')");
        }
        let (prefix, suffix) = s.split_once('*').expect("one star");
        if prefix.is_empty() && suffix.is_empty() {
            return fail("'*' alone would match every file");
        }
        Ok(Pattern {
            text: s.to_string(),
            prefix: prefix.to_ascii_lowercase(),
            suffix: suffix.to_ascii_lowercase(),
        })
    }
}

impl Pattern {
    /// The set key if `name` (a file name) matches: the non-empty part the
    /// `*` stands for, in the name's own case.
    pub fn key(&self, name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        let (p, s) = (self.prefix.len(), self.suffix.len());
        let ok =
            lower.len() > p + s && lower.starts_with(&self.prefix) && lower.ends_with(&self.suffix);
        // ASCII lower-casing keeps byte offsets, so they hold in `name` too.
        ok.then(|| name[p..name.len() - s].to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_star_is_the_set_key() {
        let p: Pattern = "*_SR_B4.TIF".parse().unwrap();
        let k = p.key("LC09_L2SP_042034_20231015_20231019_02_T1_SR_B4.TIF");
        assert_eq!(
            k.as_deref(),
            Some("LC09_L2SP_042034_20231015_20231019_02_T1")
        );
        assert_eq!(p.key("x_sr_b4.tif").as_deref(), Some("x"));
        assert_eq!(p.key("_SR_B4.TIF"), None);
        assert_eq!(p.key("x_SR_B5.TIF"), None);
        let s: Pattern = "*_SCL_20m.jp2".parse().unwrap();
        assert_eq!(
            s.key("T33UUP_20231015T101019_SCL_20m.jp2").as_deref(),
            Some("T33UUP_20231015T101019")
        );
        for bad in ["x.tif", "*a*", "a/*.tif", "*", "?*.tif"] {
            assert!(bad.parse::<Pattern>().is_err(), "{bad}");
        }
    }
}
