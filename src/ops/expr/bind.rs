//! The binding table: which inputs an expression may name, how many bands
//! each has and of what GDAL sample type, and the resolution of every band
//! reference in the text to a [`Slot`].
//!
//! Why a table given to the compiler rather than names checked later: a
//! reference is only meaningful against the declared inputs (`b2` is band 2
//! of the single input, but ambiguous with several; `red.b4` may not exist),
//! and the integer/float type of each slot decides whether bitwise operators
//! are allowed. Resolving at compile time gives both errors a column.

use gdal_sys::GDALDataType;

use super::ast::{Ref, Target};
use super::ExprError;

/// One band of one input: what the program reads. `input` is the 0-based
/// position in the [`Bindings`], `band` the 1-based GDAL band number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub input: usize,
    pub band: usize,
}

/// A name given to an input that an expression could not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input name '{name}': {reason}")]
pub struct NameError {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
struct Input {
    /// Lower-case; `None` for the single unnamed input of `tilerun FILE`.
    name: Option<String>,
    types: Vec<GDALDataType::Type>,
}

/// The inputs an expression is compiled against, in declaration order.
#[derive(Debug, Clone)]
pub struct Bindings {
    inputs: Vec<Input>,
}

impl Bindings {
    /// One unnamed input whose bands are written `b1`..`bN`: `tilerun FILE`.
    pub fn single(band_types: &[GDALDataType::Type]) -> Bindings {
        Bindings {
            inputs: vec![Input {
                name: None,
                types: band_types.to_vec(),
            }],
        }
    }

    /// Named inputs (`--input NAME=PATH`), each with its bands' sample
    /// types; [`Slot::input`] indexes this list. Names are checked with
    /// [`Bindings::check_name`] and must differ (ignoring case).
    pub fn named(inputs: &[(&str, &[GDALDataType::Type])]) -> Result<Bindings, NameError> {
        let mut out: Vec<Input> = Vec::with_capacity(inputs.len());
        for &(name, types) in inputs {
            let name = Self::check_name(name)?;
            let fail = |reason: &str| NameError {
                name: name.clone(),
                reason: reason.into(),
            };
            if out.iter().any(|i| i.name.as_deref() == Some(name.as_str())) {
                return Err(fail("given twice (names ignore case)"));
            }
            if types.is_empty() {
                return Err(fail("the input has no bands"));
            }
            out.push(Input {
                name: Some(name),
                types: types.to_vec(),
            });
        }
        if out.is_empty() {
            return Err(NameError {
                name: String::new(),
                reason: "no inputs were declared".into(),
            });
        }
        Ok(Bindings { inputs: out })
    }

    /// The lower-cased name if an expression can refer to it: an ASCII
    /// identifier that is no keyword, function or `b<digits>` band name.
    pub fn check_name(name: &str) -> Result<String, NameError> {
        let lower = name.to_ascii_lowercase();
        let fail = |reason: &str| NameError {
            name: name.to_string(),
            reason: reason.into(),
        };
        let mut chars = lower.chars();
        let ok_start = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !ok_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(fail(
                "use letters, digits and '_', starting with a letter or '_'",
            ));
        }
        if super::calls::is_reserved(&lower) {
            return Err(fail(
                "it is a keyword or function of the expression language",
            ));
        }
        if super::calls::band_number(&lower).is_some() {
            return Err(fail("it reads as a band number (b1, b2, ...)"));
        }
        Ok(lower)
    }

    /// Number of inputs.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Always false: there is at least one input.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// The lower-cased name of input `i` (`None` for the single unnamed input).
    pub fn name(&self, i: usize) -> Option<&str> {
        self.inputs.get(i)?.name.as_deref()
    }

    /// Position of the input called `name` (any case).
    pub fn index(&self, name: &str) -> Option<usize> {
        let name = name.to_ascii_lowercase();
        self.inputs
            .iter()
            .position(|i| i.name.as_deref() == Some(name.as_str()))
    }

    /// GDAL sample type of a slot.
    ///
    /// # Panics
    /// If the slot was not resolved against these bindings.
    pub fn band_type(&self, s: Slot) -> GDALDataType::Type {
        self.inputs[s.input].types[s.band - 1]
    }

    /// The slot `r` names, or an error pointing at it.
    pub(super) fn resolve(&self, r: &Ref, src: &str) -> Result<Slot, ExprError> {
        let err = |m: String| Err(ExprError::new(m, r.col, src));
        let (input, band) = match &r.target {
            Target::Band(k) if self.inputs.len() == 1 => (0, *k),
            Target::Band(k) => {
                return err(format!(
                    "'b{k}' is ambiguous with {} inputs: write NAME.b{k} ({})",
                    self.inputs.len(),
                    self.listing()
                ))
            }
            Target::Input(n) | Target::InputBand(n, _) => {
                let Some(i) = self.index(n) else {
                    let what = match &r.target {
                        Target::Input(_) => format!("unknown function or name '{n}'"),
                        _ => format!("unknown input '{n}' in '{}'", r.text()),
                    };
                    return err(format!("{what} ({})", self.listing()));
                };
                let k = match r.target {
                    Target::InputBand(_, k) => k,
                    _ => 1,
                };
                (i, k)
            }
        };
        let count = self.inputs[input].types.len();
        if band > count {
            let s = if count == 1 { "" } else { "s" };
            let whose = match &self.inputs[input].name {
                None => "the input".to_string(),
                Some(n) => format!("input '{n}'"),
            };
            return err(format!(
                "band {} does not exist: {whose} has {count} band{s}",
                r.text()
            ));
        }
        Ok(Slot { input, band })
    }

    /// What may be referred to, for "unknown name" messages.
    fn listing(&self) -> String {
        let names: Vec<&str> = self
            .inputs
            .iter()
            .filter_map(|i| i.name.as_deref())
            .collect();
        if names.is_empty() {
            "bands are written b1, b2, ...".into()
        } else {
            format!("the inputs are {}", names.join(", "))
        }
    }
}
