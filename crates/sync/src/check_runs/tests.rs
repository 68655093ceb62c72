use super::*;
use prtracker_api::{DriftedResource, FieldDrift};

fn drifted(objects: usize) -> DriftMonitorStatus {
    DriftMonitorStatus {
        phase: Some(DriftPhase::Drifted),
        fields_watched: 3,
        fields_drifted: 1,
        drifted_resources: (0..objects)
            .map(|i| DriftedResource {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: format!("web-{i}"),
                missing: false,
                fields: vec![FieldDrift {
                    path: "spec.replicas".into(),
                    desired: Some("3".into()),
                    live: Some("5".into()),
                }],
                file: Some("deploy/web.yaml".into()),
                line: Some(3 + 20 * i as u32),
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn a_drifted_cluster_fails_with_an_annotation_per_object_naming_the_field() {
    let want = desired_one("prod", Some(&drifted(2)), "deploy");
    assert_eq!(
        (want.status, want.conclusion),
        ("completed", Some("failure"))
    );
    assert_eq!(want.name, "prtracker/prod");
    assert_eq!(want.annotations.len(), 2);
    assert_eq!(want.annotations[0].path, "deploy/web.yaml");
    assert_eq!(
        (want.annotations[1].start_line, want.annotations[1].end_line),
        (23, 23)
    );
    assert!(want.annotations[1].message.contains("spec.replicas"));
    assert!(want.summary.contains("`3` in the repository, `5` live"));

    // Rendered output names no file: the target's path, its first line.
    let mut rendered = drifted(1);
    rendered.drifted_resources[0].file = None;
    rendered.drifted_resources[0].line = None;
    let want = desired_one("prod", Some(&rendered), "deploy/overlays/prod");
    assert_eq!(want.annotations[0].path, "deploy/overlays/prod");
    assert_eq!(want.annotations[0].start_line, 1);
}

#[test]
fn an_annotation_title_fits_githubs_255_characters_and_values_cannot_break_the_markdown() {
    let mut status = drifted(1);
    status.drifted_resources[0].name = "n".repeat(253);
    status.drifted_resources[0].fields[0].live = Some("`5`\n# heading".into());
    let want = desired_one("prod", Some(&status), "deploy");
    assert_eq!(
        want.annotations[0].title.chars().count(),
        MAX_ANNOTATION_TITLE
    );
    assert!(
        want.summary.contains("`'5' # heading` live"),
        "{}",
        want.summary
    );
}

#[test]
fn at_most_fifty_annotations_go_in_one_write() {
    let want = desired_one("prod", Some(&drifted(60)), "deploy");
    assert_eq!(want.annotations.len(), MAX_ANNOTATIONS_PER_REQUEST);
}

#[test]
fn the_digest_changes_with_what_the_run_shows_and_only_then() {
    let a = desired_one("prod", Some(&drifted(1)), "deploy");
    let b = desired_one("prod", Some(&drifted(1)), "deploy");
    let c = desired_one("prod", Some(&drifted(2)), "deploy");
    let waiting = desired_one("prod", None, "deploy");
    assert_eq!(a.digest(), b.digest());
    assert_ne!(a.digest(), c.digest());
    assert_ne!(a.digest(), waiting.digest());
    assert_eq!((waiting.status, waiting.conclusion), ("in_progress", None));
}

fn monitor(cluster: &str, request: Option<&str>, answered: Option<&str>) -> DriftMonitor {
    let mut monitor = DriftMonitor::new(
        &format!("t-{cluster}"),
        prtracker_api::DriftMonitorSpec {
            tracker: "t".into(),
            cluster: cluster.into(),
            source: prtracker_api::ManifestSource {
                repository: "o/r".parse().expect("repository"),
                commit: "a".repeat(40),
                path: "deploy".into(),
                base_branch: None,
                values: Vec::new(),
            },
            interval: "30m".into(),
            ignore_differences: Vec::new(),
        },
    );
    if let Some(request) = request {
        monitor
            .annotations_mut()
            .insert(CHECK_REQUESTED_ANNOTATION.into(), request.into());
    }
    monitor.status = Some(DriftMonitorStatus {
        answered_check_request: answered.map(str::to_owned),
        ..drifted(1)
    });
    monitor
}

#[test]
fn a_re_run_is_in_progress_until_its_check_answers_then_shows_the_verdict_as_ever() {
    let clusters = ["prod".to_owned()];
    let plain = desired(&clusters, &[monitor("prod", None, None)]);
    assert_eq!(plain[0].rerun_of, None);

    let asked = desired(&clusters, &[monitor("prod", Some("rerun-7"), Some("12"))]);
    assert_eq!(
        (asked[0].status, asked[0].conclusion),
        ("in_progress", None)
    );
    assert_eq!(asked[0].rerun_of, Some(7));
    assert_eq!(asked[0].name, "prtracker/prod");

    let answered = desired(
        &clusters,
        &[monitor("prod", Some("rerun-7"), Some("rerun-7"))],
    );
    assert_eq!(answered[0].rerun_of, Some(7));
    assert_eq!(
        answered[0].digest(),
        plain[0].digest(),
        "what the run shows is the verdict's"
    );

    // Any other check request (a person's kubectl annotate, a time) is no re-run.
    let other = desired(&clusters, &[monitor("prod", Some("1700000000"), None)]);
    assert_eq!(other[0].rerun_of, None);
    assert_eq!(other[0].digest(), plain[0].digest());
}

#[test]
fn a_run_name_gives_back_its_cluster_and_no_other_name_does() {
    assert_eq!(cluster_of(&name("prod-eu")), Some("prod-eu"));
    assert_eq!(cluster_of("prtracker/"), None);
    assert_eq!(cluster_of("ci/build"), None);
    assert_eq!(rerun_request(42), "rerun-42");
}
