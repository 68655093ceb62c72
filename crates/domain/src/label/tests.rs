//! Unit tests of `label.rs`.

use super::*;

fn prefix(s: &str) -> LabelPrefix {
    LabelPrefix::new(s).unwrap()
}

#[test]
fn default_prefix_is_state_slash() {
    let default = LabelPrefix::default();
    assert_eq!(default.as_str(), "state/");
    assert_eq!(default, prefix("state/"));
    assert_eq!(default.label_for(PrState::Merged), "state/merged");
    assert_eq!(default.label_for(PrState::Draft), "state/draft");
}

#[test]
fn parse_reads_state_labels_in_any_case() {
    let p = LabelPrefix::default();
    for state in PrState::ALL {
        assert_eq!(p.parse(&p.label_for(state)), Some(state));
        assert_eq!(p.parse(&p.label_for(state).to_uppercase()), Some(state));
    }
    assert_eq!(p.parse("State/MERGED"), Some(PrState::Merged));
    assert_eq!(p.parse("sTaTe/DePlOyEd"), Some(PrState::Deployed));
}

#[test]
fn other_labels_are_not_state_labels() {
    let p = LabelPrefix::default();
    for label in [
        "bug",
        "state/unknown",
        "state/",
        "state",
        "statex/merged",
        "xstate/merged",
        "state/merged ",
        " state/merged",
        "state//merged",
        "state/merged/",
        "merged",
        "state-merged",
        "",
    ] {
        assert_eq!(p.parse(label), None, "{label:?}");
        assert!(!p.is_state_label(label), "{label:?}");
    }
    assert!(p.is_state_label("state/open"));
}

#[test]
fn custom_prefixes() {
    let p = prefix("pr-state:");
    assert_eq!(p.label_for(PrState::Approved), "pr-state:approved");
    assert_eq!(p.parse("PR-State:Approved"), Some(PrState::Approved));
    assert_eq!(p.parse("state/approved"), None);

    let greek = prefix("ΚΑΤΆΣΤΑΣΗ:");
    assert_eq!(greek.parse("κατάσταση:merged"), Some(PrState::Merged));
    assert_eq!(greek.parse("ΚΑΤΆΣΤΑΣΗ:MERGED"), Some(PrState::Merged));

    // Greek sigma: `ς` at the end of a word, `σ` elsewhere, both `Σ` in upper case.
    let sigma = prefix("ΑΣ/");
    for label in ["ΑΣ/open", "ας/open", "ασ/OPEN", "Ας/Open"] {
        assert_eq!(sigma.parse(label), Some(PrState::Open), "{label}");
    }
}

#[test]
fn invalid_prefixes_are_rejected() {
    assert_eq!(LabelPrefix::new(""), Err(InvalidPrefix::Empty));
    for bad in [" state/", "state/ ", "\tstate/", "state/\n", " "] {
        assert_eq!(
            LabelPrefix::new(bad),
            Err(InvalidPrefix::SurroundingWhitespace(bad.to_owned()))
        );
    }
    assert_eq!(
        LabelPrefix::new("a,b/"),
        Err(InvalidPrefix::Comma("a,b/".to_owned()))
    );
    assert_eq!(
        LabelPrefix::new("a\u{7}b/"),
        Err(InvalidPrefix::ControlCharacter("a\u{7}b/".to_owned()))
    );
}

#[test]
fn prefix_length_limit_keeps_labels_within_50_characters() {
    assert_eq!(LabelPrefix::MAX_CHARS, 42);
    let longest = "é".repeat(LabelPrefix::MAX_CHARS); // characters, not bytes
    let p = prefix(&longest);
    for state in PrState::ALL {
        assert!(p.label_for(state).chars().count() <= MAX_LABEL_CHARS);
    }
    assert_eq!(p.label_for(PrState::Approved).chars().count(), 50);
    let too_long = "é".repeat(LabelPrefix::MAX_CHARS + 1);
    assert_eq!(
        LabelPrefix::new(too_long.clone()),
        Err(InvalidPrefix::TooLong {
            prefix: too_long,
            chars: 43,
            max: 42
        })
    );
}

#[test]
fn conversions_validate() {
    assert_eq!("state/".parse::<LabelPrefix>(), Ok(LabelPrefix::default()));
    assert!(" x".parse::<LabelPrefix>().is_err());
    assert!(LabelPrefix::try_from(String::new()).is_err());
    assert_eq!(String::from(prefix("s:")), "s:");
    assert_eq!(prefix("s:").to_string(), "s:");
    assert_eq!(prefix("s:").as_ref(), "s:");

    let json = serde_json::to_string(&prefix("team/")).unwrap();
    assert_eq!(json, "\"team/\"");
    assert_eq!(
        serde_json::from_str::<LabelPrefix>(&json).unwrap(),
        prefix("team/")
    );
    let err = serde_json::from_str::<LabelPrefix>("\"bad,prefix\"").unwrap_err();
    assert!(err.to_string().contains("comma"), "{err}");
}

#[test]
fn state_labels_lists_one_label_per_state_in_advancement_order() {
    let p = LabelPrefix::default();
    let labels = [
        "bug",
        "State/Merged",
        "state/open",
        "state/xyz",
        "STATE/MERGED",
        "state/draft",
    ];
    let expected = vec![
        (PrState::Draft, "state/draft"),
        (PrState::Open, "state/open"),
        (PrState::Merged, "STATE/MERGED"),
    ];
    assert_eq!(p.state_labels(&labels), expected);
    let mut reversed = labels;
    reversed.reverse();
    assert_eq!(p.state_labels(&reversed), expected);
    assert!(p.state_labels(&["bug", "statex/open"]).is_empty());
    assert!(p.state_labels::<&str>(&[]).is_empty());
}

#[test]
fn same_label_ignores_case_only() {
    assert!(same_label("Bug", "bug"));
    assert!(same_label("ΚΑΤΆΣΤΑΣΗ", "κατάσταση"));
    assert!(same_label("ΟΔΟΣ", "οδος"));
    assert_eq!(label_key("ΟΔΟΣ"), label_key("οδος"));
    assert_eq!(label_key("State/Merged"), "state/merged");
    assert!(same_label("STATE/merged", "state/MERGED"));
    assert!(!same_label("bug", "bugs"));
    assert!(!same_label("bug", "bug "));
}
