use super::*;
use crate::verdict::DriftPhase::{Drifted, InSync, Pending};

const OPEN: PrFacts = PrFacts::Open { draft: false };
const MERGED: PrFacts = PrFacts::Merged;

struct Case {
    labels: Vec<&'static str>,
    facts: PrFacts,
    record: Record,
    clusters: Vec<String>,
    monitors: Vec<MonitorSeen>,
    prefix: LabelPrefix,
}

fn case(labels: &[&'static str], facts: PrFacts, state: Option<PrState>) -> Case {
    Case {
        labels: labels.to_vec(),
        facts,
        record: Record {
            state,
            verdict: None,
        },
        clusters: Vec::new(),
        monitors: Vec::new(),
        prefix: LabelPrefix::default(),
    }
}

impl Case {
    fn clusters(mut self, clusters: &[&str]) -> Self {
        self.clusters = clusters.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    fn verdict(mut self, verdict: DriftPhase) -> Self {
        self.record.verdict = Some(verdict);
        self
    }

    fn monitor(mut self, cluster: &str, phase: Option<DriftPhase>) -> Self {
        self.monitors.push(MonitorSeen {
            cluster: cluster.to_owned(),
            up_to_date: true,
            phase,
            drifted_for: None,
        });
        self
    }

    fn outdated_monitor(mut self, cluster: &str, phase: Option<DriftPhase>) -> Self {
        self.monitors.push(MonitorSeen {
            cluster: cluster.to_owned(),
            up_to_date: false,
            phase,
            drifted_for: None,
        });
        self
    }

    fn plan_with(&self, make: impl Fn(&Observation<'_>) -> Plan) -> Plan {
        make(&Observation {
            labels: &self.labels,
            facts: self.facts,
            merge_commit_known: self.facts.is_merged(),
            record: self.record,
            clusters: &self.clusters,
            monitors: &self.monitors,
            prefix: &self.prefix,
            settle: std::time::Duration::ZERO,
            last_added: None,
            left: &[],
        })
    }

    fn reconcile(&self) -> Plan {
        self.plan_with(Plan::reconcile)
    }
}

fn strings(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|l| (*l).to_owned()).collect()
}

#[test]
fn an_unchanged_pr_plans_nothing() {
    let plan = case(&["state/open", "bug"], OPEN, Some(PrState::Open)).reconcile();
    assert_eq!(plan.target, PrState::Open);
    assert_eq!(plan.cause, Cause::GitHubLabel);
    assert!(!plan.changes_labels() && !plan.changes_state());
    assert!(plan.after.is_clean());
    assert!(plan.monitors.as_ref().is_some_and(MonitorPlan::is_empty));
}

#[test]
fn github_wins_and_the_losing_label_goes() {
    let plan = case(&["state/open", "state/approved"], OPEN, Some(PrState::Open)).reconcile();
    assert_eq!(
        (plan.target, plan.cause),
        (PrState::Approved, Cause::GitHubLabel)
    );
    assert_eq!(plan.labels.add, Vec::<String>::new());
    assert_eq!(plan.labels.remove, strings(&["state/open"]));
    assert!(plan.after.is_clean());
    assert_eq!(plan.initial, PrState::Open);
}

#[test]
fn a_missing_label_is_recovered_from_the_record() {
    let plan = case(&["bug"], OPEN, Some(PrState::Approved)).reconcile();
    assert_eq!(
        (plan.target, plan.cause),
        (PrState::Approved, Cause::Recovered)
    );
    assert_eq!(plan.labels.add, strings(&["state/approved"]));
    assert!(plan.labels.remove.is_empty());
}

#[test]
fn a_record_the_facts_contradict_is_not_recovered() {
    let plan = case(&[], MERGED, Some(PrState::Approved)).reconcile();
    assert_eq!((plan.target, plan.cause), (PrState::Merged, Cause::Facts));
    assert_eq!(plan.labels.add, strings(&["state/merged"]));
}

#[test]
fn facts_that_moved_replace_a_contradicted_label() {
    let plan = case(&["state/approved"], MERGED, Some(PrState::Approved)).reconcile();
    assert_eq!((plan.target, plan.cause), (PrState::Merged, Cause::Facts));
    assert_eq!(plan.labels.add, strings(&["state/merged"]));
    assert_eq!(plan.labels.remove, strings(&["state/approved"]));
}

#[test]
fn every_cluster_in_sync_deploys_in_the_same_plan() {
    let plan = case(&["state/merged"], MERGED, Some(PrState::Merged))
        .clusters(&["a", "b"])
        .monitor("a", Some(InSync))
        .monitor("b", Some(InSync))
        .reconcile();
    assert_eq!(
        (plan.target, plan.cause),
        (PrState::Deployed, Cause::Verdict(InSync))
    );
    assert_eq!(plan.verdict, Some(InSync));
    assert_eq!(plan.labels.add, strings(&["state/deployed"]));
    assert_eq!(plan.labels.remove, strings(&["state/merged"]));
    assert!(plan.monitors.as_ref().is_some_and(MonitorPlan::is_empty));
}

#[test]
fn one_cluster_not_checked_yet_decides_nothing() {
    let plan = case(&["state/merged"], MERGED, Some(PrState::Merged))
        .clusters(&["a", "b"])
        .monitor("a", Some(InSync))
        .monitor("b", Some(Pending))
        .reconcile();
    assert_eq!(plan.target, PrState::Merged);
    assert_eq!(plan.verdict, None);
    assert!(!plan.changes_labels());
}

#[test]
fn a_persons_label_stands_while_the_verdict_does_not_change() {
    let plan = case(&["state/merged"], MERGED, Some(PrState::Deployed))
        .verdict(InSync)
        .clusters(&["a"])
        .monitor("a", Some(InSync))
        .reconcile();
    assert_eq!(
        (plan.target, plan.cause),
        (PrState::Merged, Cause::GitHubLabel)
    );
    assert_eq!(plan.verdict, Some(InSync));
    assert!(!plan.changes_labels());
}

#[test]
fn drift_after_deploy_moves_to_drifted_and_back() {
    let drifted = case(&["state/deployed"], MERGED, Some(PrState::Deployed))
        .verdict(InSync)
        .clusters(&["a", "b"])
        .monitor("a", Some(InSync))
        .monitor("b", Some(Drifted))
        .reconcile();
    assert_eq!(
        (drifted.target, drifted.verdict),
        (PrState::Drifted, Some(Drifted))
    );
    let repaired = case(&["state/drifted"], MERGED, Some(PrState::Drifted))
        .verdict(Drifted)
        .clusters(&["a", "b"])
        .monitor("a", Some(InSync))
        .monitor("b", Some(InSync))
        .reconcile();
    assert_eq!(
        (repaired.target, repaired.verdict),
        (PrState::Deployed, Some(InSync))
    );
}

#[test]
fn a_merged_pr_gets_a_monitor_per_cluster_and_loses_those_removed() {
    let plan = case(&["state/merged"], MERGED, Some(PrState::Merged))
        .clusters(&["a", "b"])
        .monitor("a", None)
        .monitor("gone", Some(InSync))
        .reconcile();
    let monitors = plan.monitors.expect("a reconcile plans monitors");
    assert_eq!(monitors.wanted, strings(&["a", "b"]));
    assert_eq!(monitors.apply, strings(&["b"]));
    assert_eq!(monitors.retire, strings(&["gone"]));
}

#[test]
fn an_open_pr_needs_no_monitor() {
    let plan = case(&["state/approved"], OPEN, Some(PrState::Approved))
        .clusters(&["a"])
        .reconcile();
    let monitors = plan.monitors.expect("a reconcile plans monitors");
    assert!(monitors.wanted.is_empty() && monitors.is_empty());
}

#[test]
fn an_outdated_monitor_is_applied_again_and_its_phase_does_not_count() {
    let plan = case(&["state/merged"], MERGED, Some(PrState::Merged))
        .clusters(&["a"])
        .outdated_monitor("a", Some(InSync))
        .reconcile();
    assert_eq!(plan.monitors.map(|m| m.apply), Some(strings(&["a"])));
    assert_eq!(plan.target, PrState::Merged);
    assert_eq!(plan.verdict, None);
}

#[test]
fn following_github_writes_no_label_and_says_what_is_wrong() {
    let plan = case(&["bug"], OPEN, Some(PrState::Approved)).plan_with(Plan::follow_github);
    assert_eq!(plan.target, PrState::Open);
    assert!(!plan.changes_labels());
    let [synced, consistent, ready] = plan.conditions();
    assert!(synced.holds);
    assert_eq!(
        (consistent.holds, consistent.reason),
        (false, "MissingStateLabel")
    );
    assert!(!ready.holds);
}

#[test]
fn pushing_the_record_is_refused_when_the_facts_contradict_it() {
    let plan = case(&["state/open"], OPEN, Some(PrState::Approved))
        .plan_with(|o| Plan::push_recorded(o).expect("applicable"));
    assert_eq!(
        (plan.target, plan.cause),
        (PrState::Approved, Cause::Recorded)
    );
    assert_eq!(plan.labels.remove, strings(&["state/open"]));
    let refused = case(&["state/merged"], MERGED, Some(PrState::Approved));
    let error = Plan::push_recorded(&Observation {
        labels: &refused.labels,
        facts: refused.facts,
        merge_commit_known: true,
        record: refused.record,
        clusters: &[],
        monitors: &[],
        prefix: &refused.prefix,
        settle: std::time::Duration::ZERO,
        last_added: None,
        left: &[],
    });
    assert_eq!(
        error,
        Err(NotApplicable {
            state: Some(PrState::Approved),
            facts: MERGED
        })
    );
}

#[test]
fn ensuring_consistency_leaves_monitors_and_verdicts_alone() {
    let plan = case(&["state/merged"], MERGED, Some(PrState::Merged))
        .clusters(&["a"])
        .monitor("a", Some(InSync))
        .plan_with(Plan::ensure_consistency);
    assert_eq!(plan.target, PrState::Merged);
    assert_eq!(plan.verdict, None);
    assert_eq!(plan.monitors, None, "monitors are the reconcile's business");
}

#[test]
fn a_drift_within_the_settle_window_moves_nothing_yet_and_says_when_to_look_again() {
    let mut case = case(&["state/deployed"], MERGED, Some(PrState::Deployed))
        .verdict(InSync)
        .clusters(&["a"]);
    case.monitors.push(MonitorSeen {
        cluster: "a".into(),
        up_to_date: true,
        phase: Some(Drifted),
        drifted_for: Some(std::time::Duration::from_secs(30)),
    });
    let plan = case.plan_with(|o| {
        Plan::reconcile(&Observation {
            settle: std::time::Duration::from_secs(120),
            ..*o
        })
    });
    assert_eq!(plan.target, PrState::Deployed);
    assert_eq!(plan.review_after, Some(std::time::Duration::from_secs(90)));
    let settled = case.plan_with(|o| {
        Plan::reconcile(&Observation {
            settle: std::time::Duration::from_secs(20),
            ..*o
        })
    });
    assert_eq!(settled.target, PrState::Drifted);
    assert_eq!(settled.review_after, None);
}

#[test]
fn someone_moving_the_pr_is_followed_not_undone() {
    // Caught between two labels while a person moves the PR back from approved to open: the label
    // they added last wins, and only the other is removed.
    let moving = case(
        &["state/approved", "state/open"],
        OPEN,
        Some(PrState::Approved),
    );
    let plan = moving.plan_with(|o| {
        Plan::reconcile(&Observation {
            last_added: Some("state/open"),
            left: &[],
            ..*o
        })
    });
    assert_eq!(
        (plan.target, plan.cause),
        (PrState::Open, Cause::GitHubLabel)
    );
    assert_eq!(plan.labels.remove, strings(&["state/approved"]));
    assert!(plan.labels.add.is_empty());
    // Without the webhook's word, rule 4 decides.
    assert_eq!(moving.reconcile().target, PrState::Approved);

    // Left with no state label (their last change and ours crossed): what they added last goes
    // back, not the state the tracker recorded before their change.
    let none = case(&["bug"], OPEN, Some(PrState::Approved));
    let plan = none.plan_with(|o| {
        Plan::reconcile(&Observation {
            last_added: Some("state/open"),
            left: &[],
            ..*o
        })
    });
    assert_eq!((plan.target, plan.cause), (PrState::Open, Cause::Recovered));
    assert_eq!(plan.labels.add, strings(&["state/open"]));
    assert_eq!(
        none.reconcile().target,
        PrState::Approved,
        "no word: the record"
    );
    // A last label the facts no longer allow is passed over.
    let merged = case(&["bug"], MERGED, Some(PrState::Deployed));
    let plan = merged.plan_with(|o| {
        Plan::reconcile(&Observation {
            last_added: Some("state/approved"),
            left: &[],
            ..*o
        })
    });
    assert_eq!(plan.target, PrState::Deployed);
}

#[test]
fn a_person_half_way_through_a_swap_is_left_to_finish_it() {
    let moving = case(&["state/open", "state/approved"], OPEN, Some(PrState::Open));
    let plan = moving.plan_with(|o| {
        Plan::reconcile(&Observation {
            last_added: Some("state/approved"),
            left: &[],
            ..*o
        })
    });
    assert_eq!(plan.labels.remove, strings(&["state/open"]));
    let waiting = plan
        .clone()
        .waiting_for_the_person(std::time::Duration::from_millis(500));
    assert!(!waiting.changes_labels(), "their removal, not ours");
    assert_eq!(
        waiting.target,
        PrState::Approved,
        "the tracker follows them already"
    );
    assert_eq!(
        waiting.review_after,
        Some(std::time::Duration::from_millis(1500))
    );
    let later = plan.clone().waiting_for_the_person(PERSON_GRACE);
    assert_eq!(later, plan, "past the grace, the loser goes");
    // A label to add, or one the facts contradict, is never deferred.
    let none = case(&["bug"], OPEN, Some(PrState::Open)).reconcile();
    assert_eq!(
        none.clone()
            .waiting_for_the_person(std::time::Duration::ZERO),
        none
    );
    let contradicting = case(&["state/open", "state/merged"], MERGED, None).reconcile();
    assert_eq!(
        contradicting
            .clone()
            .waiting_for_the_person(std::time::Duration::ZERO),
        contradicting
    );
}
