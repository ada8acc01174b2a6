//! A recipe's file-name pattern for one input, e.g. `*_SR_B4.TIF`: one `*`,
//! and what it matches is the delivery's **set key** (the product id), so
//! the files of one delivery are the ones whose keys agree. Matching is on
//! the file name only and ignores case, as the daemon's rules do.
//!
//! A pattern without `*` is a fixed name, for files an agency names
//! without the product id: Sentinel-2's `QI_DATA/MSK_CLDPRB_20m.jp2`. It
//! carries no key, so it can only be found inside a whole delivery (a
//! `.SAFE` folder or archive) or among files given by hand; loose files
//! cannot be grouped by it.

use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, serde_with::DeserializeFromStr)]
pub struct Pattern {
    text: String,
    prefix: String,
    suffix: String,
    /// Has a `*` (else a fixed name, matched whole, with no key).
    keyed: bool,
}

impl FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let fail = |why: &str| Err(format!("pattern '{s}': {why}"));
        if s.matches('*').count() > 1 {
            return fail("has more than one '*' (the one '*' matches the delivery's set key)");
        }
        if s.contains(['/', '?', '[', ']', '{', '}']) {
            return fail("only '*' is special, and it matches file names (no '/')");
        }
        if s.is_empty() {
            return fail("is empty");
        }
        let (prefix, suffix) = s.split_once('*').unwrap_or((s, ""));
        if prefix.is_empty() && suffix.is_empty() {
            return fail("'*' alone would match every file");
        }
        Ok(Pattern {
            text: s.to_string(),
            prefix: prefix.to_ascii_lowercase(),
            suffix: suffix.to_ascii_lowercase(),
            keyed: s.contains('*'),
        })
    }
}

impl Pattern {
    /// True if `name` (a file name) is one this pattern names.
    pub fn matches(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        match self.keyed {
            true => {
                let (p, s) = (self.prefix.len(), self.suffix.len());
                lower.len() > p + s
                    && lower.starts_with(&self.prefix)
                    && lower.ends_with(&self.suffix)
            }
            false => lower == self.prefix,
        }
    }

    /// The set key if `name` matches: the non-empty part the `*` stands
    /// for, in the name's own case. None for a fixed name: it has no key.
    pub fn key(&self, name: &str) -> Option<String> {
        let (p, s) = (self.prefix.len(), self.suffix.len());
        // ASCII lower-casing keeps byte offsets, so they hold in `name` too.
        (self.keyed && self.matches(name)).then(|| name[p..name.len() - s].to_string())
    }

    /// False for a fixed name (no `*`).
    pub fn keyed(&self) -> bool {
        self.keyed
    }

    /// The file of delivery `key` this pattern names, for "missing" lists.
    pub fn expected(&self, key: &str) -> String {
        match self.keyed {
            true => self.text.replace('*', key),
            false => format!(
                "{}, a name without the set key: give the delivery as its folder or archive",
                self.text
            ),
        }
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
        for bad in ["*a*", "a/*.tif", "*", "?*.tif", ""] {
            assert!(bad.parse::<Pattern>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_fixed_name_matches_whole_and_has_no_key() {
        let p: Pattern = "MSK_CLDPRB_20m.jp2".parse().unwrap();
        assert!(!p.keyed());
        assert!(p.matches("msk_cldprb_20M.JP2"));
        assert!(!p.matches("MSK_CLDPRB_60m.jp2") && !p.matches("xMSK_CLDPRB_20m.jp2"));
        assert_eq!(p.key("MSK_CLDPRB_20m.jp2"), None);
        assert!(p
            .expected("K")
            .starts_with("MSK_CLDPRB_20m.jp2, a name without the set key"));
        let k: Pattern = "*_B04_10m.jp2".parse().unwrap();
        assert!(k.keyed() && k.matches("T_B04_10m.jp2") && !k.matches("_B04_10m.jp2"));
        assert_eq!(k.expected("T"), "T_B04_10m.jp2");
    }
}
