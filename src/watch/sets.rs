//! Deliveries of several files: waiting until a set is whole.
//!
//! A rule whose recipe has `inputs` takes deliveries, not files. A folder
//! (a `.SAFE` renamed in) or an archive is a whole delivery on its own.
//! Loose files are claimed into work/ one by one as each settles (so the
//! inbox shows what is taken, and a restart finds them there), grouped by
//! set key (what the recipe patterns' `*` matched), and the set starts
//! once every input has its file. Files of the delivery that no pattern
//! names (MTL, thumbnails) join the set whose key starts their name and
//! travel with it. A second file for an input of a waiting set fails the
//! whole set; a set still incomplete after `set_timeout_secs` fails with
//! the names it lacks. This module is the bookkeeping only: the daemon
//! moves the files.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::input::pattern::Pattern;

/// A recipe's inputs: (name, pattern).
type Inputs = Vec<(String, Pattern)>;

struct Waiting {
    members: Vec<OsString>,
    since: Instant,
}

/// What adding a claimed file did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// The set still lacks files (or the file is an extra waiting for one).
    Waiting,
    /// The set is whole: its key and every member, extras included.
    Complete { key: String, members: Vec<OsString> },
    /// A second file for one input: the set fails with all its members.
    Duplicate {
        key: String,
        input: String,
        members: Vec<OsString>,
    },
}

/// A set (or a lone extra) that waited too long.
#[derive(Debug, PartialEq, Eq)]
pub struct Expired {
    pub recipe: String,
    pub key: String,
    pub members: Vec<OsString>,
    pub missing: Vec<String>,
}

#[derive(Default)]
pub struct Sets {
    recipes: HashMap<String, Inputs>,
    waiting: BTreeMap<(String, String), Waiting>,
    /// Extras no waiting set has claimed yet: (recipe, name, since).
    extras: Vec<(String, OsString, Instant)>,
}

/// A name that is a whole delivery on its own: an archive (a folder is
/// recognised by the caller, from its type).
pub fn whole_delivery(name: &OsStr) -> bool {
    crate::input::archive::Packing::of(std::path::Path::new(name)).is_some()
}

impl Sets {
    pub fn new(cfg: &Config) -> Sets {
        let recipes = cfg
            .recipes
            .iter()
            .filter_map(|(n, r)| {
                let i = r.inputs.as_ref()?;
                Some((
                    n.clone(),
                    i.iter()
                        .map(|(k, d)| (k.clone(), d.pattern.clone()))
                        .collect(),
                ))
            })
            .collect();
        Sets {
            recipes,
            ..Sets::default()
        }
    }

    /// True when `recipe` takes deliveries (has `inputs`).
    pub fn takes_sets(&self, recipe: &str) -> bool {
        self.recipes.contains_key(recipe)
    }

    /// (input, key) of a loose file, if a pattern names it.
    fn member_of(&self, recipe: &str, name: &str) -> Option<(String, String)> {
        self.recipes
            .get(recipe)?
            .iter()
            .find_map(|(i, p)| p.key(name).map(|k| (i.clone(), k)))
    }

    /// True if a pattern of `recipe` names `name` (a file the job reads,
    /// not an extra that travels with the set).
    pub fn reads(&self, recipe: &str, name: &str) -> bool {
        self.member_of(recipe, name).is_some()
    }

    /// True if `name` (loose, in work/ or the inbox) belongs to a waiting set.
    pub fn waiting_key(&self, recipe: &str, name: &OsStr) -> Option<String> {
        let (_, key) = self.member_of(recipe, &name.to_string_lossy())?;
        self.waiting
            .contains_key(&(recipe.to_string(), key.clone()))
            .then_some(key)
    }

    /// Record a loose file claimed into work/ for `recipe`.
    pub fn add(&mut self, recipe: &str, name: OsString, now: Instant) -> Added {
        let text = name.to_string_lossy().into_owned();
        let Some((input, key)) = self.member_of(recipe, &text) else {
            let owner = self
                .waiting
                .iter_mut()
                .find(|((r, k), _)| r == recipe && text.starts_with(k.as_str()));
            match owner {
                Some((_, w)) => w.members.push(name),
                None => self.extras.push((recipe.to_string(), name, now)),
            }
            return Added::Waiting;
        };
        let id = (recipe.to_string(), key.clone());
        let w = self.waiting.entry(id.clone()).or_insert_with(|| Waiting {
            members: Vec::new(),
            since: now,
        });
        let (extras, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.extras)
            .into_iter()
            .partition(|(r, n, _)| r == recipe && n.to_string_lossy().starts_with(key.as_str()));
        self.extras = rest;
        w.members.extend(extras.into_iter().map(|(_, n, _)| n));
        let inputs = &self.recipes[recipe];
        let taken = w.members.iter().any(|m| {
            inputs
                .iter()
                .find(|(i, _)| *i == input)
                .is_some_and(|(_, p)| p.key(&m.to_string_lossy()).as_deref() == Some(key.as_str()))
        });
        w.members.push(name);
        if taken {
            let w = self.waiting.remove(&id).expect("just inserted");
            return Added::Duplicate {
                key,
                input,
                members: w.members,
            };
        }
        let members = w.members.clone();
        if self.missing(recipe, &key, &members).is_empty() {
            let w = self.waiting.remove(&id).expect("just inserted");
            return Added::Complete {
                key,
                members: w.members,
            };
        }
        Added::Waiting
    }

