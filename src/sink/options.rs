//! GDAL creation options: one type, one lookup (any case), one merge rule.
//!
//! Keys are kept upper-case and unique, so "which value wins" has a single
//! answer everywhere: the later one (the user's over the defaults, flags
//! over the recipe over the config).

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
