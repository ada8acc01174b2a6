//! Which jobs a `submit` makes. Each input is its own job, except the loose
//! files of a delivery: for a recipe with `inputs`, files are grouped by
//! set key (what the patterns' `*` matched, as the one-shot CLI and the
//! daemon group them) into ONE job per set, which the worker then resolves
//! exactly as `tilerun FILE… --recipe R` would. A folder (a `.SAFE`) or an
//! archive is a whole delivery and stays one job. A set with a name
//! missing or given twice is refused before anything is queued (exit 2),
//! naming the key and the names. Files no pattern names (the MTL, bands
//! the recipe does not read: what `s3://…/*.TIF` lists) are returned as
//! skipped, for the caller to say so, as the one-shot CLI ignores them.

use std::collections::BTreeMap;
use std::path::Path;

use super::jobs::New;
use crate::config::InputDecl;
use crate::error::{usage, Error};

/// An identified input: (path or URI, its own fingerprint).
pub type Found = (String, String);

/// The jobs for `found` under a recipe with these `inputs` (None: one
/// job per input), and the files skipped.
pub fn jobs(
    decls: Option<&BTreeMap<String, InputDecl>>,
    mut found: Vec<Found>,
) -> Result<(Vec<New>, Vec<String>), Error> {
    found.sort();
    found.dedup_by(|a, b| a.0 == b.0);
    let single = |(input, fingerprint): Found| New {
        input,
        fingerprint,
        members: None,
        set_key: None,
    };
    let Some(decls) = decls.filter(|d| !d.is_empty()) else {
        return Ok((found.into_iter().map(single).collect(), vec![]));
    };
    let (whole, loose): (Vec<Found>, Vec<Found>) =
        found.into_iter().partition(|(i, _)| whole_delivery(i));
    let mut sets: BTreeMap<String, BTreeMap<&str, Vec<Found>>> = BTreeMap::new();
    let (mut problems, mut skipped) = (Vec::new(), Vec::new());
    for f in loose {
        let name = file_name(&f.0).to_string();
        match decls
            .iter()
            .find_map(|(n, d)| Some((n, d.pattern.key(&name)?)))
        {
            Some((input, key)) => sets
                .entry(key)
                .or_default()
                .entry(input)
                .or_default()
                .push(f),
            None => skipped.push(f.0),
        }
    }
    let mut out: Vec<New> = whole.into_iter().map(single).collect();
    for (key, named) in sets {
        match check(decls, &key, &named) {
            Ok(()) => out.push(set(key, named.into_values().flatten().collect())),
            Err(why) => problems.push(why),
        }
    }
    if problems.is_empty() && out.is_empty() {
        problems.push(format!(
            "no file is named by the recipe's inputs ({})",
            patterns(decls)
        ));
    }
    if problems.is_empty() {
        Ok((out, skipped))
    } else {
        Err(usage(format!("nothing submitted: {}", problems.join("; "))))
    }
}

/// Every input of the set has exactly one file, or why not.
fn check(
    decls: &BTreeMap<String, InputDecl>,
    key: &str,
    named: &BTreeMap<&str, Vec<Found>>,
) -> Result<(), String> {
    let mut why = Vec::new();
    let missing: Vec<String> = decls
        .iter()
        .filter(|(n, _)| !named.contains_key(n.as_str()))
        .map(|(n, d)| format!("{n} ({})", d.pattern.expected(key)))
        .collect();
    if !missing.is_empty() {
        why.push(format!("missing {}", missing.join(", ")));
    }
    for (n, files) in named.iter().filter(|(_, f)| f.len() > 1) {
        let list: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        why.push(format!(
            "{} files for {n} ({})",
            files.len(),
            list.join(", ")
        ));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(format!("set {key}: {}", why.join("; ")))
    }
}

/// One job over a whole set: members sorted, so the same files always
/// make the same job (and the same output name, from the key).
pub fn set(key: String, mut members: Vec<Found>) -> New {
    members.sort();
    let fingerprint: String = members.iter().map(|(p, f)| format!("{p}\t{f}\n")).collect();
    New {
        input: members[0].0.clone(),
        fingerprint,
        members: Some(members.into_iter().map(|(p, _)| p).collect()),
        set_key: Some(key),
    }
}

