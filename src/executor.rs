//! The last step inside the container: libcontainer calls this executor right
//! before the user's program runs. It does what libcontainer's default one
//! leaves out:
//! - the exec errors are worded as runc's, since podman maps them to 126/127;
//! - the signal mask and SIGPIPE disposition of the runtime are reset (a
//!   foreground `run` blocks signals, Rust ignores SIGPIPE, and both would
//!   otherwise leak into the container's process).
//!
//! The new session keyring is joined by the runtime before it forks (see
//! engine.rs): here, after seccomp, a profile denying keyctl would stop it.

use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
use oci_spec::runtime::Spec;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Default)]
pub struct CellosExecutor;

fn args(spec: &Spec) -> Option<&Vec<String>> {
    spec.process()
        .as_ref()
        .and_then(|p| p.args().as_ref())
        .filter(|a| !a.is_empty())
}

fn path_var(spec: &Spec) -> String {
    spec.process()
        .as_ref()
        .and_then(|p| p.env().as_ref())
        .and_then(|env| env.iter().find_map(|e| e.strip_prefix("PATH=")))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .to_string()
}

/// Find argv[0] the way exec.LookPath does, with runc's error wording.
pub fn look_path(cmd: &str, path: &str) -> Result<PathBuf, String> {
    let check = |p: &Path| -> Result<(), String> {
        let meta = std::fs::metadata(p).map_err(|_| {
            format!(
                "exec: {cmd:?}: stat {}: no such file or directory",
                p.display()
            )
        })?;
        if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
            return Err(format!("exec: {cmd:?}: permission denied"));
        }
        Ok(())
    };
    if cmd.contains('/') {
        check(Path::new(cmd))?;
        return Ok(PathBuf::from(cmd));
    }
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(cmd);
        if check(&cand).is_ok() {
            return Ok(cand);
        }
    }
    Err(format!("exec: {cmd:?}: executable file not found in $PATH"))
}

impl Executor for CellosExecutor {
    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        let args = args(spec).ok_or_else(|| {
            ExecutorValidationError::ArgValidationError("args must not be empty".into())
        })?;
        look_path(&args[0], &path_var(spec))
            .map(|_| ())
            .map_err(ExecutorValidationError::ArgValidationError)
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let args = args(spec).ok_or(ExecutorError::InvalidArg)?;
        let prog = look_path(&args[0], &path_var(spec)).map_err(ExecutorError::Other)?;
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
        // SAFETY: restoring the default disposition; no handler code is involved.
        let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
        let cprog = CString::new(prog.as_os_str().as_encoded_bytes())
            .map_err(|_| ExecutorError::InvalidArg)?;
        let cargs: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
            .collect();
        let err = nix::unistd::execv(&cprog, &cargs).unwrap_err();
        Err(ExecutorError::Other(format!(
            "exec: {:?}: {}",
            args[0],
            err.desc().to_lowercase()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::look_path;

    #[test]
    fn look_path_errors_are_runc_worded() {
        let e = look_path("no-such-cmd-xyz", "/usr/bin:/bin").unwrap_err();
        assert!(e.contains("executable file not found in $PATH"), "{e}");
        let e = look_path("/no/such/file", "/bin").unwrap_err();
        assert!(e.contains("no such file or directory"), "{e}");
        let e = look_path("/etc/passwd", "/bin").unwrap_err();
        assert!(e.contains("permission denied"), "{e}");
        assert!(look_path("sh", "/usr/bin:/bin").is_ok());
    }
}
