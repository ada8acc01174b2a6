//! The set bookkeeping alone: completion in any order, duplicates, late
//! files of started deliveries, files still in the inbox.

use super::*;

fn none(_: &str) -> bool {
    false
}

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
    assert_eq!(s.add("l", "K_MTL.txt".into(), t, &none), Added::Waiting);
    assert_eq!(s.add("l", "K_B.TIF".into(), t, &none), Added::Waiting);
    assert_eq!(s.add("l", "J_A.TIF".into(), t, &none), Added::Waiting);
    let Added::Complete { key, members } = s.add("l", "K_A.TIF".into(), t, &none) else {
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
    s.add("l", "K_A.TIF".into(), t, &none);
    let r = s.add("l", "K_a.tif".into(), t, &none);
    assert!(
        matches!(r, Added::Duplicate { ref input, ref members, .. } if input == "a" && members.len() == 2),
        "{r:?}"
    );
    assert!(s.expired(Duration::ZERO, t).is_empty());
}

#[test]
fn a_file_of_a_started_delivery_is_late_not_waiting() {
    let (mut s, t) = (sets(), Instant::now());
    s.add("l", "K_A.TIF".into(), t, &none);
    let r = s.add("l", "K_B.TIF".into(), t, &none);
    assert!(matches!(r, Added::Complete { .. }), "{r:?}");
    let late = |ended| Added::Late {
        key: "K".into(),
        name: "K_MTL.txt".into(),
        ended,
    };
    let grace = Duration::from_secs(1);
    let soon = t + grace;
    // An extra of K waits out the grace (a new K may be arriving).
    assert_eq!(s.add("l", "K_MTL.txt".into(), t, &none), Added::Waiting);
    assert_eq!(s.late(grace, t), []);
    assert_eq!(s.late(grace, soon), [("l".to_string(), late(None))]);
    s.ended("l", "K", Ended::Done);
    assert_eq!(s.add("l", "K_MTL.txt".into(), t, &none), Added::Waiting);
    assert_eq!(
        s.late(grace, soon),
        [("l".to_string(), late(Some(Ended::Done)))]
    );
    // Another delivery's extra still waits; a band of K within the
    // grace starts a new set, whose extras join it, not the old one.
    assert_eq!(s.add("l", "J_MTL.txt".into(), t, &none), Added::Waiting);
    assert_eq!(s.add("l", "K_MTL.txt".into(), t, &none), Added::Waiting);
    assert_eq!(s.add("l", "K_A.TIF".into(), t, &none), Added::Waiting);
    assert_eq!(s.late(grace, soon), []);
    let r = s.add("l", "K_B.TIF".into(), t, &none);
    assert!(
        matches!(&r, Added::Complete { members, .. } if members.len() == 3),
        "{r:?}"
    );
    // Started sets are remembered while running, and for the set
    // timeout after they end.
    let later = soon + Duration::from_secs(10);
    assert_eq!(s.expired(Duration::from_secs(5), later).len(), 1);
    assert_eq!(s.add("l", "K_ANG.txt".into(), later, &none), Added::Waiting);
    assert_eq!(s.late(grace, later + grace).len(), 1);
    s.ended("l", "K", Ended::Done);
    let after = later + Duration::from_secs(10);
    assert_eq!(s.expired(Duration::from_secs(5), after), []);
    assert_eq!(s.add("l", "K_ANG.txt".into(), after, &none), Added::Waiting);
    assert_eq!(s.late(grace, after + grace), []);
}

#[test]
fn a_whole_set_waits_for_its_files_still_in_the_inbox() {
    let (mut s, t) = (sets(), Instant::now());
    let more = |k: &str| k == "K";
    assert_eq!(s.add("l", "K_A.TIF".into(), t, &more), Added::Waiting);
    assert_eq!(s.add("l", "K_B.TIF".into(), t, &more), Added::Waiting);
    // The last extra is claimed: nothing of K is left in the inbox.
    let Added::Complete { members, .. } = s.add("l", "K_thumb.jpeg".into(), t, &none) else {
        panic!("not complete")
    };
    assert_eq!(members.len(), 3);
    // A held set whose inbox file went away is released.
    s.add("l", "J_A.TIF".into(), t, &none);
    assert_eq!(s.add("l", "J_B.TIF".into(), t, &|_| true), Added::Waiting);
    let r = s.release(&|_, _| false);
    assert!(
        matches!(&r[..], [(l, Added::Complete { key, .. })] if l == "l" && key == "J"),
        "{r:?}"
    );
    assert!(s.release(&|_, _| false).is_empty());
}

#[test]
fn a_set_of_a_recipe_with_a_fixed_name_fails_once_nothing_more_arrives() {
    let cfg = crate::config::parse(
        "[recipes.f]\nexpr = 'a + m'\ninputs = { a = '*_A.TIF', m = 'MASK.TIF' }\n",
    )
    .unwrap();
    let (mut s, t) = (Sets::new(&cfg), Instant::now());
    // Files of its key still in the inbox: it waits for them.
    assert_eq!(s.add("f", "K_A.TIF".into(), t, &|_| true), Added::Waiting);
    assert_eq!(s.add("f", "K_MTL.txt".into(), t, &|_| true), Added::Waiting);
    let r = s.release(&|_, _| false);
    let [(
        _,
        Added::Unfinishable {
            key,
            members,
            missing,
        },
    )] = r.as_slice()
    else {
        panic!("{r:?}");
    };
    assert_eq!((key.as_str(), members.len()), ("K", 2));
    assert!(
        missing[0].starts_with("m (MASK.TIF, a name without the set key"),
        "{missing:?}"
    );
    assert!(s.waiting_recipes().is_empty());
}
