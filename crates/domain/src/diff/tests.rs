//! Unit tests of `diff.rs`.

use super::*;
use PrState::*;

fn diff(labels: &[&str], target: PrState) -> LabelDiff {
    label_diff(labels, target, &LabelPrefix::default())
}

fn d(add: &[&str], remove: &[&str]) -> LabelDiff {
    LabelDiff {
        add: add.iter().map(|l| (*l).to_owned()).collect(),
        remove: remove.iter().map(|l| (*l).to_owned()).collect(),
    }
}

#[test]
fn label_diff_table() {
    // (labels, target, expected diff)
    let table = [
        (&[][..], Open, d(&["state/open"], &[])),
        (&["bug"], Draft, d(&["state/draft"], &[])),
        (&["state/open"], Open, d(&[], &[])),
        (&["bug", "state/open", "wip"], Open, d(&[], &[])),
        (
            &["state/approved"],
            Merged,
            d(&["state/merged"], &["state/approved"]),
        ),
        (
            &["state/merged"],
            Deployed,
            d(&["state/deployed"], &["state/merged"]),
        ),
        (
            &["state/deployed"],
            Drifted,
            d(&["state/drifted"], &["state/deployed"]),
        ),
        (
            &["state/drifted", "state/merged", "state/open"],
            Drifted,
            d(&[], &["state/open", "state/merged"]),
        ),
        (&["State/Merged"], Merged, d(&[], &[])),
        (
            &["STATE/OPEN", "bug"],
            Closed,
            d(&["state/closed"], &["STATE/OPEN"]),
        ),
        (
            &["state/unknown", "statex/merged", "merged"],
            Merged,
            d(&["state/merged"], &[]),
        ),
    ];
    for (labels, target, expected) in table {
        let actual = diff(labels, target);
        assert_eq!(actual, expected, "{labels:?} -> {target}");
        assert_eq!(
            actual.is_empty(),
            expected.add.is_empty() && expected.remove.is_empty()
        );
    }
}

#[test]
fn case_variants_of_the_target_are_kept_and_of_others_removed_once() {
    let labels = ["state/merged", "State/Merged", "state/open", "STATE/OPEN"];
    let change = diff(&labels, Merged);
    assert_eq!(change, d(&[], &["STATE/OPEN"]));
    assert_eq!(
        apply_diff(&labels, &change),
        ["state/merged", "State/Merged"]
    );
}

#[test]
fn custom_prefix_leaves_default_prefix_labels_alone() {
    let prefix = LabelPrefix::new("pr/").unwrap();
    let labels = ["state/open", "pr/open"];
    let change = label_diff(&labels, Merged, &prefix);
    assert_eq!(change, d(&["pr/merged"], &["pr/open"]));
    assert_eq!(apply_diff(&labels, &change), ["state/open", "pr/merged"]);
}

#[test]
fn apply_diff_behaves_like_github() {
    let labels = ["Bug", "state/open", "wip"];
    // Case-insensitive removal, absent removals ignored.
    assert_eq!(
        apply_diff(&labels, &d(&[], &["STATE/Open", "nope"])),
        ["Bug", "wip"]
    );
    // Add if absent, in any case; duplicates in `add` added once.
    assert_eq!(
        apply_diff(&labels, &d(&["bug", "state/merged", "State/Merged"], &[])),
        ["Bug", "state/open", "wip", "state/merged"]
    );
    // Removals before additions.
    assert_eq!(
        apply_diff(&labels, &d(&["wip"], &["WIP"])),
        ["Bug", "state/open", "wip"]
    );
    assert_eq!(apply_diff(&labels, &LabelDiff::default()), labels);
}

#[test]
fn applying_the_diff_leaves_exactly_the_target_label() {
    let prefix = LabelPrefix::default();
    let labels = [
        "bug",
        "state/approved",
        "State/Deployed",
        "state/xyz",
        "Docs",
    ];
    for target in PrState::ALL {
        let after = apply_diff(&labels, &diff(&labels, target));
        let states = prefix.state_labels(&after);
        assert_eq!(states.len(), 1, "{after:?}");
        assert_eq!(states[0].0, target);
        let others: Vec<&String> = after.iter().filter(|l| !prefix.is_state_label(l)).collect();
        assert_eq!(others, ["bug", "state/xyz", "Docs"]);
        assert!(label_diff(&after, target, &prefix).is_empty());
    }
}
