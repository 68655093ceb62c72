//! Headless Chromium, to look at a page as a person would: the DOM after the page has loaded
//! ([`dump_dom`]) and a screenshot ([`screenshot`]). Used by the simulator's own page tests and by
//! end-to-end tests that show a PR page of a real run.
//!
//! Each call starts one Chromium with a fresh profile and waits for it, at most [`TIMEOUT`]; a
//! Chromium still running then is killed with its whole process group. The calls block: from
//! async code, run them in `tokio::task::spawn_blocking`, or a server on the same runtime cannot
//! answer Chromium.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Names a Chromium binary (a path, or a name looked up on `PATH`), ahead of the usual names.
pub const ENV: &str = "PRTRACKER_CHROMIUM";

/// The names looked for on `PATH`, in order.
pub const NAMES: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// How long one Chromium may take: a cold start on a small machine takes several seconds.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// What to do when no Chromium is found.
pub const INSTALL_HINT: &str = "install it with `apt-get install -y chromium` (scripts/test.sh \
     does so when run as root), or set PRTRACKER_CHROMIUM to a Chromium binary";

/// Flags for a quiet, self-contained run as root in a container: no sandbox (it needs user
/// namespaces), no GPU, no /dev/shm (often tiny in containers), nothing fetched in the background.
const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
    "--hide-scrollbars",
    "--mute-audio",
];

/// The Chromium binary: `$PRTRACKER_CHROMIUM` when set, else the first of [`NAMES`] on `PATH`.
pub fn find() -> Result<PathBuf, String> {
    if let Some(wanted) = std::env::var_os(ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(&wanted);
        return if path.components().count() > 1 {
            executable(&path).then_some(path.clone()).ok_or_else(|| {
                format!(
                    "{ENV}={} is not an executable file; {INSTALL_HINT}",
                    path.display()
                )
            })
        } else {
            on_path(&wanted).ok_or_else(|| {
                format!(
                    "{ENV}={} is not found on PATH; {INSTALL_HINT}",
                    path.display()
                )
            })
        };
    }
    NAMES
        .iter()
        .find_map(|name| on_path(name.as_ref()))
        .ok_or_else(|| {
            format!(
                "no Chromium found (looked for {} on PATH, and {ENV}); {INSTALL_HINT}",
                NAMES.join(", ")
            )
        })
}

fn on_path(name: &std::ffi::OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| executable(candidate))
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The DOM of the page at `url` once it has loaded, serialized as HTML: what scripts (if any)
/// and the parser made of it.
pub fn dump_dom(url: &str) -> Result<String, String> {
    let out = run(&["--dump-dom".into(), url.into()])?;
    if out.trim().is_empty() {
        return Err(format!("Chromium dumped no DOM for {url}"));
    }
    Ok(out)
}

/// A PNG of the page at `url` in a `width` × `height` window, written to `path` (its folder is
/// made if missing; a file already there is replaced).
pub fn screenshot(url: &str, path: &Path, width: u32, height: u32) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    // A screenshot left from an earlier run must not pass for this one.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("removing the old {}: {e}", path.display())),
    }
    let mut shot = OsString::from("--screenshot=");
    shot.push(path);
    run(&[
        shot,
        format!("--window-size={width},{height}").into(),
        url.into(),
    ])?;
    match std::fs::metadata(path) {
        Ok(m) if m.len() > 0 => Ok(()),
        _ => Err(format!(
            "Chromium wrote no screenshot to {}",
            path.display()
        )),
    }
}

/// Runs Chromium with [`FLAGS`], a fresh profile and `args`; its standard output on success.
fn run(args: &[OsString]) -> Result<String, String> {
    let binary = find()?;
    let work = tempfile::Builder::new()
        .prefix("prtracker-chromium-")
        .tempdir()
        .map_err(|e| format!("making a Chromium profile folder: {e}"))?;
    // Files, not pipes: nothing to drain while waiting, and helpers that outlive the browser
    // cannot hold a reader open.
    let (out_path, err_path) = (work.path().join("stdout"), work.path().join("stderr"));
    let stdout = File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
    let stderr = File::create(&err_path).map_err(|e| format!("{}: {e}", err_path.display()))?;
    let mut profile = OsString::from("--user-data-dir=");
    profile.push(work.path().join("profile"));
    let mut command = Command::new(&binary);
    command
        .args(FLAGS)
        .arg(profile)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    // Its own process group, so a hung Chromium goes with its renderer and GPU processes.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    let group = child.id();
    let deadline = Instant::now() + TIMEOUT;
    let status: Option<ExitStatus> = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => {
                kill_group(group);
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    // Helpers that outlived the browser would keep the profile folder busy.
    kill_group(group);
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let tail = last_lines(&err, 15);
    match status {
        None => Err(format!(
            "Chromium ({}) did not finish within {}s and was killed; its last words:\n{tail}",
            binary.display(),
            TIMEOUT.as_secs()
        )),
        Some(s) if !s.success() => Err(format!(
            "Chromium ({}) failed ({s}); its last words:\n{tail}",
            binary.display()
        )),
        Some(_) => Ok(out),
    }
}

/// Kills the process group `group` (ours: Chromium was started as its leader) and waits, at most
/// two seconds, until it is gone. `kill(1)` rather than a system call, as this crate has no unsafe
/// code.
fn kill_group(group: u32) {
    let kill = |signal: &str| {
        Command::new("kill")
            .args([signal, "--", &format!("-{group}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !kill("-KILL") {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while kill("-0") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
