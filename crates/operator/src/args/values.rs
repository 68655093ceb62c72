//! Flag values read from text: Go durations and byte sizes.

use std::time::Duration;

use anyhow::bail;
use prtracker_sync::Environments;

/// `--deployment-environment CLUSTER=ENVIRONMENT` pairs and `--production-environment` names.
pub fn environments(pairs: &[String], production: &[String]) -> anyhow::Result<Environments> {
    let mut environments = Environments::default();
    for pair in pairs {
        let Some((cluster, environment)) = pair.split_once('=') else {
            bail!("--deployment-environment {pair:?}: expected CLUSTER=ENVIRONMENT");
        };
        let (cluster, environment) = (cluster.trim(), environment.trim());
        if !prtracker_api::is_cluster_name(cluster) || environment.is_empty() {
            bail!(
                "--deployment-environment {pair:?}: a cluster name (a DNS label) and a non-empty environment"
            );
        }
        environments
            .names
            .insert(cluster.to_owned(), environment.to_owned());
    }
    environments.production = production
        .iter()
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect();
    Ok(environments)
}

/// `--target CLUSTER=PATH` pairs: each cluster once, each path relative and without `..`.
pub fn targets(pairs: &[String]) -> anyhow::Result<Vec<prtracker_api::Target>> {
    let mut targets: Vec<prtracker_api::Target> = Vec::new();
    for pair in pairs {
        let Some((cluster, path)) = pair.split_once('=') else {
            bail!("--target {pair:?}: expected CLUSTER=PATH");
        };
        // A chart's values files follow its path: CLUSTER=PATH:VALUES[:VALUES...].
        let mut parts = path.split(':').map(str::trim);
        let (cluster, path) = (cluster.trim(), parts.next().unwrap_or_default());
        let values: Vec<String> = parts.map(str::to_owned).collect();
        if !prtracker_api::is_cluster_name(cluster) {
            bail!("--target {pair:?}: {cluster:?} is not a cluster name (a DNS label)");
        }
        if values
            .iter()
            .any(|v| v.is_empty() || v.starts_with('/') || v.split('/').any(|s| s == ".."))
        {
            bail!(
                "--target {pair:?}: values files must be relative to the repository root, without '..'"
            );
        }
        if path.is_empty() || path.starts_with('/') || path.split('/').any(|s| s == "..") {
            bail!(
                "--target {pair:?}: the path must be relative to the repository root, without '..'"
            );
        }
        if targets.iter().any(|t| t.cluster == cluster) {
            bail!("--target {pair:?}: cluster {cluster} has a target already");
        }
        targets.push(prtracker_api::Target {
            cluster: cluster.to_owned(),
            path: path.to_owned(),
            values,
        });
    }
    Ok(targets)
}

/// `kustomize`, else `kubectl`, as found on `PATH`.
pub fn kustomize_on_path() -> Option<std::path::PathBuf> {
    on_path(&["kustomize", "kubectl"])
}

/// The first of `names` found on `PATH`.
pub fn on_path(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// A Go-style duration (`90s`, `5m`, `1h30m`), as the CRD's intervals are written.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    prtracker_api::interval::parse_go_duration(text.trim())
        .ok_or_else(|| format!("{text:?} is not a duration such as 30s, 5m or 1h"))
}

/// A byte count for a flag: digits, optionally followed by Ki, Mi or Gi (the Kubernetes
/// quantities a Helm value is usually written in).
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit {
        "" => 0,
        "Ki" => 10,
        "Mi" => 20,
        "Gi" => 30,
        _ => {
            return Err(format!(
                "{text:?} is not a size such as 1048576, 512Ki, 32Mi or 1Gi"
            ));
        }
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1usize << shift))
        .ok_or_else(|| format!("{text:?} is not a size such as 1048576, 512Ki, 32Mi or 1Gi"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_pair_each_cluster_with_a_path_once() {
        let pairs = [
            "staging=deploy/overlays/staging",
            " prod = deploy/overlays/prod",
        ]
        .map(String::from);
        let parsed = targets(&pairs).expect("targets");
        assert_eq!(
            parsed
                .iter()
                .map(|t| (t.cluster.as_str(), t.path.as_str()))
                .collect::<Vec<_>>(),
            [
                ("staging", "deploy/overlays/staging"),
                ("prod", "deploy/overlays/prod")
            ]
        );
        let chart = targets(&[
            "prod=deploy/chart:deploy/values/prod.yaml:deploy/values/eu.yaml".to_owned(),
        ])
        .expect("a chart target");
        assert_eq!(chart[0].path, "deploy/chart");
        assert_eq!(
            chart[0].values,
            ["deploy/values/prod.yaml", "deploy/values/eu.yaml"]
        );
        for bad in [
            "prod=deploy/chart:../x.yaml",
            "prod=deploy/chart:",
            "prod",
            "Prod=deploy",
            "prod=",
            "prod=/etc",
            "prod=deploy/../..",
            "a=x,a=y",
        ] {
            let pairs: Vec<String> = bad.split(',').map(String::from).collect();
            assert!(targets(&pairs).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn environments_map_clusters_and_refuse_what_is_not_a_pair() {
        let env = environments(
            &["prod-eu=production".into(), " staging = staging-eu ".into()],
            &["production".into()],
        )
        .expect("valid");
        assert_eq!(env.of("prod-eu"), "production");
        assert_eq!(env.of("staging"), "staging-eu");
        assert_eq!(env.of("other"), "other");
        assert!(env.production.contains("production"));
        for bad in ["prod", "=production", "prod=", "Prod_EU=x"] {
            assert!(environments(&[bad.into()], &[]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_read_as_kubernetes_quantities() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("512Ki"), Ok(512 << 10));
        assert_eq!(parse_bytes(" 32Mi "), Ok(32 << 20));
        assert_eq!(parse_bytes("1Gi"), Ok(1 << 30));
        for bad in [
            "",
            "Mi",
            "32MB",
            "32 Mi",
            "-1",
            "99999999999999999999Gi",
            "1.5Mi",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
