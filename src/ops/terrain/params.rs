//! `--set key=value` parsing shared by the single-band raster ops (terrain,
//! focal), so they all word their errors the same way: op name, key, reason.

use crate::ops::{InputInfo, OpError, Params};

/// Consumes parameters one key at a time; whatever is left at
/// [`Taker::finish`] is reported as unknown, with the op's valid keys.
pub struct Taker<'a> {
    op: &'a str,
    keys: &'static [&'static str],
    left: Params,
}

impl<'a> Taker<'a> {
    /// `keys` are every key the op takes, for the "unknown key" message.
    pub fn new(op: &'a str, params: &Params, keys: &'static [&'static str]) -> Self {
        Taker {
            op,
            keys,
            left: params.clone(),
        }
    }

    pub fn take(&mut self, key: &str) -> Option<String> {
        debug_assert!(
            self.keys.contains(&key),
            "{key} missing from {}'s keys",
            self.op
        );
        self.left.remove(key)
    }

    pub fn err(&self, reason: impl Into<String>) -> OpError {
        OpError::new(self.op, reason)
    }

    /// An error about parameter `key`.
    pub fn err_at(&self, key: &str, reason: impl Into<String>) -> OpError {
        OpError::at(self.op, key, reason)
    }

    /// A finite number satisfying `ok`; `what` completes "KEY must be …".
    pub fn number(
        &mut self,
        key: &str,
        ok: impl Fn(f64) -> bool,
        what: &str,
    ) -> Result<Option<f64>, OpError> {
        let Some(raw) = self.take(key) else {
            return Ok(None);
        };
        match raw.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && ok(v) => Ok(Some(v)),
            _ => Err(self.err_at(key, format!("{key} must be {what}, got '{raw}'"))),
        }
    }

    /// A boolean switch; absent means false.
    pub fn flag(&mut self, key: &str) -> Result<bool, OpError> {
        let Some(raw) = self.take(key) else {
            return Ok(false);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(self.err_at(key, format!("{key} must be true or false, got '{raw}'"))),
        }
    }

    /// The 1-based band to read: `band`, or 1 for a single-band input.
    pub fn band(&mut self, info: &InputInfo) -> Result<usize, OpError> {
        let n = info.band_count;
        match self.take("band") {
            None if n > 1 => Err(self.err(format!("input has {n} bands; choose one with --band"))),
            None => Ok(1),
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(b) if (1..=n).contains(&b) => Ok(b),
                _ => Err(self.err_at(
                    "band",
                    format!("band must be between 1 and {n} (the input's band count), got '{raw}'"),
                )),
            },
        }
    }

    pub fn finish(self) -> Result<(), OpError> {
        match self.left.keys().next() {
            None => Ok(()),
            Some(k) => {
                let guess = crate::error::closest(k, self.keys.iter().copied())
                    .map(|g| format!("did you mean '{g}'? "))
                    .unwrap_or_default();
                Err(self.err_at(
                    k,
                    format!(
                        "unknown parameter '{k}' ({guess}valid: {})",
                        self.keys.join(", ")
                    ),
                ))
            }
        }
    }
}
