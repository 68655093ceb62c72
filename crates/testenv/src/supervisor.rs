//! A watchdog that outlives the test process: it stops every process the harness started and removes
//! the control plane's directory once the harness is gone, however it went (drop, panic, exit, or
//! SIGKILL). It needs no signal handlers: it reads process ids on its stdin, a pipe only the harness
//! holds, and the kernel closes that pipe when the harness process ends.

use std::{
    io::Write,
    path::Path,
    process::{Child, ChildStdin, Command, Stdio},
};

use crate::HarnessError;

/// `+PID` registers a process, `-PID` forgets one the harness has already reaped (so a recycled pid is
/// never killed). On end of input: TERM to all, KILL to any still alive after 3 s (the data is disposable; an
/// apiserver draining its watches would take a minute), then remove the
/// directory. Ctrl-C reaches the whole process group; the watchdog ignores it and cleans up after.
const SCRIPT: &str = r#"
trap '' INT HUP TERM
root=$1
pids=" "
while IFS= read -r line; do
  case "$line" in
    +*) pids="$pids${line#+} " ;;
    -*) pids=$(printf '%s' "$pids" | sed "s/ ${line#-} / /") ;;
  esac
done
for p in $pids; do kill -TERM "$p" 2>/dev/null; done
i=0
while [ $i -lt 30 ]; do
  alive=
  for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ -z "$alive" ] && break
  sleep 0.1
  i=$((i + 1))
done
for p in $pids; do kill -KILL "$p" 2>/dev/null; done
rm -rf "$root"
"#;

pub(crate) struct Supervisor {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Supervisor {
    pub(crate) fn start(root: &Path) -> Result<Self, HarnessError> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("prtracker-testenv-supervisor")
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                what: "the supervisor shell (sh)".into(),
                source,
            })?;
        let stdin = child.stdin.take();
        Ok(Self { child, stdin })
    }

    pub(crate) fn watch(&mut self, pid: u32) {
        self.send(&format!("+{pid}"));
    }

    pub(crate) fn forget(&mut self, pid: u32) {
        self.send(&format!("-{pid}"));
    }

    fn send(&mut self, line: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            // A supervisor that died cannot clean up; the processes are still stopped by Drop.
            let _ = writeln!(stdin, "{line}").and_then(|()| stdin.flush());
        }
    }

    /// Closes the pipe and waits while the supervisor stops what is left and removes the directory.
    pub(crate) fn finish(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.finish();
    }
}
