//! The two ways to run a cell's bundle: the built-in libcontainer engine
//! (`stub`, in process) or an external OCI runtime's CLI (`oci`: runc,
//! crun, or cellos-runtime itself).

use super::config::{Backend, Config};
use super::{Refusal, exit};
use crate::error::{ExecKind, chain_message};
use crate::runtime::engine::{CreateOptions, Runtime};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub struct Launch<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
}

/// Why a backend failed to create, start or delete a container.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The built-in engine's own error.
    #[error(transparent)]
    Engine(#[from] crate::error::Error),
    #[error("container {id:?} has no init pid")]
    NoPid { id: String },
    /// The external runtime could not be run at all.
    #[error("run {}", bin.display())]
    Spawn {
        bin: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The external runtime failed; `msg` is what it reported (see
    /// `Oci::failure`): another process's words are all there is.
    #[error("{msg}")]
    Runtime { msg: String },
}

impl BackendError {
    /// Why argv[0] was not executed, when that is what failed.
    pub fn exec_kind(&self) -> Option<ExecKind> {
        match self {
            BackendError::Engine(e) => e.exec_kind(),
            // runc, crun and cellos-runtime all word it `exec: "<argv0>": <reason>`.
            BackendError::Runtime { msg } => ExecKind::of_reported(msg),
            BackendError::NoPid { .. } | BackendError::Spawn { .. } => None,
        }
    }

    /// The one line to print: the error and its causes (crate::error's rule).
    pub fn message(&self) -> String {
        chain_message(self)
    }
}

pub trait CellBackend {
    /// Create the container; returns the init's host pid, which must be
    /// our child (or reparented to us) so that we can wait for it.
    fn create(&self, l: &Launch) -> Result<i32, BackendError>;
    fn start(&self, id: &str) -> Result<(), BackendError>;
    /// Signal every process of the container; errors are ignored (it may be gone).
    fn kill_all(&self, id: &str, sig: i32);
    fn delete(&self, id: &str) -> Result<(), BackendError>;
}

pub fn for_config(cfg: &Config) -> Result<Box<dyn CellBackend>, Refusal> {
    match &cfg.backend {
        Backend::Builtin => {
            let rt = Runtime::new(&cfg.runtime_root, cfg.systemd_cgroup)
                .map_err(|e| Refusal::new(exit::REFUSED, chain_message(&e)))?;
            Ok(Box::new(Builtin { rt }))
        }
        Backend::Oci(bin) => {
            // runc's init is orphaned when `runc create` exits: as a subreaper
            // we inherit it and can wait for it like our own child.
            // SAFETY: prctl with constant arguments.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
            Ok(Box::new(Oci {
                bin: bin.clone(),
                root: cfg.state_dir.join("oci-root"),
                relay: RefCell::new(None),
            }))
        }
    }
}

struct Builtin {
    rt: Runtime,
}

impl CellBackend for Builtin {
    fn create(&self, l: &Launch) -> Result<i32, BackendError> {
        let opts = CreateOptions {
            id: l.id.to_string(),
            bundle: l.bundle.to_path_buf(),
            detach: false,
            ..Default::default()
        };
        let c = self.rt.create(&opts)?;
        c.pid().ok_or_else(|| BackendError::NoPid {
            id: l.id.to_string(),
        })
    }

    fn start(&self, id: &str) -> Result<(), BackendError> {
        let mut c = self.rt.load(id)?;
        Ok(c.start()?)
    }

    fn kill_all(&self, id: &str, sig: i32) {
        if let Ok(mut c) = self.rt.load(id) {
            let _ = c.kill(sig, true);
        }
    }

    fn delete(&self, id: &str) -> Result<(), BackendError> {
        match self.rt.load(id) {
            Ok(mut c) => Ok(c.delete(true)?),
            Err(crate::error::Error::NotExist(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

struct Oci {
    bin: PathBuf,
    root: PathBuf,
    /// Carries the stderr that `create` hands to the container.
    relay: RefCell<Option<StderrRelay>>,
}

impl Oci {
    /// Run the runtime with runc's global flags. `stderr` is what the
    /// runtime (and, for `create`, the container) writes to; None captures
    /// it. Err only when the runtime cannot be run at all.
    fn spawn(
        &self,
        args: &[&str],
        log: Option<&Path>,
        stderr: Option<Stdio>,
    ) -> Result<std::process::Output, BackendError> {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(&self.root);
        if let Some(log) = log {
            cmd.arg("--log").arg(log).arg("--log-format").arg("json");
        }
        cmd.args(args).stdin(Stdio::null());
        match stderr {
            Some(s) => cmd.stderr(s),
            None => cmd.stdout(Stdio::null()).stderr(Stdio::piped()),
        };
        let child = cmd.spawn();
        // Our copy of a passed-in pipe must be closed before anyone waits
        // for its EOF.
        drop(cmd);
        child
            .and_then(|c| c.wait_with_output())
            .map_err(|source| BackendError::Spawn {
                bin: self.bin.clone(),
                source,
            })
    }

    /// Run a command whose output is not the container's; on failure return
    /// the best message (see [`Oci::failure`]).
    fn call(&self, args: &[&str]) -> Result<(), BackendError> {
        let out = self.spawn(args, None, None)?;
        if out.status.success() {
            return Ok(());
        }
        let printed = String::from_utf8_lossy(&out.stderr);
        Err(self.failure(args[0], None, &printed, out.status))
    }

    /// The last error in the runtime's JSON log, else the last line it
    /// printed on stderr, else its exit status.
    fn failure(
        &self,
        what: &str,
        log: Option<&Path>,
        printed: &str,
        status: std::process::ExitStatus,
    ) -> BackendError {
        let from_log = log
            .and_then(|l| std::fs::read_to_string(l).ok())
            .and_then(|text| {
                text.lines()
                    .rev()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .find(|v| v["level"] == "error")
                    .and_then(|v| v["msg"].as_str().map(String::from))
            });
        let from_stderr = || {
            printed
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
        };
        let msg = from_log
            .or_else(from_stderr)
            .unwrap_or_else(|| format!("{} {what} failed: {status}", self.bin.display()));
        BackendError::Runtime { msg }
    }
}

impl CellBackend for Oci {
    fn create(&self, l: &Launch) -> Result<i32, BackendError> {
        let pid_file = l.bundle.join("init.pid");
        let log = l.bundle.join("runtime-log.json");
        let bundle = l.bundle.to_string_lossy();
        let pid_arg = pid_file.to_string_lossy();
        let args = ["create", "--bundle", &bundle, "--pid-file", &pid_arg, l.id];
        // The container's stdio is the runtime's. Its stdout is ours; its
        // stderr goes through a relay that holds back what the runtime
        // itself prints during `create`: a failure is then reported in one
        // line of ours instead of the runtime's line plus ours.
        let (relay, stderr) = match StderrRelay::start() {
            Ok((relay, fd)) => (Some(relay), Stdio::from(fd)),
            Err(_) => (None, Stdio::inherit()),
        };
        let out = self.spawn(&args, Some(&log), Some(stderr))?;
        if !out.status.success() {
            let held = relay.map(StderrRelay::discard).unwrap_or_default();
            return Err(self.failure("create", Some(&log), &held, out.status));
        }
        if let Some(r) = relay {
            r.pass();
            *self.relay.borrow_mut() = Some(r);
        }
        std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| BackendError::Runtime {
                msg: format!(
                    "{}: no pid written to {}",
                    self.bin.display(),
                    pid_file.display()
                ),
            })
    }

    fn start(&self, id: &str) -> Result<(), BackendError> {
        self.call(&["start", id])
    }

    fn kill_all(&self, id: &str, sig: i32) {
        let _ = self.call(&["kill", "--all", id, &sig.to_string()]);
    }

    fn delete(&self, id: &str) -> Result<(), BackendError> {
        let res = self.call(&["delete", "--force", id]);
        // The container is gone: flush what it wrote on stderr before the
        // supervisor prints anything more.
        if let Some(r) = self.relay.borrow_mut().take() {
            r.finish(RELAY_DRAIN);
        }
        res
    }
}

/// How long `delete` waits for the relay to see EOF (every process of the
/// container is dead by then, so this only matters if something leaked).
const RELAY_DRAIN: Duration = Duration::from_secs(2);

enum RelayMode {
    /// Keep what arrives (the runtime is still in `create`).
    Hold(Vec<u8>),
    /// Forward to our stderr.
    Pass,
    /// Throw away.
    Discard,
}

/// A pipe whose write end becomes the runtime's (and so the container's)
/// stderr, and a thread that forwards it to ours.
struct StderrRelay {
    mode: Arc<Mutex<RelayMode>>,
    done: mpsc::Receiver<()>,
}

impl StderrRelay {
    fn start() -> std::io::Result<(StderrRelay, OwnedFd)> {
        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let mode = Arc::new(Mutex::new(RelayMode::Hold(Vec::new())));
        let (tx, done) = mpsc::channel();
        let m = Arc::clone(&mode);
        std::thread::Builder::new()
            .name("cellos-stderr".into())
            .spawn(move || {
                let mut rd = std::fs::File::from(rd);
                let mut buf = [0u8; 8192];
                loop {
                    let n = match rd.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    };
                    let mut mode = m.lock().unwrap_or_else(|p| p.into_inner());
                    match &mut *mode {
                        RelayMode::Hold(held) => {
                            // Bounded: only the runtime writes during create.
                            if held.len() < 1 << 20 {
                                held.extend_from_slice(&buf[..n]);
                            }
                        }
                        RelayMode::Pass => {
                            let _ = std::io::stderr().lock().write_all(&buf[..n]);
                        }
                        RelayMode::Discard => {}
                    }
                }
                let _ = tx.send(());
            })?;
        Ok((StderrRelay { mode, done }, wr))
    }

    fn set(&self, new: RelayMode) -> Vec<u8> {
        let mut mode = self.mode.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *mode, new) {
            RelayMode::Hold(held) => held,
            _ => Vec::new(),
        }
    }

    /// `create` succeeded: print what was held, forward from now on.
    fn pass(&self) {
        let mut mode = self.mode.lock().unwrap_or_else(|p| p.into_inner());
        if let RelayMode::Hold(held) = std::mem::replace(&mut *mode, RelayMode::Pass) {
            let _ = std::io::stderr().lock().write_all(&held);
        }
    }

    /// `create` failed: return what the runtime printed, forward nothing.
    fn discard(self) -> String {
        let held = self.set(RelayMode::Discard);
        String::from_utf8_lossy(&held).into_owned()
    }

    /// Wait up to `limit` for the writers to close the pipe.
    fn finish(self, limit: Duration) {
        let _ = self.done.recv_timeout(limit);
    }
}
