//! One control-plane process, its output in a log file whose tail goes into any start-up error.

use std::{
    fs::OpenOptions,
    net::{Ipv4Addr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use crate::{HarnessError, supervisor::Supervisor};

pub(crate) struct ManagedProcess {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ManagedProcess {
    pub(crate) fn spawn(
        name: &str,
        mut command: Command,
        log: PathBuf,
        supervisor: &mut Supervisor,
    ) -> Result<Self, HarnessError> {
        // Appended to: a process started again (an apiserver's restart) keeps the earlier run's log.
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|source| HarnessError::Io {
                what: format!("creating {}", log.display()),
                source,
            })?;
        let err = out.try_clone().map_err(|source| HarnessError::Io {
            what: format!("opening {}", log.display()),
            source,
        })?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                what: name.to_owned(),
                source,
            })?;
        supervisor.watch(child.id());
        Ok(Self {
            name: name.to_owned(),
            child,
            log,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error if the process has exited, carrying the end of its log.
    pub(crate) fn check_alive(&mut self) -> Result<(), HarnessError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(HarnessError::Exited {
                what: self.name.clone(),
                status: status.to_string(),
                log_tail: log_tail(&self.log),
            }),
            Err(source) => Err(HarnessError::Io {
                what: format!("waiting for {}", self.name),
                source,
            }),
        }
    }

    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Kills and reaps the process, then tells the supervisor it is gone.
    pub(crate) fn stop(&mut self, supervisor: &mut Supervisor) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        supervisor.forget(self.child.id());
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

/// A loopback port nothing listens on now. Another process may take it before ours binds it; start-up
/// notices (the process exits) and tries again with fresh ports.
pub(crate) fn free_port() -> Result<u16, HarnessError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|source| HarnessError::Io {
            what: "finding a free loopback port".into(),
            source,
        })
}
