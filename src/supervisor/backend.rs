//! The two ways to run a cell's bundle: the built-in libcontainer engine
//! (`stub`, in process) or an external OCI runtime's CLI (`oci`: runc,
//! crun, or cellos-runtime itself).

use super::config::{Backend, Config};
use super::{Refusal, exit};
use crate::engine::{CreateOptions, Runtime};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Launch<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
}

pub trait CellBackend {
    /// Create the container; returns the init's host pid, which must be
    /// our child (or reparented to us) so that we can wait for it.
    fn create(&self, l: &Launch) -> Result<i32, String>;
    fn start(&self, id: &str) -> Result<(), String>;
    /// Signal every process of the container; errors are ignored (it may be gone).
    fn kill_all(&self, id: &str, sig: i32);
    fn delete(&self, id: &str) -> Result<(), String>;
}

pub fn for_config(cfg: &Config) -> Result<Box<dyn CellBackend>, Refusal> {
    match &cfg.backend {
        Backend::Stub => {
            let rt = Runtime::new(&cfg.runtime_root, cfg.systemd_cgroup)
                .map_err(|e| Refusal::new(exit::REFUSED, e.to_string()))?;
            Ok(Box::new(Stub { rt }))
        }
        Backend::Oci(bin) => {
            // runc's init is orphaned when `runc create` exits: as a subreaper
            // we inherit it and can wait for it like our own child.
            // SAFETY: prctl with constant arguments.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
            Ok(Box::new(Oci {
                bin: bin.clone(),
                root: cfg.state_dir.join("oci-root"),
            }))
        }
    }
}

struct Stub {
    rt: Runtime,
}

impl CellBackend for Stub {
    fn create(&self, l: &Launch) -> Result<i32, String> {
        let opts = CreateOptions {
            id: l.id.to_string(),
            bundle: l.bundle.to_path_buf(),
            detach: false,
            ..Default::default()
        };
        let c = self.rt.create(&opts).map_err(|e| e.to_string())?;
        c.pid()
            .ok_or_else(|| format!("container {:?} has no init pid", l.id))
    }

    fn start(&self, id: &str) -> Result<(), String> {
        let mut c = self.rt.load(id).map_err(|e| e.to_string())?;
        c.start().map_err(|e| e.to_string())
    }

    fn kill_all(&self, id: &str, sig: i32) {
        if let Ok(mut c) = self.rt.load(id) {
            let _ = c.kill(sig, true);
        }
    }

    fn delete(&self, id: &str) -> Result<(), String> {
        match self.rt.load(id) {
            Ok(mut c) => c.delete(true).map_err(|e| e.to_string()),
            Err(crate::error::Error::NotExist(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

struct Oci {
    bin: PathBuf,
    root: PathBuf,
}

impl Oci {
    /// Run the runtime with runc's global flags; on failure return the last
    /// error message from its JSON log (or its exit status).
    fn call(&self, args: &[&str], log: Option<&Path>, quiet: bool) -> Result<(), String> {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(&self.root);
        if let Some(log) = log {
            cmd.arg("--log").arg(log).arg("--log-format").arg("json");
        }
        cmd.args(args).stdin(Stdio::null());
        if quiet {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let status = cmd
            .status()
            .map_err(|e| format!("run {}: {e}", self.bin.display()))?;
        if status.success() {
            return Ok(());
        }
        let msg = log
            .and_then(|l| std::fs::read_to_string(l).ok())
            .and_then(|text| {
                text.lines()
                    .rev()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .find(|v| v["level"] == "error")
                    .and_then(|v| v["msg"].as_str().map(String::from))
            })
            .unwrap_or_else(|| format!("{} {} failed: {status}", self.bin.display(), args[0]));
        Err(msg)
    }
}

impl CellBackend for Oci {
    fn create(&self, l: &Launch) -> Result<i32, String> {
        let pid_file = l.bundle.join("init.pid");
        let log = l.bundle.join("runtime-log.json");
        let bundle = l.bundle.to_string_lossy();
        let pid_arg = pid_file.to_string_lossy();
        // The container's stdio is the runtime's, which is ours.
        let args = ["create", "--bundle", &bundle, "--pid-file", &pid_arg, l.id];
        self.call(&args, Some(&log), false)?;
        std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                format!(
                    "{}: no pid written to {}",
                    self.bin.display(),
                    pid_file.display()
                )
            })
    }

    fn start(&self, id: &str) -> Result<(), String> {
        self.call(&["start", id], None, false)
    }

    fn kill_all(&self, id: &str, sig: i32) {
        let _ = self.call(&["kill", "--all", id, &sig.to_string()], None, true);
    }

    fn delete(&self, id: &str) -> Result<(), String> {
        self.call(&["delete", "--force", id], None, true)
    }
}
