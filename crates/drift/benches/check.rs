//! One check of 500 ConfigMaps next to `kubectl diff` on the same manifests and cluster, and the
//! apiserver requests one check makes. `cargo bench -p prtracker-drift --bench check`.

use std::time::{Duration, Instant};

use prtracker_drift::{CompareOptions, Comparer, manifests::parse_file};
use prtracker_testenv::{shared, test_namespace};

const OBJECTS: usize = 500;
const RUNS: usize = 5;
const KUBECTL_RUNS: usize = 3;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn manifests() -> String {
    (0..OBJECTS)
        .map(|i| {
            format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{i}\n  labels: {{app: bench}}\ndata:\n  mode: production\n  index: \"{i}\"\n  greeting: hello\n"
            )
        })
        .collect()
}

fn kubectl(args: &[&str]) -> std::process::Output {
    shared()
        .primary()
        .kubectl()
        .args(args)
        .output()
        .expect("kubectl runs")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let client = shared().primary().client().expect("client");
    let namespace = test_namespace(&client, "bench").await.expect("namespace");
    let text = manifests();
    let dir = tempfile_dir();
    let file = dir.join("configmaps.yaml");
    std::fs::write(&file, &text).expect("manifests written");
    let file = file.display().to_string();
    let applied = kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=person",
        "-n",
        &namespace,
        "-f",
        &file,
    ]);
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let objects = parse_file("configmaps.yaml", text.as_bytes()).expect("parses");

    let (counted, requests) = shared()
        .primary()
        .counting_client()
        .expect("counting client");

    println!("drift check of {OBJECTS} ConfigMaps, in sync, against one apiserver");
    let mut medians = Vec::new();
    for (label, skip_held) in [
        ("checker (LIST, dry run only where values differ)", true),
        ("checker (LIST, a dry run for every object)", false),
    ] {
        let comparer = Comparer::new(
            counted.clone(),
            "primary",
            CompareOptions {
                default_namespace: namespace.clone(),
                skip_held,
                ..CompareOptions::default()
            },
        );
        let mut times = Vec::new();
        let mut per_check = 0;
        for _ in 0..RUNS {
            let before = requests.requests();
            let start = Instant::now();
            let report = comparer.compare(&objects).await.expect("checked");
            times.push(start.elapsed());
            per_check = requests.requests() - before;
            assert!(report.in_sync(), "{report:?}");
            assert_eq!(report.checked as usize, OBJECTS);
        }
        let m = median(times);
        println!("  {label}: median {m:?} of {RUNS}, {per_check} apiserver requests per check");
        medians.push(m);
    }

    let mut times = Vec::new();
    for _ in 0..KUBECTL_RUNS {
        let start = Instant::now();
        let output = kubectl(&["diff", "-n", &namespace, "-f", &file]);
        times.push(start.elapsed());
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let kubectl_median = median(times);
    println!("  kubectl diff: median {kubectl_median:?} of {KUBECTL_RUNS}");
    for m in medians {
        println!(
            "  ratio kubectl diff / checker: {:.1}x",
            kubectl_median.as_secs_f64() / m.as_secs_f64().max(1e-9)
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("prtracker-drift-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
