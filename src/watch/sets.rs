//! Deliveries of several files: waiting until a set is whole.
//!
//! A rule whose recipe has `inputs` takes deliveries, not files. A folder
//! (a `.SAFE` renamed in) or an archive is a whole delivery on its own.
//! Loose files are claimed into work/ one by one as each settles (so the
//! inbox shows what is taken, and a restart finds them there), grouped by
//! set key (what the recipe patterns' `*` matched), and the set starts
//! once every input has its file. Files of the delivery that no pattern
//! names (MTL, thumbnails) join the set whose key starts their name and
//! travel with it; a set with every input waits while files of its key
//! are still in the inbox, so those sorting after its last band (`mv
//! LC09_…/*` claims in name order) are not left behind. Such a file
//! arriving after its set started, and not taken by a new set of its key
//! within the settle time, is `Late`: it goes with the set's job
//! or where its files went, rather than waiting for a set that will not
//! come. A second file for an input of a waiting set fails the whole set;
//! a set still incomplete after `set_timeout_secs` fails with the names
//! it lacks. This module is the bookkeeping only: the daemon
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
    /// A set that can never be whole: its recipe has a fixed-name input
    /// (no `*`, so no loose file is ever of its key) and no more files of
    /// its key are arriving. It fails now, not after `set_timeout_secs`.
    Unfinishable {
        key: String,
        members: Vec<OsString>,
        missing: Vec<String>,
    },
    /// A file no pattern names whose delivery `key` has already started:
    /// it goes with that job, or where the job's files went (`ended`).
    Late {
        key: String,
        name: OsString,
        ended: Option<Ended>,
    },
}

/// Where a started set's files went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Done,
    Failed,
}

/// A set handed to the daemon: remembered while its job runs and for
/// `set_timeout_secs` after, so a file of its delivery arriving after the
/// start is not left waiting for a set that will never come.
struct Started {
    recipe: String,
    key: String,
    /// When it started, then when it ended.
    at: Instant,
    ended: Option<Ended>,
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
    started: Vec<Started>,
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

