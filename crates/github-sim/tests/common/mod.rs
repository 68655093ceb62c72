//! Test helpers: locating the GitHub fixtures, comparing JSON shapes, an HTTP client, and a
//! webhook receiver.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use prtracker_github_sim::{AppConfig, SimConfig, Simulator, SimulatorHandle};
use serde_json::Value;

pub const FIXTURES_ENV: &str = "PRTRACKER_GITHUB_FIXTURES";

/// The fixtures folder: `$PRTRACKER_GITHUB_FIXTURES`, else `<workspace>/../shared/github-fixtures`.
/// Fails (never skips) when it is absent: the test command is what decides to skip `fixture_`.
pub fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os(FIXTURES_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/github-fixtures")
        });
    assert!(
        dir.is_dir(),
        "GitHub fixtures folder {} not found; set {FIXTURES_ENV} to the github-fixtures folder",
        dir.display()
    );
    dir
}

pub fn fixture_text(name: &str) -> String {
    let p = fixtures_dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading fixture {}: {e}", p.display()))
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).unwrap_or_else(|e| panic!("parsing {name}: {e}"))
}

/// Response headers of a `*.headers.txt` fixture (lower-cased names; `#` lines skipped).
pub fn fixture_headers(name: &str) -> Vec<(String, String)> {
    fixture_text(name)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(": ").or_else(|| l.split_once(':')))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect()
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The status recorded in a headers fixture's `# response status: N` annotation.
pub fn fixture_status(name: &str) -> u16 {
    fixture_text(name)
        .lines()
        .find_map(|l| l.strip_prefix("# response status: "))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} has no response status annotation"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences in *shape* between a real GitHub body and the simulator's: every field of the
/// fixture must exist with the same JSON type, recursively (arrays by their first element).
/// Extra fields in the simulator are fine. Where the fixture has `null`, any value is accepted
/// (the field is nullable). `lenient` lists paths where the simulator may answer null or an
/// empty array although this fixture has a value (state the simulator does not model).
pub fn shape_diff(fixture: &Value, actual: &Value, lenient: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    walk(fixture, actual, "", lenient, &mut out);
    out
}

fn walk(f: &Value, a: &Value, path: &str, lenient: &[&str], out: &mut Vec<String>) {
    if f.is_null() {
        return;
    }
    let lenient_here = lenient.contains(&path);
    if a.is_null() {
        if !lenient_here {
            out.push(format!(
                "{path}: fixture has {}, simulator has null",
                kind(f)
            ));
        }
        return;
    }
    if kind(f) != kind(a) {
        out.push(format!(
            "{path}: fixture has {}, simulator has {}",
            kind(f),
            kind(a)
        ));
        return;
    }
    match (f, a) {
        (Value::Object(fo), Value::Object(ao)) => {
            for (k, fv) in fo {
                let p = format!("{path}.{k}");
                match ao.get(k) {
                    None => out.push(format!("{p}: missing in simulator")),
                    Some(av) => walk(fv, av, &p, lenient, out),
                }
            }
        }
        (Value::Array(fa), Value::Array(aa)) => {
            if let Some(f0) = fa.first() {
                match aa.first() {
                    Some(a0) => walk(f0, a0, &format!("{path}[]"), lenient, out),
                    None if lenient_here => {}
                    None => out.push(format!("{path}: fixture has items, simulator none")),
                }
            }
        }
        _ => {}
    }
}

pub fn assert_shape(name: &str, fixture: &Value, actual: &Value, lenient: &[&str]) {
    let diff = shape_diff(fixture, actual, lenient);
    assert!(
        diff.is_empty(),
        "simulator body differs in shape from {name}:\n  {}\nsimulator body: {}",
        diff.join("\n  "),
        serde_json::to_string_pretty(actual).unwrap_or_default()
    );
}

pub async fn sim() -> SimulatorHandle {
    Simulator::start().await.expect("simulator starts")
}

/// A simulator that is also a GitHub App (id 42, `prtracker`, one installation), as the check-run
/// and deployment endpoints need.
pub async fn app_sim() -> SimulatorHandle {
    Simulator::start_with(SimConfig {
        app: Some(AppConfig {
            app_id: 42,
            slug: "prtracker".into(),
            installation_id: 27_216_354,
            public_key_pem: None,
        }),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts as an App")
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Client {
    pub fn new(sim: &SimulatorHandle) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: sim.api_url(),
            token: Some(sim.token().to_string()),
        }
    }

    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("accept", "application/vnd.github+json");
        if let Some(t) = &self.token {
            r = r.header("authorization", format!("token {t}"));
        }
        r
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.req(reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET")
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &str,
    ) -> reqwest::Response {
        self.req(method, path)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }
}

/// Headers that matter, compared with a recorded response's headers.
pub fn assert_headers(name: &str, resp: &reqwest::Response) {
    let fx = fixture_headers(name);
    assert_eq!(
        resp.status().as_u16(),
        fixture_status(name),
        "{name}: status"
    );
    if let Some(ct) = header(&fx, "content-type") {
        assert_eq!(
            hdr(resp, "content-type").as_deref(),
            Some(ct),
            "{name}: content-type"
        );
    }
    for h in ["limit", "remaining", "reset", "used", "resource"] {
        let h = format!("x-ratelimit-{h}");
        assert!(hdr(resp, &h).is_some(), "{name}: {h} missing");
    }
    assert!(
        hdr(resp, "x-github-request-id").is_some(),
        "{name}: x-github-request-id missing"
    );
    if header(&fx, "location").is_some() {
        assert!(hdr(resp, "location").is_some(), "{name}: Location missing");
    }
    if let Some(tag) = header(&fx, "etag") {
        let ours = hdr(resp, "etag").unwrap_or_else(|| panic!("{name}: ETag missing"));
        // GitHub weakens the tag of compressed bodies; raw bodies keep a strong one. Compare
        // weakness where the recording shows which case applied.
        let gz = header(&fx, "content-encoding") == Some("gzip");
        let raw = header(&fx, "content-type").is_some_and(|c| c.contains(".raw"));
        if gz || raw {
            assert_eq!(
                ours.starts_with("W/"),
                tag.starts_with("W/"),
                "{name}: ETag weakness ({ours} vs {tag})"
            );
        }
    }
}

pub fn hdr(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// What a webhook receiver got: headers and raw body of each POST.
#[derive(Clone, Default)]
pub struct Received(pub Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

impl Received {
    pub fn all(&self) -> Vec<(HeaderMap, Bytes)> {
        self.0.lock().expect("lock").clone()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..500 {
            if self.all().len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.all()
    }

    /// Payloads of received `pull_request` deliveries.
    pub fn pull_request_events(&self) -> Vec<Value> {
        self.all()
            .iter()
            .filter(|(h, _)| h.get("x-github-event").is_some_and(|v| v == "pull_request"))
            .map(|(_, b)| serde_json::from_slice(b).expect("JSON payload"))
            .collect()
    }
}

/// Starts a small axum receiver answering `status`; returns its URL and what it received.
pub async fn receiver(status: u16) -> (String, Received) {
    let received = Received::default();
    let app =
        Router::new()
            .route(
                "/hook",
                post(
                    |State((r, status)): State<(Received, u16)>,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        r.0.lock().expect("lock").push((headers, body));
                        axum::http::StatusCode::from_u16(status).expect("status")
                    },
                ),
            )
            .with_state((received.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (format!("http://{addr}/hook"), received)
}
