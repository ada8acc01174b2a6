//! GDAL creation options: one type, one lookup (any case), one merge rule,
//! and one check against the driver's own list.
//!
//! Keys are kept upper-case and unique, so "which value wins" has a single
//! answer everywhere: the later one (the user's over the defaults, flags
//! over the recipe over the config). GDAL itself only *warns* about an
//! option it does not know or a value it does not take, then writes a
//! different file than asked (`COMPRESS=BOGUS` gives an uncompressed one),
//! so [`check`] makes both errors, naming the option, before any output.

/// GDAL creation options as (KEY, value) in order. Keys are kept upper-case
/// and unique, so there is one lookup and one merge rule: a later value for a
/// key replaces the earlier one (the user's over the defaults, flags over the
/// recipe over the config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreationOptions(Vec<(String, String)>);

impl CreationOptions {
    /// The value of `key` (any case), if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// True when `key` is set and its value is `value` (any case).
    pub fn is(&self, key: &str, value: &str) -> bool {
        self.get(key).is_some_and(|v| v.eq_ignore_ascii_case(value))
    }

    /// Set `key`, replacing any earlier value in place of it.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.remove(key);
        self.0.push((key.to_ascii_uppercase(), value.into()));
    }

    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    /// `other` merged over `self`, key by key.
    pub fn merge(&mut self, other: &CreationOptions) {
        for (k, v) in other.iter() {
            self.set(k, v);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The options without those named in `drop`.
    pub fn without(&self, drop: &[&str]) -> CreationOptions {
        let mut o = self.clone();
        for k in drop {
            o.remove(k);
        }
        o
    }
}

/// An option that cannot be honoured: its key, the value given, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadOption {
    pub key: String,
    pub value: String,
    pub reason: String,
}

impl BadOption {
    pub fn new(key: &str, opts: &CreationOptions, reason: impl Into<String>) -> BadOption {
        BadOption {
            key: key.to_ascii_uppercase(),
            value: opts.get(key).unwrap_or_default().to_string(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for BadOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--co {}={}: {}", self.key, self.value, self.reason)
    }
}

/// Check every option against what the GDAL `driver` declares (GDAL's own
/// `GDALValidateCreationOptions`), naming the first it refuses, with the
/// values it takes or the option the user probably meant.
pub fn check(driver: &str, opts: &CreationOptions) -> Result<(), BadOption> {
    let d = gdal::DriverManager::get_driver_by_name(driver).map_err(|e| BadOption {
        key: String::new(),
        value: String::new(),
        reason: format!("GDAL driver {driver}: {e}"),
    })?;
    for (k, v) in opts {
        let Err(why) = crate::gdal::ffi::validate_creation_option(&d, k, v) else {
            continue;
        };
        let decls = crate::gdal::ffi::creation_option_list(&d);
        let hint = match decls.iter().find(|o| o.name.eq_ignore_ascii_case(k)) {
            Some(o) if !o.values.is_empty() => format!(" (valid: {})", o.values.join(", ")),
            Some(_) => String::new(),
            None => match crate::error::closest(k, decls.iter().map(|o| o.name.as_str())) {
                Some(m) => format!(" (did you mean {m}?)"),
                None => format!(" (`gdalinfo --format {driver}` lists them)"),
            },
        };
        return Err(BadOption::new(k, opts, format!("{why}{hint}")));
    }
    Ok(())
}

impl<'a> IntoIterator for &'a CreationOptions {
    type Item = (&'a str, &'a str);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a str, &'a str),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for CreationOptions {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut o = CreationOptions::default();
        for (k, v) in iter {
            o.set(k.as_ref(), v);
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> CreationOptions {
        kv.iter().copied().collect()
    }

    #[test]
    fn gdal_refuses_unknown_names_and_values_and_we_say_which() {
        crate::gdal::env::init(32);
        assert!(check("GTiff", &opts(&[("COMPRESS", "ZSTD"), ("PREDICTOR", "2")])).is_ok());
        let e = check("GTiff", &opts(&[("COMPRESS", "BOGUS")])).unwrap_err();
        assert_eq!((e.key.as_str(), e.value.as_str()), ("COMPRESS", "BOGUS"));
        assert!(
            e.reason.contains("unexpected value") && e.reason.contains("DEFLATE"),
            "{e}"
        );
        let e = check("GTiff", &opts(&[("COMPRES", "ZSTD")])).unwrap_err();
        assert!(e.reason.contains("did you mean COMPRESS?"), "{e}");
        let e = check("COG", &opts(&[("LEVEL", "x")])).unwrap_err();
        assert_eq!(e.key, "LEVEL", "{e}");
        assert!(check("PNG", &opts(&[("ZLEVEL", "9")])).is_ok());
    }
}
