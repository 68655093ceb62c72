//! The real `prtracker run` binary's HTTP endpoint as the internet can treat it: large bodies
//! nobody signed, slow and half-sent requests, absurd header values, and deliveries replayed with
//! ids of the sender's choosing. Each test measures what the process pays (resident memory, open
//! connections, log bytes) rather than timing it.

mod common;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use kube::Client;
use prtracker_github_sim::{Simulator, SimulatorHandle};
use prtracker_testenv::{shared, test_namespace};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use common::{KillOnDrop, free_port, operator_kubeconfig};

const SECRET: &str = "webhook secret for tests";
const MIB: u64 = 1024 * 1024;

/// One operator process, with its log file.
struct Operator {
    process: KillOnDrop,
    port: u16,
    log: PathBuf,
    _sim: SimulatorHandle,
    _dir: tempfile::TempDir,
}

impl Operator {
    /// Starts `prtracker run` with `extra` flags, tracking nothing, and waits until it serves.
    async fn start(prefix: &str, extra: &[&str]) -> Self {
        let client: Client = shared().primary().client().expect("client");
        let namespace = test_namespace(&client, prefix).await.expect("namespace");
        let sim = Simulator::start().await.expect("simulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let token = dir.path().join("token");
        let secret = dir.path().join("webhook-secret");
        std::fs::write(&token, format!("{}\n", sim.token())).expect("token file");
        std::fs::write(&secret, format!("{SECRET}\n")).expect("secret file");
        let log = dir.path().join("operator.log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_prtracker"))
            .arg("run")
            .arg(format!("--github-api-url={}", sim.api_url()))
            .arg(format!("--github-token-file={}", token.display()))
            .arg(format!("--webhook-secret-file={}", secret.display()))
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--namespace={namespace}"))
            .arg("--resync-interval=1h")
            .args(extra)
            .env("KUBECONFIG", operator_kubeconfig(dir.path()))
            .env("RUST_LOG", "info,kube_client::client::builder=off")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("prtracker runs");
        let mut operator = Self {
            process: KillOnDrop(child),
            port,
            log,
            _sim: sim,
            _dir: dir,
        };
        operator.wait_ready().await;
        operator
    }

    async fn wait_ready(&mut self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.process.0.try_wait() {
                panic!(
                    "prtracker exited during start-up: {status}\n{}",
                    self.log_text()
                );
            }
            if let Ok(response) = reqwest::get(&url).await
                && response.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "prtracker never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.process.0.id()
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn healthy(&self) -> bool {
        reqwest::get(format!("http://127.0.0.1:{}/healthz", self.port))
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// A sample of `/metrics`; 0 when absent.
    async fn metric(&self, sample: &str) -> f64 {
        common::operator_metric_at(self.port, sample).await
    }
}

/// The resident memory of process `pid`, in bytes.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmRSS in /proc status")
}

/// Samples the resident memory of `pid` every 10 ms until `stop`, keeping the highest.
fn watch_peak(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let peak = AtomicU64::new(0);
        while !stop.load(Ordering::Acquire) {
            peak.fetch_max(resident_bytes(pid), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        peak.fetch_max(resident_bytes(pid), Ordering::Relaxed);
        peak.into_inner()
    })
}

fn sign(body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends a `pull_request` delivery of `length` bytes with `signature` (or none), writing the body
/// while reading the answer, as a client that does not stop when answered would; returns the
/// status, or `None` when the connection ended without one.
async fn post_large(address: &str, signature: Option<&str>, length: usize) -> Option<u16> {
    let stream = TcpStream::connect(address).await.expect("connects");
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!(
        "POST /webhook HTTP/1.1\r\nHost: prtracker\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {}\r\nContent-Length: {length}\r\n",
        uuid_like(length)
    );
    if let Some(signature) = signature {
        head.push_str(&format!("X-Hub-Signature-256: {signature}\r\n"));
    }
    head.push_str("\r\n");
    let write = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 256 * 1024];
        let mut sent = 0;
        while sent < length {
            let n = chunk.len().min(length - sent);
            writer.write_all(&chunk[..n]).await?;
            sent += n;
        }
        writer.flush().await?;
        // Kept open until answered: dropping the write half would send FIN, and a server that
        // does not support half-closed connections (hyper's default, and GitHub never half-closes)
        // drops the request.
        std::future::pending::<std::io::Result<()>>().await
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    let status = loop {
        match tokio::time::timeout(Duration::from_secs(60), reader.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break None,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buffer[..n]);
                if let Some(line_end) = answer.windows(2).position(|w| w == b"\r\n") {
                    let line = String::from_utf8_lossy(&answer[..line_end]).into_owned();
                    break line.split(' ').nth(1).and_then(|code| code.parse().ok());
                }
            }
        }
    };
    write.abort();
    status
}

