//! Unit tests of `state.rs`.

use super::*;

#[test]
fn names_are_lowercase_label_suffixes() {
    let names: Vec<&str> = PrState::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "draft", "open", "approved", "merged", "deployed", "drifted", "closed"
        ]
    );
}

#[test]
fn display_and_from_str_round_trip_in_any_case() {
    for state in PrState::ALL {
        assert_eq!(state.to_string(), state.name());
        assert_eq!(state.name().parse::<PrState>(), Ok(state));
        assert_eq!(state.name().to_uppercase().parse::<PrState>(), Ok(state));
        assert_eq!(format!("{state:?}").parse::<PrState>(), Ok(state));
    }
}

#[test]
fn from_str_rejects_unknown_names() {
    for bad in ["", "merge", "state/merged", " merged", "merged ", "unknown"] {
        assert_eq!(bad.parse::<PrState>(), Err(UnknownState(bad.to_owned())));
    }
}

#[test]
fn serializes_as_pascal_case_names() {
    // PascalCase, the Kubernetes convention for enum values in CRDs: the camelCase and
    // lowercase spellings (one and the same for these one-word names) are neither written
    // nor read.
    let names = [
        "Draft", "Open", "Approved", "Merged", "Deployed", "Drifted", "Closed",
    ];
    for (state, name) in PrState::ALL.into_iter().zip(names) {
        let json = format!("\"{name}\"");
        assert_eq!(serde_json::to_string(&state).unwrap(), json);
        assert_eq!(serde_json::from_str::<PrState>(&json).unwrap(), state);
        let camel: String = name[..1].to_lowercase() + &name[1..];
        for wrong in [camel, name.to_lowercase()] {
            assert!(
                serde_json::from_str::<PrState>(&format!("\"{wrong}\"")).is_err(),
                "{wrong} read as a state"
            );
        }
    }
}

#[test]
fn json_schema_lists_the_serialized_names() {
    // Documented variants become `oneOf` string constants, which kube's structural
    // schema rewriter turns into a plain `enum` for the CRD.
    let schema = serde_json::to_value(schemars::schema_for!(PrState)).unwrap();
    assert!(
        !schema["description"].as_str().unwrap().contains('['),
        "rustdoc links would show in `kubectl explain`"
    );
    let variants = schema["oneOf"].as_array().unwrap();
    let names: Vec<&str> = variants
        .iter()
        .map(|v| {
            assert_eq!(v["type"], "string", "{v}");
            assert!(v["description"].is_string(), "{v}");
            v["const"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        names,
        [
            "Draft", "Open", "Approved", "Merged", "Deployed", "Drifted", "Closed"
        ]
    );
}

#[test]
fn lifecycle_order_and_closed_apart() {
    let lifecycle: Vec<PrState> = PrState::ALL
        .into_iter()
        .filter(|s| s.lifecycle_rank().is_some())
        .collect();
    assert_eq!(
        lifecycle,
        [
            PrState::Draft,
            PrState::Open,
            PrState::Approved,
            PrState::Merged,
            PrState::Deployed,
            PrState::Drifted
        ]
    );
    for pair in lifecycle.windows(2) {
        assert!(pair[0].lifecycle_rank() < pair[1].lifecycle_rank());
    }
    assert_eq!(PrState::Closed.lifecycle_rank(), None);
    assert!(PrState::Closed.is_terminal());
    assert!(!PrState::Drifted.is_terminal());
}

#[test]
fn advancement_order_is_total_and_matches_all() {
    for (i, state) in PrState::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(state.advancement_rank()), i);
        if let Some(rank) = state.lifecycle_rank() {
            assert_eq!(rank, state.advancement_rank());
        }
    }
}

#[test]
fn label_definitions_fit_github_limits() {
    let mut colors = std::collections::HashSet::new();
    for state in PrState::ALL {
        let color = state.color();
        assert_eq!(color.len(), 6, "{state}: {color}");
        assert!(
            color.chars().all(|c| c.is_ascii_hexdigit()),
            "{state}: {color}"
        );
        assert!(colors.insert(color), "{state} shares its colour");
        let description = state.description();
        assert!(!description.is_empty());
        assert!(description.chars().count() <= 100, "{state}: {description}");
    }
}