    /// The recipes with a set waiting (each once, in order).
    pub fn waiting_recipes(&self) -> Vec<String> {
        let mut r: Vec<String> = self.waiting.keys().map(|(r, _)| r.clone()).collect();
        r.dedup();
        r
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

    /// Record a loose file claimed into work/ for `recipe`. `more(key)`
    /// says whether files of that delivery are still in the inbox: a whole
    /// set waits for them, so that extras dropped with it (`mv dir/*`)
    /// travel with it rather than arriving after its job has started.
    pub fn add(
        &mut self,
        recipe: &str,
        name: OsString,
        now: Instant,
        more: &dyn Fn(&str) -> bool,
    ) -> Added {
        let text = name.to_string_lossy().into_owned();
        let Some((input, key)) = self.member_of(recipe, &text) else {
            let owner = self
                .waiting
                .iter_mut()
                .find(|((r, k), _)| r == recipe && text.starts_with(k.as_str()));
            let Some(((_, key), w)) = owner else {
                // Even if its key has started: see `late`.
                self.extras.push((recipe.to_string(), name, now));
                return Added::Waiting;
            };
            w.members.push(name);
            let key = key.clone();
            return self.complete(recipe, &key, more);
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
        self.complete(recipe, &key, more)
    }

    /// The set `key`, taken from the books if every input has its file and
    /// no more of its files are still in the inbox (or if it can never
    /// have every input: `Unfinishable`).
    fn complete(&mut self, recipe: &str, key: &str, more: &dyn Fn(&str) -> bool) -> Added {
        let id = (recipe.to_string(), key.to_string());
        let Some(w) = self.waiting.get(&id) else {
            return Added::Waiting;
        };
        let missing = self.missing(recipe, key, &w.members);
        if more(key) || (!missing.is_empty() && self.loose_can_complete(recipe)) {
            return Added::Waiting;
        }
        let w = self.waiting.remove(&id).expect("waiting");
        if !missing.is_empty() {
            return Added::Unfinishable {
                key: key.to_string(),
                members: w.members,
                missing,
            };
        }
        self.started.push(Started {
            recipe: recipe.to_string(),
            key: key.to_string(),
            at: Instant::now(),
            ended: None,
        });
        Added::Complete {
            key: key.to_string(),
            members: w.members,
        }
    }

    /// Whole sets that waited for files in the inbox which have since been
    /// claimed (or removed): `more(recipe, key)` as for [`Sets::add`].
    pub fn release(&mut self, more: &dyn Fn(&str, &str) -> bool) -> Vec<(String, Added)> {
        let ids: Vec<(String, String)> = self.waiting.keys().cloned().collect();
        let mut out = Vec::new();
        for (recipe, key) in ids {
            match self.complete(&recipe, &key, &|k| more(&recipe, k)) {
                Added::Waiting => {}
                done => out.push((recipe, done)),
            }
        }
        out
    }

    /// Extras that have waited `grace` for a new set of their key, whose
    /// key has a started set: they are `Late` for it. Not at once: a
    /// delivery dropped again (`mv dir/*` claims its MTL before its bands)
    /// is a new set of a started key, and its extras are its own.
    pub fn late(&mut self, grace: Duration, now: Instant) -> Vec<(String, Added)> {
        let mut out = Vec::new();
        for (recipe, name, since) in std::mem::take(&mut self.extras) {
            let text = name.to_string_lossy();
            let s = self.started_for(&recipe, &text);
            match s.filter(|_| now.duration_since(since) >= grace) {
                Some(s) => {
                    let (key, ended) = (s.key.clone(), s.ended);
                    out.push((recipe, Added::Late { key, name, ended }));
                }
                None => self.extras.push((recipe, name, since)),
            }
        }
        out
    }

    /// The latest started set of `recipe` whose key begins `name`.
    fn started_for(&self, recipe: &str, name: &str) -> Option<&Started> {
        self.started
            .iter()
            .rev()
            .find(|s| s.recipe == recipe && name.starts_with(s.key.as_str()))
    }

    /// The job of started set `key` has ended: its files are in `to`.
    pub fn ended(&mut self, recipe: &str, key: &str, to: Ended) {
        let mut s = self.started.iter_mut().rev();
        if let Some(s) = s.find(|s| s.recipe == recipe && s.key == key) {
            s.ended = Some(to);
            s.at = Instant::now();
        }
    }

    /// A waiting set gone wrong elsewhere (a duplicate left in the inbox):
    /// forget it and return its members.
    pub fn take(&mut self, recipe: &str, key: &str) -> Vec<OsString> {
        self.waiting
            .remove(&(recipe.to_string(), key.to_string()))
            .map(|w| w.members)
            .unwrap_or_default()
    }

    /// False when `recipe` has a fixed-name input: loose files carry no
    /// such name with a key, so only a folder or archive can complete it.
    fn loose_can_complete(&self, recipe: &str) -> bool {
        self.recipes[recipe].iter().all(|(_, p)| p.keyed())
    }

    fn missing(&self, recipe: &str, key: &str, members: &[OsString]) -> Vec<String> {
        self.recipes[recipe]
            .iter()
            .filter(|(_, p)| {
                !members
                    .iter()
                    .any(|m| p.key(&m.to_string_lossy()).as_deref() == Some(key))
            })
            .map(|(i, p)| format!("{i} ({})", p.expected(key)))
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
            let mut missing = self.missing(&recipe, &key, &w.members);
            if missing.is_empty() {
                missing.push("(files of this delivery still arriving in the inbox)".into());
            }
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
        // Remembered while its job runs, and `timeout` after it ends.
        self.started
            .retain(|s| s.ended.is_none() || now.duration_since(s.at) < timeout);
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
#[path = "sets_tests.rs"]
mod tests;
