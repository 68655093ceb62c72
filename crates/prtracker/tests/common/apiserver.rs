//! What the test apiservers and the operator's process say of their cost: requests counted by
//! each apiserver itself (`apiserver_request_total`), and resident memory.

use std::collections::BTreeMap;

use prtracker_testenv::shared;

use super::world::CLUSTERS;

/// Requests by verb (GET, LIST, PATCH, WATCH, …).
pub type ByVerb = BTreeMap<String, f64>;

/// `apiserver_request_total` on `cluster` for `resources`, by verb.
pub async fn requests_by_verb(cluster: &str, resources: &[&str]) -> ByVerb {
    let client = shared().cluster(cluster).client().expect("client");
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("a request");
    let text = client
        .request_text(request)
        .await
        .expect("the apiserver's metrics");
    let mut by_verb = ByVerb::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        let label = |name: &str| {
            let start = line.find(&format!("{name}=\""))? + name.len() + 2;
            let end = line[start..].find('"')? + start;
            Some(line[start..end].to_owned())
        };
        if !label("resource").is_some_and(|r| resources.contains(&r.as_str())) {
            continue;
        }
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *by_verb
            .entry(label("verb").unwrap_or_default())
            .or_default() += value;
    }
    by_verb
}

/// [`requests_by_verb`] over both clusters.
pub async fn requests_everywhere(resources: &[&str]) -> ByVerb {
    let mut all = ByVerb::new();
    for cluster in CLUSTERS {
        for (verb, n) in requests_by_verb(cluster, resources).await {
            *all.entry(verb).or_default() += n;
        }
    }
    all
}

/// What was counted between `before` and `after`, verbs with none left out.
pub fn since(before: &ByVerb, after: &ByVerb) -> ByVerb {
    after
        .iter()
        .map(|(verb, n)| (verb.clone(), n - before.get(verb).copied().unwrap_or(0.0)))
        .filter(|(_, n)| *n > 0.0)
        .collect()
}

/// All but the watches.
pub fn other_than_watches(counted: &ByVerb) -> f64 {
    counted
        .iter()
        .filter(|(verb, _)| verb.as_str() != "WATCH")
        .map(|(_, n)| n)
        .sum()
}

/// The resident memory of process `pid`, in KiB (0 when it cannot be read).
pub fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