/// A folder (local, or an S3 prefix `s3://…/`) or an archive: a delivery
/// on its own.
fn whole_delivery(input: &str) -> bool {
    crate::remote::s3::is_folder(input)
        || crate::input::archive::Packing::of(Path::new(file_name(input))).is_some()
        || (!crate::remote::s3::is_s3(input) && Path::new(input).is_dir())
}

fn file_name(input: &str) -> &str {
    input.rsplit('/').next().unwrap_or(input)
}

fn patterns(decls: &BTreeMap<String, InputDecl>) -> String {
    let v: Vec<String> = decls
        .iter()
        .map(|(n, d)| format!("{n} '{}'", d.pattern))
        .collect();
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> BTreeMap<String, InputDecl> {
        let cfg = crate::config::parse(
            "[recipes.l]\nexpr = 'a + b'\ninputs = { a = '*_A.TIF', b = '*_B.TIF' }\n",
        )
        .unwrap();
        cfg.recipes["l"].inputs.clone().unwrap()
    }

    fn f(p: &str) -> Found {
        (p.to_string(), format!("fp of {p}"))
    }

    #[test]
    fn loose_files_become_one_job_per_set_and_archives_stay_whole() {
        let d = decls();
        let found = vec![
            f("/x/K_B.TIF"),
            f("/x/J_A.TIF"),
            f("/x/d.tar"),
            f("/x/K_A.TIF"),
            f("/x/J_B.TIF"),
        ];
        let (jobs, skipped) = jobs(Some(&d), found).unwrap();
        assert!(skipped.is_empty());
        let keys: Vec<Option<&str>> = jobs.iter().map(|j| j.set_key.as_deref()).collect();
        assert_eq!(keys, [None, Some("J"), Some("K")]);
        assert_eq!(jobs[0].input, "/x/d.tar");
        assert_eq!(
            jobs[2].members.as_deref().unwrap(),
            ["/x/K_A.TIF", "/x/K_B.TIF"]
        );
        assert_eq!(jobs[2].input, "/x/K_A.TIF");
        assert!(jobs[2].fingerprint.contains("/x/K_B.TIF\tfp of /x/K_B.TIF"));
        // The same files in another order make the same jobs.
        let again = vec![
            f("/x/J_B.TIF"),
            f("/x/K_A.TIF"),
            f("/x/d.tar"),
            f("/x/J_A.TIF"),
            f("/x/K_B.TIF"),
        ];
        assert_eq!(super::jobs(Some(&d), again).unwrap().0, jobs);
        // An S3 prefix (a .SAFE uploaded file by file) is a folder: whole.
        let (jobs, _) = super::jobs(Some(&d), vec![f("s3://b/X.SAFE/")]).unwrap();
        assert_eq!(
            (jobs[0].input.as_str(), &jobs[0].set_key),
            ("s3://b/X.SAFE/", &None)
        );
    }

    #[test]
    fn an_incomplete_set_and_a_duplicate_are_refused_together_strays_skipped() {
        let d = decls();
        let found = vec![
            f("/x/K_A.TIF"),
            f("/y/J_A.TIF"),
            f("/x/J_A.TIF"),
            f("/x/J_B.TIF"),
            f("/x/MTL.txt"),
        ];
        let e = jobs(Some(&d), found.clone()).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        for part in [
            "set K: missing b (K_B.TIF)",
            "set J: 2 files for a (/x/J_A.TIF, /y/J_A.TIF)",
        ] {
            assert!(e.msg.contains(part), "{part} not in {}", e.msg);
        }
        assert!(!e.msg.contains("MTL"), "{}", e.msg);
        let whole = vec![f("/x/J_A.TIF"), f("/x/J_B.TIF"), f("/x/MTL.txt")];
        let (jobs, skipped) = super::jobs(Some(&d), whole).unwrap();
        assert_eq!((jobs.len(), skipped), (1, vec!["/x/MTL.txt".to_string()]));
        let e = super::jobs(Some(&d), vec![f("/x/MTL.txt")]).unwrap_err();
        assert!(
            e.msg
                .contains("no file is named by the recipe's inputs (a '*_A.TIF', b '*_B.TIF')"),
            "{}",
            e.msg
        );
    }
}
