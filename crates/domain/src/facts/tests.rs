//! Unit tests of `facts.rs`.

use super::*;
use PrState::*;

const OPEN: PrFacts = PrFacts::Open { draft: false };
const DRAFT: PrFacts = PrFacts::Open { draft: true };
const MERGED: PrFacts = PrFacts::Merged;
const CLOSED: PrFacts = PrFacts::Closed;

#[test]
fn from_github_covers_every_combination() {
    // (state_closed, merged, draft) -> facts
    let table = [
        ((false, false, false), OPEN),
        ((false, false, true), DRAFT),
        ((true, false, false), CLOSED),
        ((true, false, true), CLOSED),
        ((true, true, false), MERGED),
        ((true, true, true), MERGED),
        // Not produced by GitHub, handled anyway: merged wins.
        ((false, true, false), MERGED),
        ((false, true, true), MERGED),
    ];
    for ((closed, merged, draft), expected) in table {
        assert_eq!(
            PrFacts::from_github(closed, merged, draft),
            expected,
            "closed={closed} merged={merged} draft={draft}"
        );
    }
}

#[test]
fn consistency_table() {
    // state -> consistent with (open, draft, merged, closed)
    let table = [
        (Draft, [false, true, false, false]),
        (Open, [true, true, false, false]),
        (Approved, [true, true, false, false]),
        (Merged, [false, false, true, false]),
        (Deployed, [false, false, true, false]),
        (Drifted, [false, false, true, false]),
        (Closed, [false, false, false, true]),
    ];
    for (state, expected) in table {
        let actual = [OPEN, DRAFT, MERGED, CLOSED].map(|f| state.is_consistent_with(f));
        assert_eq!(actual, expected, "{state}");
    }
}

#[test]
fn from_facts_follows_rule_5_and_is_consistent() {
    let table = [
        (OPEN, Open),
        (DRAFT, Draft),
        (MERGED, Merged),
        (CLOSED, Closed),
    ];
    for (facts, expected) in table {
        assert_eq!(PrState::from_facts(facts), expected, "{facts:?}");
        assert!(expected.is_consistent_with(facts));
    }
}

#[test]
fn consistent_states_lists_exactly_the_consistent_ones() {
    let list = |f: PrFacts| f.consistent_states().collect::<Vec<_>>();
    assert_eq!(list(OPEN), [Open, Approved]);
    assert_eq!(list(DRAFT), [Draft, Open, Approved]);
    assert_eq!(list(MERGED), [Merged, Deployed, Drifted]);
    assert_eq!(list(CLOSED), [Closed]);
}

#[test]
fn predicates() {
    assert!(OPEN.is_open() && DRAFT.is_open());
    assert!(!MERGED.is_open() && !CLOSED.is_open());
    assert!(DRAFT.is_draft() && !OPEN.is_draft());
    assert!(MERGED.is_merged() && !CLOSED.is_merged());
    assert!(CLOSED.is_closed_unmerged() && !MERGED.is_closed_unmerged());
}
