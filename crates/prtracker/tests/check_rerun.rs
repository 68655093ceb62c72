//! A person's "Re-run" of a cluster's check run (GitHub sends the App `check_run` `rerequested`),
//! end to end through the real `prtracker run` as a GitHub App, two clusters and the simulator:
//! the cluster is checked at once (here nothing else would have looked: no cluster watches, a
//! 10-minute interval), and the run re-run gets a new run of the same name with the verdict, as
//! GitHub expects of an App. The other cluster's run is left alone.

mod common;

use std::time::Duration;

use common::eventually;
use common::world::*;
use prtracker_domain::PrState;
use prtracker_github_sim::CheckRun;

/// The runs of `name` on `commit`, newest first.
fn runs(world: &World, commit: &str, name: &str) -> Vec<CheckRun> {
    world
        .sim
        .check_runs(REPO, commit)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.name == name)
        .collect()
}

/// Waits until `name` on `commit` has `count` runs, the newest one completed as `conclusion`.
async fn newest_run(
    world: &World,
    commit: &str,
    name: &str,
    count: usize,
    conclusion: &str,
) -> CheckRun {
    eventually(
        &format!("{count} runs of {name}, the newest {conclusion}"),
        Duration::from_secs(90),
        || async {
            let runs = runs(world, commit, name);
            (runs.len() == count && runs[0].conclusion.as_deref() == Some(conclusion))
                .then(|| runs[0].clone())
        },
    )
    .await
}

#[tokio::test]
async fn a_re_run_checks_its_cluster_now_and_gets_a_new_run_with_the_verdict() {
    let world = World::start(
        "rerun",
        Options {
            app: true,
            monitor_interval: Some("10m"),
            flags: vec!["--check-runs", "--watch-clusters=false"],
            ..Options::default()
        },
    )
    .await;
    let mut app = world.app();
    app.replicas = 3;
    let (number, merge) = world.merged_pr("Three replicas", &app).await;
    apply_everywhere(&app.yaml());
    world.check_now(number).await;
    world.wait_for_state(number, PrState::Deployed).await;
    let primary = "prtracker/in-cluster".to_owned();
    let secondary = format!("prtracker/{}", world.secondary);
    let first_primary = newest_run(&world, &merge, &primary, 1, "success").await;
    let first_secondary = newest_run(&world, &merge, &secondary, 1, "success").await;

    // A hand edit that nothing looks at for ten minutes.
    scale("secondary", &world.app_namespace, 5, "kubectl-edit");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        runs(&world, &merge, &secondary).len(),
        1,
        "checked without being asked"
    );

    // Someone presses "Re-run" on the secondary's check.
    world
        .sim
        .rerequest_check_run(REPO, first_secondary.id, "alice")
        .expect("re-run");
    let rerun = newest_run(&world, &merge, &secondary, 2, "failure").await;
    assert_ne!(rerun.id, first_secondary.id);
    assert!(
        rerun.annotations.iter().any(|a| a["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.replicas"))),
        "the new run names the field: {:?}",
        rerun.annotations
    );
    // The annotation points where the repository writes the Deployment: its file, and the line
    // its document starts on.
    let yaml = app.yaml();
    let deployment_at = yaml
        .split("\n---\n")
        .scan(1, |line, document| {
            let start = *line;
            *line += document.lines().count() + 1;
            Some((start, document))
        })
        .find(|(_, document)| document.contains("kind: Deployment"))
        .map(|(start, _)| start)
        .expect("the Deployment's document");
    let annotation = &rerun.annotations[0];
    assert_eq!(annotation["path"], "deploy/app.yaml", "{annotation}");
    assert_eq!(annotation["start_line"], deployment_at, "{annotation}");
    world.wait_for_state(number, PrState::Drifted).await;
    let old = runs(&world, &merge, &secondary)
        .into_iter()
        .find(|r| r.id == first_secondary.id)
        .expect("the run re-run stays");
    assert_eq!(old.conclusion.as_deref(), Some("success"), "left as it was");
    let monitor = world
        .monitors_of(number)
        .await
        .into_iter()
        .find(|m| m.spec.cluster == world.secondary)
        .expect("the secondary's monitor");
    assert_eq!(
        monitor
            .status
            .as_ref()
            .and_then(|s| s.answered_check_request.as_deref()),
        Some(format!("rerun-{}", first_secondary.id).as_str()),
        "the check answered the re-run"
    );
    assert_eq!(
        runs(&world, &merge, &primary).len(),
        1,
        "the other cluster's run is left alone"
    );

    // A re-run whose verdict has not changed still gets its new run.
    world
        .sim
        .rerequest_check_run(REPO, first_primary.id, "alice")
        .expect("re-run");
    let again = newest_run(&world, &merge, &primary, 2, "success").await;
    assert_ne!(again.id, first_primary.id);
    assert_eq!(
        runs(&world, &merge, &secondary).len(),
        2,
        "the secondary's runs are left alone"
    );
}
