//! Unit tests of `reading.rs`.

use super::*;
use PrState::*;

const OPEN: PrFacts = PrFacts::Open { draft: false };
const DRAFT: PrFacts = PrFacts::Open { draft: true };
const MERGED: PrFacts = PrFacts::Merged;
const CLOSED: PrFacts = PrFacts::Closed;

fn read(labels: &[&str], facts: PrFacts) -> StateReading {
    current_state(labels, facts, &LabelPrefix::default())
}

fn strings(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|l| (*l).to_owned()).collect()
}

#[test]
fn rule_3_one_counting_label_gives_the_state() {
    // (labels, facts, state, the label that gave it)
    let table = [
        (&["state/draft"][..], DRAFT, Draft, "state/draft"),
        (&["state/open"], OPEN, Open, "state/open"),
        (&["state/open"], DRAFT, Open, "state/open"),
        (&["state/approved"], OPEN, Approved, "state/approved"),
        (&["state/approved"], DRAFT, Approved, "state/approved"),
        (&["state/merged"], MERGED, Merged, "state/merged"),
        (&["state/deployed"], MERGED, Deployed, "state/deployed"),
        (&["state/drifted"], MERGED, Drifted, "state/drifted"),
        (&["state/closed"], CLOSED, Closed, "state/closed"),
        (
            &["bug", "state/deployed", "help wanted"],
            MERGED,
            Deployed,
            "state/deployed",
        ),
    ];
    for (labels, facts, state, label) in table {
        let reading = read(labels, facts);
        assert_eq!(reading.state, state, "{labels:?} on {facts:?}");
        assert_eq!(reading.label.as_deref(), Some(label));
        assert!(reading.is_clean(), "{reading:?}");
        assert!(reading.to_remove().is_empty());
    }
}

#[test]
fn rule_2_contradicting_labels_do_not_count() {
    // (labels, facts, state, contradicting)
    let table = [
        (&["state/open"][..], MERGED, Merged, &["state/open"][..]),
        (&["state/draft"], OPEN, Open, &["state/draft"]),
        (&["state/merged"], OPEN, Open, &["state/merged"]),
        (&["state/deployed"], CLOSED, Closed, &["state/deployed"]),
        (&["state/closed"], MERGED, Merged, &["state/closed"]),
        (&["state/closed"], DRAFT, Draft, &["state/closed"]),
        (
            &["state/approved", "state/drifted"],
            CLOSED,
            Closed,
            &["state/approved", "state/drifted"],
        ),
    ];
    for (labels, facts, state, contradicting) in table {
        let reading = read(labels, facts);
        assert_eq!(reading.state, state, "{labels:?} on {facts:?}");
        assert_eq!(reading.contradicting, strings(contradicting));
        assert_eq!(reading.label, None);
        assert!(reading.missing);
        assert!(reading.conflicts.is_empty());
        assert_eq!(reading.to_remove(), strings(contradicting));
    }
}

#[test]
fn contradicting_label_next_to_a_counting_one() {
    let reading = read(&["state/open", "state/deployed"], MERGED);
    assert_eq!(reading.state, Deployed);
    assert_eq!(reading.label.as_deref(), Some("state/deployed"));
    assert_eq!(reading.contradicting, ["state/open"]);
    assert!(reading.conflicts.is_empty());
    assert!(!reading.missing);
    assert!(!reading.is_clean());
    assert_eq!(reading.to_remove(), ["state/open"]);
}

#[test]
fn rule_4_most_advanced_counting_label_wins() {
    // (labels, facts, winner, conflicts in advancement order)
    let table = [
        (
            &["state/open", "state/approved"][..],
            OPEN,
            "state/approved",
            &["state/open"][..],
        ),
        (
            &["state/approved", "state/open"],
            OPEN,
            "state/approved",
            &["state/open"],
        ),
        (
            &["state/draft", "state/open"],
            DRAFT,
            "state/open",
            &["state/draft"],
        ),
        (
            &["state/approved", "state/draft", "state/open"],
            DRAFT,
            "state/approved",
            &["state/draft", "state/open"],
        ),
        (
            &["state/merged", "state/deployed"],
            MERGED,
            "state/deployed",
            &["state/merged"],
        ),
        (
            &["state/drifted", "state/deployed"],
            MERGED,
            "state/drifted",
            &["state/deployed"],
        ),
        (
            &["state/deployed", "state/drifted", "state/merged"],
            MERGED,
            "state/drifted",
            &["state/merged", "state/deployed"],
        ),
    ];
    for (labels, facts, winner, conflicts) in table {
        let reading = read(labels, facts);
        assert_eq!(reading.label.as_deref(), Some(winner), "{labels:?}");
        assert_eq!(reading.state, LabelPrefix::default().parse(winner).unwrap());
        assert_eq!(reading.conflicts, strings(conflicts), "{labels:?}");
        assert!(reading.contradicting.is_empty());
        assert!(!reading.missing);
        assert_eq!(reading.to_remove(), strings(conflicts));
    }
}

