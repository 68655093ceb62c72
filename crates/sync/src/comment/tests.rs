use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use prtracker_api::{DriftedResource, FieldDrift};

use super::*;

fn repo() -> Repository {
    "octo-org/shop".parse().expect("repository")
}

fn at(text: &str) -> Option<Time> {
    Some(Time(text.parse::<Timestamp>().expect("a timestamp")))
}

fn live() -> DriftMonitorStatus {
    DriftMonitorStatus {
        phase: Some(DriftPhase::InSync),
        fields_watched: 3,
        live_since: at("2026-12-02T10:15:00Z"),
        last_check_time: at("2026-12-02T11:00:00Z"),
        ..Default::default()
    }
}

fn drifted() -> DriftMonitorStatus {
    DriftMonitorStatus {
        phase: Some(DriftPhase::Drifted),
        fields_watched: 3,
        fields_drifted: 1,
        live_since: at("2026-12-02T10:15:00Z"),
        drifted_since: at("2026-12-02T10:40:00Z"),
        drifted_resources: vec![DriftedResource {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
            missing: false,
            fields: vec![FieldDrift {
                path: "spec.replicas".into(),
                desired: Some("3".into()),
                live: Some("5".into()),
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn facts<'a>(rows: Vec<ClusterRow<'a>>, repository: &'a Repository) -> CommentFacts<'a> {
    CommentFacts {
        repository,
        number: 1347,
        state_label: "state/drifted",
        merge_commit: Some("5c1e7d3a9b2f4e6d8c0a1b3c5d7e9f1a2b4c6d8e"),
        clusters: rows,
    }
}

#[test]
fn a_drifted_cluster_names_the_object_and_the_field() {
    let repository = repo();
    let (primary, staging) = (live(), drifted());
    let body = render(&facts(
        vec![
            ClusterRow {
                cluster: "primary",
                status: Some(&primary),
            },
            ClusterRow {
                cluster: "staging",
                status: Some(&staging),
            },
        ],
        &repository,
    ));
    assert!(is_ours(&body, &repository, 1347), "{body}");
    assert!(!is_ours(&body, &repository, 1348));
    assert!(is_ours(
        &body,
        &"Octo-Org/Shop".parse().expect("repo"),
        1347
    ));
    assert!(body.contains("`5c1e7d3a9b2f`"), "{body}");
    assert!(
        body.contains("| primary | ✅ live | 3 held | 2026-12-02 10:15 UTC |"),
        "{body}"
    );
    assert!(
        body.contains("| staging | ⚠️ changed by hand | 1 of 3 changed | 2026-12-02 10:40 UTC |"),
        "{body}"
    );
    assert!(
        body.contains(
            "- `Deployment shop/web` `spec.replicas`: the PR set `3`, the cluster holds `5`"
        ),
        "{body}"
    );
    assert!(!body.contains("11:00"), "no last-check time: {body}");
}

#[test]
fn the_text_changes_with_the_verdicts_not_with_each_check() {
    let repository = repo();
    let first = live();
    let mut checked_again = live();
    checked_again.last_check_time = at("2026-12-02T11:05:00Z");
    let row = |status| {
        vec![ClusterRow {
            cluster: "primary",
            status: Some(status),
        }]
    };
    assert_eq!(
        render(&facts(row(&first), &repository)),
        render(&facts(row(&checked_again), &repository))
    );
    let changed = drifted();
    assert_ne!(
        render(&facts(row(&first), &repository)),
        render(&facts(row(&changed), &repository))
    );
}

#[test]
fn cells_and_code_cannot_break_the_markdown() {
    let repository = repo();
    let mut status = drifted();
    status.drifted_resources[0].fields[0].live = Some("a`b|c\nd".into());
    let body = render(&facts(
        vec![ClusterRow {
            cluster: "pipe|cluster",
            status: Some(&status),
        }],
        &repository,
    ));
    assert!(body.contains("pipe\\|cluster"), "{body}");
    assert!(body.contains("`a'b|c d`"), "{body}");
}

#[test]
fn a_huge_drift_is_listed_in_part_and_the_body_stays_within_githubs_limit() {
    let repository = repo();
    let mut status = drifted();
    let field = |n: usize| FieldDrift {
        path: format!("data.key{n}"),
        desired: Some("x".repeat(256)),
        live: Some("y".repeat(256)),
    };
    status.drifted_resources = (0..50)
        .map(|r| DriftedResource {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("shop".into()),
            name: format!("settings-{r}"),
            missing: false,
            fields: (0..20).map(field).collect(),
            ..Default::default()
        })
        .collect();
    let rows: Vec<ClusterRow<'_>> = (0..32)
        .map(|_| ClusterRow {
            cluster: "c",
            status: Some(&status),
        })
        .collect();
    let body = render(&facts(rows, &repository));
    assert!(body.chars().count() <= MAX_COMMENT_CHARS, "{}", body.len());
    assert!(body.contains("cut here") || body.contains("more changed fields"));
    assert!(is_ours(&body, &repository, 1347));
}

#[test]
fn before_the_merge_it_says_nothing_is_deployed() {
    let repository = repo();
    let mut facts = facts(Vec::new(), &repository);
    facts.merge_commit = None;
    facts.state_label = "state/open";
    let body = render(&facts);
    assert!(body.contains("Not merged yet"), "{body}");
}