fn uuid_like(seed: usize) -> String {
    format!("00000000-0000-4000-8000-{:012x}", seed % 0xffff_ffff_ffff)
}

#[tokio::test]
async fn sixty_four_large_unsigned_bodies_at_once_cost_little_memory_and_are_refused() {
    let operator = Operator::start("largebodies", &[]).await;
    let address = operator.address();
    // The allocator's first use of a connection's buffers is not what this test measures.
    for _ in 0..4 {
        post_large(&address, None, 1024).await;
    }
    let before = resident_bytes(operator.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let peak = watch_peak(operator.pid(), stop.clone());

    // Half send no signature, half a forged one: the first are refused on their headers, the
    // second must be read to be refused, within the budget of bodies in flight.
    let forged = format!("sha256={}", "0".repeat(64));
    let length = 24 * MIB as usize;
    let senders: Vec<_> = (0..64)
        .map(|n| {
            let (address, forged) = (address.clone(), forged.clone());
            tokio::spawn(async move {
                let signature = (n % 2 == 1).then_some(forged.as_str());
                post_large(&address, signature, length + n).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for sender in senders {
        statuses.push(sender.await.expect("sender"));
    }
    stop.store(true, Ordering::Release);
    let peak = peak.await.expect("watcher");

    let grew = peak.saturating_sub(before);
    println!(
        "resident memory: {} MiB before, {} MiB at the peak (+{} MiB); statuses {statuses:?}",
        before / MIB,
        peak / MIB,
        grew / MIB
    );
    assert!(
        grew < 64 * MIB,
        "64 unsigned 24 MB bodies raised the resident memory by {} MiB (limit 64)",
        grew / MIB
    );
    for (n, status) in statuses.iter().enumerate() {
        assert!(
            matches!(status, Some(401 | 503)),
            "request {n} got {status:?}, expected 401 or 503"
        );
    }
    assert_eq!(
        operator
            .metric("prtracker_webhook_deliveries_total{result=\"accepted\"}")
            .await,
        0.0
    );
    assert!(operator.healthy().await, "the operator still answers");
}

#[tokio::test]
async fn a_thousand_half_sent_requests_are_closed_within_the_header_timeout() {
    let operator = Operator::start("halfsent", &["--webhook-header-timeout=2s"]).await;
    let address = operator.address();
    let started = Instant::now();
    let mut connections = Vec::new();
    for n in 0..1000 {
        let mut stream = TcpStream::connect(&address).await.expect("connects");
        let partial =
            format!("POST /webhook HTTP/1.1\r\nHost: prtracker\r\nX-GitHub-Delivery: {n}");
        stream
            .write_all(partial.as_bytes())
            .await
            .expect("a partial request is written");
        connections.push(stream);
    }
    let opened = started.elapsed();
    // Each connection is read until the server closes it; none may outlive the timeout by much.
    let limit = Duration::from_secs(2) + opened + Duration::from_secs(3);
    let closers: Vec<_> = connections
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut buffer = [0u8; 512];
                loop {
                    match tokio::time::timeout(limit, stream.read(&mut buffer)).await {
                        Err(_) => return None,
                        Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
                        Ok(Ok(_)) => continue,
                    }
                }
            })
        })
        .collect();
    let mut closed_after = Vec::new();
    for closer in closers {
        closed_after.push(closer.await.expect("closer"));
    }
    let still_open = closed_after.iter().filter(|c| c.is_none()).count();
    let last = closed_after.iter().flatten().max().copied();
    println!("opened 1000 in {opened:?}; the last closed after {last:?}; {still_open} still open");
    assert_eq!(
        still_open, 0,
        "{still_open} half-sent requests were held open past {limit:?}"
    );
    assert!(operator.healthy().await, "the operator still answers");
    // The probe's own connection closes a moment after its answer: wait for the server to see it.
    common::eventually(
        "only the scrape's own connection open",
        Duration::from_secs(5),
        || async { (operator.metric("prtracker_http_connections").await == 1.0).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn a_64_kb_delivery_id_is_logged_in_at_most_200_bytes() {
    let operator = Operator::start("longid", &[]).await;
    let id = "q".repeat(65_536);
    let status = reqwest::Client::new()
        .post(format!("http://{}/webhook", operator.address()))
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", &id)
        .body("{}")
        .send()
        .await
        .expect("answered")
        .status();
    assert_eq!(status.as_u16(), 401, "unsigned");
    let line = common::eventually("the refusal in the log", Duration::from_secs(10), || {
        let log = operator.log_text();
        async move {
            log.lines()
                .find(|l| l.contains("no X-Hub-Signature-256"))
                .map(str::to_owned)
        }
    })
    .await;
    let longest_run = line
        .split(|c| c != 'q')
        .map(str::len)
        .max()
        .unwrap_or_default();
    println!("{} bytes: {line}", line.len());
    assert!(line.contains("qqqq"), "the id is logged, bounded: {line}");
    let logged_id = line
        .split_whitespace()
        .find(|w| w.contains("qqqq"))
        .unwrap_or_default();
    assert!(
        logged_id.len() <= 200,
        "the id took {} bytes of the log",
        logged_id.len()
    );
    assert!(longest_run <= 72, "the id's run of q: {longest_run}");
    let log_bytes = operator.log_text().len();
    assert!(log_bytes < 64 * 1024, "the whole log is {log_bytes} bytes");
}

#[tokio::test]
async fn ten_thousand_deliveries_with_long_ids_keep_the_dedup_memory_bounded() {
    let operator = Operator::start("dedupbytes", &[]).await;
    let url = format!("http://{}/webhook", operator.address());
    let body = r#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let signature = sign(body.as_bytes());
    let client = reqwest::Client::new();
    let send = |n: usize| {
        let (client, url, signature) = (client.clone(), url.clone(), signature.clone());
        async move {
            let id = format!("{n}-{}", "i".repeat(65_536));
            client
                .post(&url)
                .header("X-GitHub-Event", "ping")
                .header("X-GitHub-Delivery", id)
                .header("X-Hub-Signature-256", signature)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .expect("answered")
                .status()
                .as_u16()
        }
    };
    for n in 0..200 {
        assert_eq!(send(n).await, 200, "warm-up ping {n}");
    }
    let before = resident_bytes(operator.pid());
    let mut pings = 0u32;
    let mut n = 200;
    while n < 10_200 {
        let batch: Vec<_> = (n..n + 16).map(|m| tokio::spawn(send(m))).collect();
        for ping in batch {
            if ping.await.expect("sender") == 200 {
                pings += 1;
            }
        }
        n += 16;
    }
    let after = resident_bytes(operator.pid());
    println!(
        "{pings} pings with 64 KB ids: resident memory {} MiB before, {} MiB after",
        before / MIB,
        after / MIB
    );
    assert_eq!(pings, 10_000, "every ping was accepted once");
    // Kept whole, the ids alone would take 640 MiB; bounded, 10,000 × 72 bytes.
    assert!(
        after.saturating_sub(before) < 16 * MIB,
        "the dedup memory grew by {} MiB",
        after.saturating_sub(before) / MIB
    );
    // A replay of one of them is still known as a duplicate.
    let replay = client
        .post(&url)
        .header("X-GitHub-Event", "ping")
        .header("X-GitHub-Delivery", format!("10199-{}", "i".repeat(65_536)))
        .header("X-Hub-Signature-256", sign(body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("answered");
    let text = replay.text().await.expect("body");
    assert!(text.contains("duplicate"), "{text}");
}