    /// A waiting set gone wrong elsewhere (a duplicate left in the inbox):
    /// forget it and return its members.
    pub fn take(&mut self, recipe: &str, key: &str) -> Vec<OsString> {
        self.waiting
            .remove(&(recipe.to_string(), key.to_string()))
            .map(|w| w.members)
            .unwrap_or_default()
    }

    fn missing(&self, recipe: &str, key: &str, members: &[OsString]) -> Vec<String> {
        self.recipes[recipe]
            .iter()
            .filter(|(_, p)| {
                !members
                    .iter()
                    .any(|m| p.key(&m.to_string_lossy()).as_deref() == Some(key))
            })
            .map(|(i, p)| format!("{i} ({})", p.as_str().replace('*', key)))
            .collect()
    }

    /// Sets and lone extras older than `timeout`, removed from the books.
    pub fn expired(&mut self, timeout: Duration, now: Instant) -> Vec<Expired> {
        let old: Vec<(String, String)> = self
            .waiting
            .iter()
            .filter(|(_, w)| now.duration_since(w.since) >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        let mut out = Vec::new();
        for (recipe, key) in old {
            let w = self
                .waiting
                .remove(&(recipe.clone(), key.clone()))
                .expect("listed");
            let missing = self.missing(&recipe, &key, &w.members);
            out.push(Expired {
                recipe,
                key,
                members: w.members,
                missing,
            });
        }
        let (old, young): (Vec<_>, Vec<_>) = std::mem::take(&mut self.extras)
            .into_iter()
            .partition(|(_, _, t)| now.duration_since(*t) >= timeout);
        self.extras = young;
        for (recipe, name, _) in old {
            out.push(Expired {
                recipe,
                key: name.to_string_lossy().into_owned(),
                members: vec![name],
                missing: vec!["(no delivery of this recipe claimed this file)".into()],
            });
        }
        out
    }

    /// When the next set or extra times out.
    pub fn next_deadline(&self, timeout: Duration) -> Option<Instant> {
        let sets = self.waiting.values().map(|w| w.since);
        let extras = self.extras.iter().map(|(_, _, t)| *t);
        sets.chain(extras).min().map(|t| t + timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets() -> Sets {
        let cfg = crate::config::parse(
            "[recipes.l]\nexpr = 'a + b'\ninputs = { a = '*_A.TIF', b = '*_B.TIF' }\n",
        )
        .unwrap();
        Sets::new(&cfg)
    }

    #[test]
    fn a_set_completes_in_any_order_with_its_extras() {
        let (mut s, t) = (sets(), Instant::now());
        assert!(s.takes_sets("l"));
        assert_eq!(s.add("l", "K_MTL.txt".into(), t), Added::Waiting);
        assert_eq!(s.add("l", "K_B.TIF".into(), t), Added::Waiting);
        assert_eq!(s.add("l", "J_A.TIF".into(), t), Added::Waiting);
        let Added::Complete { key, members } = s.add("l", "K_A.TIF".into(), t) else {
            panic!("not complete")
        };
        assert_eq!(key, "K");
        let mut members = members;
        members.sort();
        assert_eq!(members, ["K_A.TIF", "K_B.TIF", "K_MTL.txt"]);
        let late = t + Duration::from_secs(10);
        let e = s.expired(Duration::from_secs(5), late);
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].key.as_str(), e[0].missing.clone()),
            ("J", vec!["b (J_B.TIF)".to_string()])
        );
    }

    #[test]
    fn a_second_file_for_one_input_fails_the_set() {
        let (mut s, t) = (sets(), Instant::now());
        s.add("l", "K_A.TIF".into(), t);
        let r = s.add("l", "K_a.tif".into(), t);
        assert!(
            matches!(r, Added::Duplicate { ref input, ref members, .. } if input == "a" && members.len() == 2),
            "{r:?}"
        );
        assert!(s.expired(Duration::ZERO, t).is_empty());
    }
}