#[test]
fn rule_5_no_state_label_follows_the_facts() {
    let table = [
        (OPEN, Open),
        (DRAFT, Draft),
        (MERGED, Merged),
        (CLOSED, Closed),
    ];
    for (facts, expected) in table {
        for labels in [
            &[][..],
            &["bug", "state/unknown", "statex/merged", "merged"][..],
        ] {
            let reading = read(labels, facts);
            assert_eq!(
                reading,
                StateReading {
                    state: expected,
                    label: None,
                    conflicts: vec![],
                    contradicting: vec![],
                    missing: true,
                },
                "{labels:?} on {facts:?}"
            );
            assert!(!reading.is_clean());
        }
    }
}

#[test]
fn rule_1_labels_are_read_case_insensitively_and_reported_as_written() {
    let reading = read(&["State/OPEN", "STATE/Approved", "Bug"], OPEN);
    assert_eq!(reading.state, Approved);
    assert_eq!(reading.label.as_deref(), Some("STATE/Approved"));
    assert_eq!(reading.conflicts, ["State/OPEN"]);
}

#[test]
fn case_variants_are_one_label() {
    let labels = ["state/merged", "State/Merged", "STATE/OPEN", "state/open"];
    let reading = read(&labels, MERGED);
    assert_eq!(reading.state, Merged);
    assert_eq!(reading.label.as_deref(), Some("State/Merged"));
    assert!(reading.conflicts.is_empty());
    assert_eq!(reading.contradicting, ["STATE/OPEN"]);
    let mut reversed = labels;
    reversed.reverse();
    assert_eq!(read(&reversed, MERGED), reading);
}

#[test]
fn custom_prefix() {
    let prefix = LabelPrefix::new("pr:").unwrap();
    let labels = ["state/deployed", "pr:merged", "PR:Open"];
    let reading = current_state(&labels, MERGED, &prefix);
    assert_eq!(reading.state, Merged);
    assert_eq!(reading.label.as_deref(), Some("pr:merged"));
    assert_eq!(reading.contradicting, ["PR:Open"]);
    // Under the default prefix only `state/deployed` is a state label.
    let default = read(&labels, MERGED);
    assert_eq!(default.state, Deployed);
    assert!(default.is_clean());
}

#[test]
fn accepts_owned_strings() {
    let labels = vec!["state/closed".to_owned(), "wontfix".to_owned()];
    let reading = current_state(&labels, CLOSED, &LabelPrefix::default());
    assert_eq!(reading.state, Closed);
    assert!(reading.is_clean());
}

#[test]
fn the_label_added_last_wins_among_several() {
    let prefix = LabelPrefix::default();
    let facts = PrFacts::from_github(false, false, false);
    let labels = ["state/approved", "state/open", "bug"];
    let by_rule_4 = current_state_preferring(&labels, facts, &prefix, None);
    assert_eq!(by_rule_4, current_state(&labels, facts, &prefix));
    assert_eq!(by_rule_4.state, PrState::Approved);

    let moving_back = current_state_preferring(&labels, facts, &prefix, Some("State/Open"));
    assert_eq!(moving_back.state, PrState::Open);
    assert_eq!(moving_back.label.as_deref(), Some("state/open"));
    assert_eq!(moving_back.conflicts, ["state/approved"]);
    assert!(!moving_back.missing);

    // A label that is no state label, or not on the PR, or contradicting the facts: rule 4.
    for other in ["bug", "state/draft", "state/merged"] {
        assert_eq!(
            current_state_preferring(&labels, facts, &prefix, Some(other)),
            by_rule_4,
            "{other}"
        );
    }
    let merged = ["state/open", "state/merged"];
    let merged_facts = PrFacts::from_github(true, true, false);
    assert_eq!(
        current_state_preferring(&merged, merged_facts, &prefix, Some("state/open")).state,
        PrState::Merged,
        "a label the facts contradict never wins"
    );
}
