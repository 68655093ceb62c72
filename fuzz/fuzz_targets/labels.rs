//! Reading a PR's state from its labels, and the change that cleans them up.
//!
//! The input is text: the first line the state label prefix (the default `state/` if it is not a
//! valid prefix), the second what GitHub says of the PR (`c` closed, `m` merged, `d` draft, any
//! order), every further line a label.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prtracker_domain::{
    LabelPrefix, MAX_LABEL_CHARS, PrFacts, PrState, apply_diff, current_state, label_diff,
    label_key, same_label,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let prefix = LabelPrefix::new(lines.next().unwrap_or_default()).unwrap_or_default();
    let flags = lines.next().unwrap_or_default();
    let facts = PrFacts::from_github(
        flags.contains('c'),
        flags.contains('m'),
        flags.contains('d'),
    );
    let labels: Vec<&str> = lines.collect();

    // Every state's label is at most GitHub's length, and reads back as that state.
    for state in PrState::ALL {
        let label = prefix.label_for(state);
        assert!(label.chars().count() <= MAX_LABEL_CHARS, "{label:?}");
        assert_eq!(prefix.parse(&label), Some(state));
        if prefix.as_str().is_ascii() {
            assert_eq!(prefix.parse(&label.to_ascii_uppercase()), Some(state));
        }
    }
    // Labels are compared by a key that is its own key.
    for label in &labels {
        let key = label_key(label);
        assert_eq!(label_key(&key), key, "{label:?}");
        assert!(same_label(label, &key));
        assert_eq!(prefix.parse(label), prefix.parse(&key));
    }

    let reading = current_state(&labels, facts, &prefix);
    assert!(
        reading.state.is_consistent_with(facts),
        "{reading:?} {facts:?}"
    );
    match &reading.label {
        Some(label) => {
            assert!(!reading.missing);
            assert!(labels.contains(&label.as_str()));
            assert_eq!(prefix.parse(label), Some(reading.state));
        }
        None => {
            assert!(reading.missing);
            assert_eq!(reading.state, PrState::from_facts(facts));
        }
    }
    for label in &reading.conflicts {
        assert!(labels.contains(&label.as_str()));
        let state = prefix.parse(label).expect("a conflict is a state label");
        assert!(state.is_consistent_with(facts) && state != reading.state);
    }
    for label in &reading.contradicting {
        assert!(labels.contains(&label.as_str()));
        let state = prefix
            .parse(label)
            .expect("a contradicting label is a state label");
        assert!(!state.is_consistent_with(facts));
    }
    // Only state labels are ever removed.
    for label in reading.to_remove() {
        assert!(prefix.is_state_label(&label));
    }

    // The change to the state read leaves exactly that state, cleanly, and the labels that are not
    // state labels as they were; a second change is nothing.
    let diff = label_diff(&labels, reading.state, &prefix);
    for label in &diff.remove {
        assert!(prefix.is_state_label(label));
    }
    let after = apply_diff(&labels, &diff);
    let again = current_state(&after, facts, &prefix);
    assert!(again.is_clean(), "{labels:?} → {after:?}: {again:?}");
    assert_eq!(again.state, reading.state);
    let others = |list: &[&str]| -> Vec<String> {
        list.iter()
            .filter(|label| !prefix.is_state_label(label))
            .map(|label| (*label).to_owned())
            .collect()
    };
    let after_refs: Vec<&str> = after.iter().map(String::as_str).collect();
    assert_eq!(others(&after_refs), others(&labels));
    assert!(label_diff(&after, reading.state, &prefix).is_empty());
});
